"""Accounts, passwords, second factor, login throttling and server-side sessions.

Decisions (OWASP ASVS 5.0, chapters V6 authentication and V7 session management):

- **passwords** are hashed with Argon2id (argon2-cffi's ``PasswordHasher`` defaults, identical
  to RFC 9106's low-memory profile: t=3, m=64 MiB, p=4); at least
  :attr:`AuthPolicy.min_password_length` characters (ASVS 6.2.1), no composition rules
  (6.2.5), up to :attr:`AuthPolicy.max_password_length` (≥ 64, 6.2.9).
- **common passwords** (ASVS 6.2.4): a password among the
  :attr:`AuthPolicy.common_passwords` (3,000) most common ones is refused, compared without
  regard to case, at account creation and at every password change
  (:mod:`remission.app.passwords`; the list and its source ship in ``app/data``).
- **second factor**: TOTP (RFC 6238, :data:`TOTP_STEP_SECONDS` = 30 s steps, ASVS 6.5.5; 6
  digits; pyotp), required for admins and optional for the other roles; one step of clock drift
  is accepted, and a code logs in once (ASVS 6.5.1: the step of the last accepted code is stored
  and a login with the same or an earlier step is refused; :attr:`AuthPolicy.totp_single_use`). Enrolment in the browser (:func:`totp_start`, :func:`totp_confirm`): a new
  secret is *pending* until the user enters a current code from it; turning the factor off
  needs the password and a current code (re-authentication, ASVS 7.5.1) and is refused for
  admins; :func:`totp_reset` (an operator, for a lost device) clears it and ends the sessions.
  An admin without an active factor can do nothing but enrol (``remission.web.deps``).
- **throttling** (ASVS 6.3.1): a login is refused without checking the password while an account
  has :attr:`AuthPolicy.max_failures_per_account` failures, or an address
  :attr:`AuthPolicy.max_failures_per_address` failures, within :attr:`AuthPolicy.failure_window`.
- **sessions** (ASVS 7.2.3, 7.3.1, 7.3.2, 7.4.1, 7.4.2, 7.4.5): an opaque 256-bit token from
  ``secrets``; only its SHA-256 is stored; each session ends after
  :attr:`AuthPolicy.idle_timeout` without a request and at the latest
  :attr:`AuthPolicy.absolute_timeout` after login; logout, disabling the account and an admin's
  "end sessions" delete the rows, so a copied cookie stops working at once. Concurrent sessions
  of one account are allowed (ASVS 7.1.2); users see and end their own.

The 30-minute idle and 12-hour absolute defaults are an operational choice (one clinical shift),
documented here as ASVS 7.1.1 asks; every value is overridable through :class:`AuthPolicy`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.errors import RemissionError, ValidationError
from remission.store import Store
from remission.store import tables as T

__all__ = [
    "ROLES",
    "TOTP_STEP_SECONDS",
    "AuthError",
    "AuthPolicy",
    "Role",
    "SessionInfo",
    "User",
    "authenticate",
    "change_password",
    "create_user",
    "disable_user",
    "end_other_sessions",
    "end_session",
    "end_user_sessions",
    "list_sessions",
    "list_users",
    "provisioning_uri",
    "resolve_session",
    "totp_confirm",
    "totp_disable",
    "totp_now",
    "totp_pending",
    "totp_reset",
    "totp_start",
]

Role = Literal["admin", "clinician", "lab", "viewer"]
#: TOTP time step (RFC 6238's default; ASVS 6.5.5 asks for at most 30 s)
TOTP_STEP_SECONDS = 30
ROLES: tuple[str, ...] = get_args(Role)


class AuthError(RemissionError):
    """A login or session was refused. ``str(exc)`` is safe to show to the user."""


@dataclass(frozen=True)
class AuthPolicy:
    """Overridable authentication and session parameters (see the module docstring)."""

    idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    absolute_timeout: dt.timedelta = dt.timedelta(hours=12)
    failure_window: dt.timedelta = dt.timedelta(minutes=15)
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    min_password_length: int = 8
    max_password_length: int = 128
    #: refuse passwords among this many most common ones (ASVS 6.2.4: 3,000; at most 3,000)
    common_passwords: int = 3000
    #: a TOTP code logs in once (ASVS 6.5.1). Tests that log one admin in many times within
    #: one 30-s step turn it off; its own test keeps it on.
    totp_single_use: bool = True
    #: a session's ``last_seen_at`` is written at most this often (saves a write per request)
    touch_interval: dt.timedelta = dt.timedelta(seconds=30)
    #: argon2 parameters; ``None`` = argon2-cffi defaults (RFC 9106 low-memory). Tests pass
    #: ``argon2.profiles.CHEAPEST`` so that a hash takes microseconds.
    argon2_parameters: Any = None
    hasher: Any = field(default=None, compare=False, repr=False)

    def password_hasher(self) -> Any:
        if self.hasher is None:
            from argon2 import PasswordHasher

            ph = PasswordHasher() if self.argon2_parameters is None else \
                PasswordHasher.from_parameters(self.argon2_parameters)
            object.__setattr__(self, "hasher", ph)
        return self.hasher


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    username: str
    role: Role
    disabled: bool
    has_totp: bool


class SessionInfo(BaseModel):
    """A live session (``csrf_token`` is the synchronizer token of this session)."""

    model_config = ConfigDict(frozen=True)

    user: User
    csrf_token: str
    session_id: str  # SHA-256 of the token: safe to show and to log
    created_at: dt.datetime
    last_seen_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(r: Any) -> User:
    return User(user_id=r.user_id, username=r.username, role=r.role, disabled=bool(r.disabled),
                has_totp=r.totp_secret is not None)


def check_password_policy(password: str, policy: AuthPolicy) -> None:
    n = len(password)
    if n < policy.min_password_length:
        raise ValidationError(f"password must be at least {policy.min_password_length} characters, but was {n}")
    if n > policy.max_password_length:
        raise ValidationError(f"password must be at most {policy.max_password_length} characters, but was {n}")
    from remission.app.passwords import common_rank

    rank = common_rank(password, top=policy.common_passwords)
    if rank is not None:
        raise ValidationError(f"password is number {rank} of the {policy.common_passwords:,} most common "
                              "passwords (compared without regard to case); choose another")


def create_user(store: Store, username: str, role: str, password: str, *, totp: bool = False,
                policy: AuthPolicy | None = None, actor: str = "cli", address: str = "local") -> tuple[User, str | None]:
    """Create an account; returns it and its TOTP secret (always for admins, else when ``totp``)."""
    import pyotp

    policy = policy or AuthPolicy()
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, but was {role!r}")
    name = username.strip()
    if not name or len(name) > 80 or any(c.isspace() or not c.isprintable() for c in name):
        raise ValidationError(f"user name must be 1-80 printable characters without spaces, but was {username!r}")
    check_password_policy(password, policy)
    secret = pyotp.random_base32() if (totp or role == "admin") else None
    pw_hash = policy.password_hasher().hash(password)

    def tx(conn: Connection) -> User:
        exists = conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == name)).first()
        if exists is not None:
            raise ValidationError(f"user {name!r} already exists")
        uid = conn.execute(T.users.insert().values(
            username=name, role=role, password_hash=pw_hash, totp_secret=secret, disabled=False,
            created_at=_now())).inserted_primary_key
        assert uid is not None
        audit.append(conn, actor=actor, action="user.create", target=f"user:{name}", address=address,
                     detail={"role": role, "totp": secret is not None})
        return User(user_id=int(uid[0]), username=name, role=role, disabled=False,
                    has_totp=secret is not None)

    return store.write(tx), secret


def list_users(store: Store) -> list[User]:
    rows = store.read(lambda conn: conn.execute(sa.select(T.users).order_by(T.users.c.username)).all())
    return [_user(r) for r in rows]


def _totp(secret: str) -> Any:
    import pyotp

    return pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)


def _matched_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code ``code`` is (this step, or one step of drift either way)."""
    import hmac

    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = _totp(secret)
    base = int(totp.timecode(now))
    for step in (base, base - 1, base + 1):
        if hmac.compare_digest(str(totp.generate_otp(step)), code):
            return step
    return None


