#!/usr/bin/env bash
# Prepares the optional test tiers before pytest runs (called by `make test` and `.ci/run`).
#
# - PostgreSQL tier (pytest marker `postgres`): if $REMISSION_TEST_PG_URL is set, use it.
#   Otherwise start a throwaway cluster on 127.0.0.1:$REMISSION_PG_PORT (default 55432) in
#   $REMISSION_PG_DIR (default /tmp/remission-test-pg) and write its URL to
#   tests/_artifacts/pg_url, which tests/store/conftest.py reads.
# - browser tier (marker `browser`): needs /usr/bin/chromium (Debian's `chromium` package).
# - r tier (marker `r`): needs Rscript with survival, cmprsk and KMsurv (Debian's r-base-core,
#   r-cran-survival, r-cran-cmprsk, r-cran-kmsurv; CRAN is not used).
#
# Run as root, missing packages are installed with apt-get (postgresql, chromium, R, pango for
# the board's PDF export). Not root
# and missing, the tier is skipped with a visible message; pytest then skips its tests, unless
# REMISSION_REQUIRE_TIERS=1 (CI), where those tests fail instead.
#
# Idempotent: a second run reuses the running cluster (or restarts a stopped one).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ART="$ROOT/tests/_artifacts"
PORT="${REMISSION_PG_PORT:-55432}"
PGDIR="${REMISSION_PG_DIR:-/tmp/remission-test-pg}"
DBNAME="remission_test"
mkdir -p "$ART"
rm -f "$ART/pg_url"

say() { echo "test-tiers: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

have_chromium() { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; }

R_PACKAGES=(r-base-core r-cran-survival r-cran-cmprsk r-cran-kmsurv)
have_r() {
    command -v Rscript >/dev/null 2>&1 \
        && Rscript -e 'suppressMessages({library(survival); library(cmprsk); library(KMsurv)})' >/dev/null 2>&1
}

# `scripts/test-tiers.sh stop`: stop the throwaway PostgreSQL server this script started (make test
# calls it after pytest, pass or fail, so no server is left running).
if [ "${1:-}" = stop ]; then
    if [ -z "${REMISSION_TEST_PG_URL:-}" ] && [ -s "$PGDIR/PG_VERSION" ] && bindir="$(pg_bindir)"; then
        run=()
        is_root && id postgres >/dev/null 2>&1 && run=(runuser -u postgres --)
        if "${run[@]}" "$bindir/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
            "${run[@]}" "$bindir/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null 2>&1 \
                && say "postgres tier: server stopped"
        fi
    fi
    rm -f "$ART/pg_url"
    exit 0
fi

# ---- install what is missing (root only) ------------------------------------------------------
missing=()
pg_bindir >/dev/null || [ -n "${REMISSION_TEST_PG_URL:-}" ] || missing+=(postgresql)
have_chromium || missing+=(chromium)
# weasyprint (board PDF export, optional extra) loads pango at run time
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
have_r || missing+=("${R_PACKAGES[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} with apt-get (quiet)"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >"$ART/apt.log" 2>&1; then
            tail -n 20 "$ART/apt.log" | sed 's/^/test-tiers: apt-get: /'
            say "apt-get install ${missing[*]} failed (log: tests/_artifacts/apt.log)"
        fi
    fi
fi

# ---- PostgreSQL ---------------------------------------------------------------------------------
start_pg() {
    local bindir run=()
    bindir="$(pg_bindir)" || { say "skipping postgres tier: PostgreSQL is not installed (run as root to install it, or set REMISSION_TEST_PG_URL)"; return 1; }
    if is_root; then
        id postgres >/dev/null 2>&1 || { say "skipping postgres tier: no 'postgres' user to run the server as"; return 1; }
        run=(runuser -u postgres --)
    fi
    if [ ! -s "$PGDIR/PG_VERSION" ]; then
        rm -rf "$PGDIR"
        mkdir -p "$PGDIR"
        is_root && chown postgres: "$PGDIR"
        chmod 700 "$PGDIR"
        if ! "${run[@]}" "$bindir/initdb" -D "$PGDIR" -U postgres --auth=trust -E UTF8 --no-locale \
                >"$ART/pg_initdb.log" 2>&1; then
            say "skipping postgres tier: initdb failed (see $ART/pg_initdb.log)"; return 1
        fi
    fi
    if ! "${run[@]}" "$bindir/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
        if ! "${run[@]}" "$bindir/pg_ctl" -D "$PGDIR" -w -t 60 -l "$PGDIR/server.log" \
                -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
                start >/dev/null 2>&1; then
            say "skipping postgres tier: the server did not start (see $PGDIR/server.log)"; return 1
        fi
    fi
    local psql="$bindir/psql"
    [ -x "$psql" ] || psql="$(command -v psql || true)"
    if [ -n "$psql" ]; then
        if ! "$psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
                "SELECT 1 FROM pg_database WHERE datname='$DBNAME'" 2>/dev/null | grep -q 1; then
            "$psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE $DBNAME" >/dev/null \
                || { say "skipping postgres tier: could not create database $DBNAME"; return 1; }
        fi
    fi
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DBNAME" >"$ART/pg_url"
    say "postgres tier: server on 127.0.0.1:$PORT (data $PGDIR), URL in tests/_artifacts/pg_url"
}

if [ -n "${REMISSION_TEST_PG_URL:-}" ]; then
    say "postgres tier: using \$REMISSION_TEST_PG_URL"
else
    start_pg || true
fi

# ---- Chromium ----------------------------------------------------------------------------------
status=0
if have_chromium; then
    say "browser tier: $(command -v chromium || echo /usr/bin/chromium)"
else
    say "skipping browser tier: chromium is not installed (run as root to install it with apt-get)"
    [ "${REMISSION_REQUIRE_TIERS:-0}" = 1 ] && status=1
fi
# ---- R (survival, cmprsk, KMsurv) ----------------------------------------------------------------
if have_r; then
    say "r tier: $(command -v Rscript)"
else
    say "skipping r tier: Rscript with survival/cmprsk/KMsurv is not installed (run as root to install ${R_PACKAGES[*]} with apt-get)"
    [ "${REMISSION_REQUIRE_TIERS:-0}" = 1 ] && status=1
fi
if [ -z "${REMISSION_TEST_PG_URL:-}" ] && [ ! -s "$ART/pg_url" ] && [ "${REMISSION_REQUIRE_TIERS:-0}" = 1 ]; then
    status=1
fi
if [ "$status" -ne 0 ]; then
    say "REMISSION_REQUIRE_TIERS=1 and a test tier could not be set up (see above)"
fi
exit "$status"