def _code_ok(secret: str, code: str, now: dt.datetime) -> bool:
    return _matched_step(secret, code, now) is not None


def totp_now(secret: str, at: dt.datetime | None = None) -> str:
    """The current TOTP code of a secret (tests use it)."""
    return str(_totp(secret).at(at or _now()))


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from the text or a QR code)."""
    return str(_totp(secret).provisioning_uri(name=username, issuer_name="remission"))


def authenticate(store: Store, username: str, password: str, *, totp_code: str = "",
                 address: str, policy: AuthPolicy | None = None,
                 now: dt.datetime | None = None) -> tuple[str, SessionInfo]:
    """Check the credentials and open a new session; returns (token, session).

    Raises :class:`AuthError` with a message that does not reveal which part was wrong.
    Every attempt, successful or not, is written to the audit log (ASVS 16.3.1).
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    policy = policy or AuthPolicy()
    now = now or _now()
    account = username.strip()[:80]
    since = now - policy.failure_window
    f = T.login_failures.c

    def counts(conn: Connection) -> tuple[int, int, Any]:
        n_acc = conn.execute(sa.select(sa.func.count()).where(f.account == account, f.at >= since)).scalar_one()
        n_addr = conn.execute(sa.select(sa.func.count()).where(f.address == address, f.at >= since)).scalar_one()
        row = conn.execute(sa.select(T.users).where(T.users.c.username == account)).first()
        return int(n_acc), int(n_addr), row

    n_acc, n_addr, row = store.read(counts)

    def fail(reason: str, outcome: str = "denied") -> AuthError:
        def tx(conn: Connection) -> None:
            conn.execute(T.login_failures.insert().values(account=account, address=address, at=now))
            audit.append(conn, actor=account or "-", action="login", target=f"user:{account}",
                         outcome=outcome, address=address, detail={"reason": reason}, now=now)

        store.write(tx)
        if outcome == "throttled":
            return AuthError("too many failed logins; try again later")
        return AuthError("user name, password or code not accepted")

    if n_acc >= policy.max_failures_per_account:
        raise fail("account throttled", "throttled")
    if n_addr >= policy.max_failures_per_address:
        raise fail("address throttled", "throttled")
    ph = policy.password_hasher()
    if row is None:
        # spend the same work as a real check so response time does not reveal unknown names
        with contextlib.suppress(VerificationError):
            ph.verify(ph.hash("not-a-password"), password + "x")
        raise fail("unknown user")
    try:
        ph.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise fail("wrong password") from None
    if row.disabled:
        raise fail("account disabled")
    step = None
    if row.totp_secret is not None:
        step = _matched_step(row.totp_secret, totp_code, now)
        if step is None:
            raise fail("wrong or missing second factor")
        if policy.totp_single_use and row.totp_last_step is not None and step <= row.totp_last_step:
            raise fail("second factor code already used")
    token = secrets.token_urlsafe(32)  # 256 bits (ASVS 7.2.3 asks for >= 128)
    csrf = secrets.token_urlsafe(32)
    new_hash = ph.hash(password) if ph.check_needs_rehash(row.password_hash) else None

    class _Replayed(Exception):
        pass

    def tx(conn: Connection) -> None:
        if step is not None and policy.totp_single_use:
            # conditional: of two logins with one code at the same moment, one wins
            u = T.users.c
            n = conn.execute(T.users.update().where(
                u.user_id == row.user_id, sa.or_(u.totp_last_step.is_(None), u.totp_last_step < step))
                .values(totp_last_step=step)).rowcount
            if n != 1:
                raise _Replayed()
        conn.execute(T.sessions.insert().values(token_sha256=_sha(token), user_id=row.user_id,
                                                csrf_token=csrf, created_at=now, last_seen_at=now,
                                                address=address[:100]))
        conn.execute(T.login_failures.delete().where(f.account == account))
        if new_hash:
            conn.execute(T.users.update().where(T.users.c.user_id == row.user_id)
                         .values(password_hash=new_hash))
        audit.append(conn, actor=account, action="login", target=f"user:{account}", address=address,
                     detail={"session": _sha(token)[:12]}, now=now)

    try:
        store.write(tx)
    except _Replayed:
        raise fail("second factor code already used") from None
    info = SessionInfo(user=_user(row), csrf_token=csrf, session_id=_sha(token), created_at=now,
                       last_seen_at=now)
    return token, info


def resolve_session(store: Store, token: str | None, *, policy: AuthPolicy | None = None,
                    now: dt.datetime | None = None) -> SessionInfo | None:
    """The live session of a cookie value, or ``None`` (expired sessions are deleted here)."""
    if not token or len(token) > 200:
        return None
    policy = policy or AuthPolicy()
    now = now or _now()
    key = _sha(token)
    s = T.sessions.c
    row = store.read(lambda conn: conn.execute(
        sa.select(T.sessions, T.users).join(T.users, T.users.c.user_id == s.user_id)
        .where(s.token_sha256 == key)).first())
    if row is None:
        return None
    created, seen = _utc(row.created_at), _utc(row.last_seen_at)
    if row.disabled or now - seen > policy.idle_timeout or now - created > policy.absolute_timeout:
        store.write(lambda conn: conn.execute(T.sessions.delete().where(s.token_sha256 == key)))
        return None
    if now - seen > policy.touch_interval:
        store.write(lambda conn: conn.execute(T.sessions.update().where(s.token_sha256 == key)
                                              .values(last_seen_at=now)))
        seen = now
    return SessionInfo(user=_user(row), csrf_token=row.csrf_token, session_id=key,
                       created_at=created, last_seen_at=seen)


def end_session(store: Store, session_id: str, *, actor: str, address: str, reason: str = "logout") -> bool:
    """End one session by its id (the token's SHA-256); returns whether it existed."""
    def tx(conn: Connection) -> bool:
        n = conn.execute(T.sessions.delete().where(T.sessions.c.token_sha256 == session_id)).rowcount
        audit.append(conn, actor=actor, action=reason, target=f"session:{session_id[:12]}",
                     address=address, outcome="ok" if n else "none")
        return bool(n)

    return bool(store.write(tx))


def end_user_sessions(store: Store, username: str, *, actor: str, address: str) -> int:
    """End every session of an account (an admin's action, ASVS 7.4.5); returns how many."""
    def tx(conn: Connection) -> int:
        uid = conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == username)).scalar()
        if uid is None:
            raise ValidationError(f"no user {username!r}")
        n = conn.execute(T.sessions.delete().where(T.sessions.c.user_id == uid)).rowcount
        audit.append(conn, actor=actor, action="sessions.end", target=f"user:{username}",
                     address=address, detail={"ended": n})
        return int(n)

    return int(store.write(tx))


def disable_user(store: Store, username: str, *, actor: str, address: str) -> None:
    """Disable an account and end all its sessions in the same transaction (ASVS 7.4.2)."""
    def tx(conn: Connection) -> None:
        n = conn.execute(T.users.update().where(T.users.c.username == username)
                         .values(disabled=True)).rowcount
        if not n:
            raise ValidationError(f"no user {username!r}")
        uid = conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == username)).scalar()
        ended = conn.execute(T.sessions.delete().where(T.sessions.c.user_id == uid)).rowcount
        audit.append(conn, actor=actor, action="user.disable", target=f"user:{username}",
                     address=address, detail={"sessions_ended": ended})

    store.write(tx)


def list_sessions(store: Store, username: str | None = None) -> list[dict[str, Any]]:
    """Live session rows (id = token hash prefix, user, created, last seen, address)."""
    s, u = T.sessions.c, T.users.c
    q = sa.select(s.token_sha256, u.username, s.created_at, s.last_seen_at, s.address).join(
        T.users, u.user_id == s.user_id).order_by(s.created_at)
    if username is not None:
        q = q.where(u.username == username)
    rows = store.read(lambda conn: conn.execute(q).all())
    return [{"session_id": r.token_sha256, "username": r.username, "created_at": _utc(r.created_at),
             "last_seen_at": _utc(r.last_seen_at), "address": r.address or ""} for r in rows]


# ---- the account's own changes: password, second factor, other sessions ---------------------------
def _row_of(conn: Connection, user_id: int) -> Any:
    row = conn.execute(sa.select(T.users).where(T.users.c.user_id == user_id)).first()
    if row is None:
        raise ValidationError(f"no user with id {user_id}")
    return row


def _password_ok(policy: AuthPolicy, password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(policy.password_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def change_password(store: Store, user_id: int, current: str, new: str, *, address: str,
                    policy: AuthPolicy | None = None) -> None:
    """Change one's own password: the current one must be right (re-authentication, ASVS 7.5.1)
    and the new one must pass :func:`check_password_policy`. Refused attempts are audited."""
    policy = policy or AuthPolicy()
    row = store.read(lambda conn: _row_of(conn, user_id))
    if not _password_ok(policy, row.password_hash, current):
        audit.record(store, actor=row.username, action="password.change", target=f"user:{row.username}",
                     outcome="denied", address=address, detail={"reason": "wrong current password"})
        raise AuthError("current password not accepted")
    check_password_policy(new, policy)
    new_hash = policy.password_hasher().hash(new)

    def tx(conn: Connection) -> None:
        conn.execute(T.users.update().where(T.users.c.user_id == user_id).values(password_hash=new_hash))
        audit.append(conn, actor=row.username, action="password.change", target=f"user:{row.username}",
                     address=address)

    store.write(tx)


def totp_pending(store: Store, user_id: int) -> str | None:
    """The secret shown for enrolment and not yet confirmed, if any."""
    value = store.read(lambda conn: _row_of(conn, user_id).totp_pending)
    return None if value is None else str(value)


def totp_start(store: Store, user_id: int, *, address: str) -> str:
    """Begin enrolment: a new secret, pending until :func:`totp_confirm`; returns it. An active
    factor stays active meanwhile (turn it off first to replace it)."""
    import pyotp

    secret = pyotp.random_base32()

    def tx(conn: Connection) -> None:
        row = _row_of(conn, user_id)
        if row.totp_secret is not None:
            raise ValidationError("a second factor is already active; turn it off before enrolling a new one")
        conn.execute(T.users.update().where(T.users.c.user_id == user_id).values(totp_pending=secret))
        audit.append(conn, actor=row.username, action="totp.enrol", target=f"user:{row.username}",
                     address=address, outcome="started")

    store.write(tx)
    return secret


def totp_confirm(store: Store, user_id: int, code: str, *, address: str,
                 now: dt.datetime | None = None) -> None:
    """Activate the pending secret when ``code`` is a current code of it."""
    now = now or _now()
    row = store.read(lambda conn: _row_of(conn, user_id))
    if row.totp_pending is None:
        raise ValidationError("no enrolment in progress; start it again")
    if not _code_ok(row.totp_pending, code, now):
        audit.record(store, actor=row.username, action="totp.enable", target=f"user:{row.username}",
                     outcome="denied", address=address, detail={"reason": "wrong code"})
        raise ValidationError("code not accepted: enter the 6-digit code your authenticator app shows now")

    def tx(conn: Connection) -> None:
        n = conn.execute(T.users.update().where(T.users.c.user_id == user_id,
                                                T.users.c.totp_pending == row.totp_pending)
                         .values(totp_secret=row.totp_pending, totp_pending=None)).rowcount
        if n != 1:
            raise ValidationError("the enrolment changed meanwhile; start it again")
        audit.append(conn, actor=row.username, action="totp.enable", target=f"user:{row.username}",
                     address=address)

    store.write(tx)


def totp_disable(store: Store, user_id: int, password: str, code: str, *, address: str,
                 policy: AuthPolicy | None = None, now: dt.datetime | None = None) -> None:
    """Turn one's own second factor off after re-authentication (password and a current code);
    refused for admins, who must keep one."""
    policy = policy or AuthPolicy()
    now = now or _now()
    row = store.read(lambda conn: _row_of(conn, user_id))

    def refuse(reason: str, message: str) -> AuthError:
        audit.record(store, actor=row.username, action="totp.disable", target=f"user:{row.username}",
                     outcome="denied", address=address, detail={"reason": reason})
        return AuthError(message)

    if row.role == "admin":
        raise refuse("admin", "admins must keep a second factor")
    if row.totp_secret is None:
        raise ValidationError("no second factor is active")
    if not (_password_ok(policy, row.password_hash, password) and _code_ok(row.totp_secret, code, now)):
        raise refuse("re-authentication failed", "password or code not accepted")

    def tx(conn: Connection) -> None:
        conn.execute(T.users.update().where(T.users.c.user_id == user_id)
                     .values(totp_secret=None, totp_pending=None))
        audit.append(conn, actor=row.username, action="totp.disable", target=f"user:{row.username}",
                     address=address)

    store.write(tx)


def totp_reset(store: Store, username: str, *, actor: str, address: str) -> int:
    """An operator clears an account's second factor (a lost device) and ends its sessions; an
    admin must then enrol again before doing anything else. Returns the sessions ended."""
    def tx(conn: Connection) -> int:
        uid = conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == username)).scalar()
        if uid is None:
            raise ValidationError(f"no user {username!r}")
        conn.execute(T.users.update().where(T.users.c.user_id == uid).values(totp_secret=None, totp_pending=None))
        ended = conn.execute(T.sessions.delete().where(T.sessions.c.user_id == uid)).rowcount
        audit.append(conn, actor=actor, action="totp.reset", target=f"user:{username}", address=address,
                     detail={"sessions_ended": ended})
        return int(ended)

    return int(store.write(tx))


def end_other_sessions(store: Store, session: SessionInfo, *, address: str) -> int:
    """End every session of the account except ``session`` (ASVS 7.4.3, 7.5.2); returns how many."""
    s = T.sessions.c

    def tx(conn: Connection) -> int:
        n = conn.execute(T.sessions.delete().where(s.user_id == session.user.user_id,
                                                   s.token_sha256 != session.session_id)).rowcount
        audit.append(conn, actor=session.user.username, action="sessions.end_others",
                     target=f"user:{session.user.username}", address=address, detail={"ended": n})
        return int(n)

    return int(store.write(tx))
