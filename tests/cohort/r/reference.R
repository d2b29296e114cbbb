# Reference values for remission's cohort engines, computed with R survival and cmprsk.
#
# Usage:  Rscript tests/cohort/r/reference.R OUTDIR
# Writes OUTDIR/{aml,lung,heart,mgus2,bmt,bmt_td}.csv (the data sets as R ships them, plus the
# derived columns the tests use) and OUTDIR/reference.json (every number the tests compare).
# Needs Debian's r-base-core, r-cran-survival, r-cran-cmprsk, r-cran-kmsurv (no CRAN access).
suppressMessages({library(survival); library(cmprsk); library(KMsurv)})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "."
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# a minimal JSON writer (jsonlite is not packaged for this Debian release), shared with random.R
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1]))
source(file.path(here, "json.R"))
wcsv <- function(d, name) write.csv(d, file.path(out, name), row.names = FALSE, na = "")

# ---- data --------------------------------------------------------------------------------------
aml2 <- data.frame(time = aml$time, status = aml$status, x = as.character(aml$x))
wcsv(aml2, "aml.csv")
wcsv(lung, "lung.csv")
heart2 <- heart; heart2$transplant <- as.integer(as.character(heart$transplant))
wcsv(heart2, "heart.csv")
mg <- mgus2
mg$etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
mg$ev <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))   # 0 censored, 1 PCM, 2 death
mg$sex <- as.character(mgus2$sex)
wcsv(mg, "mgus2.csv")
data(bmt)
b <- bmt; b$id <- seq_len(nrow(b))
b$ev <- with(b, ifelse(d2 == 1, 1, ifelse(d3 == 1, 2, 0)))  # 1 relapse, 2 death in remission
wcsv(b, "bmt.csv")
td <- tmerge(b[, c("id", "group", "t2", "d3")], b, id = id, dfs = event(t2, d3))
td <- tmerge(td, b, id = id, plt = tdc(ifelse(dp == 1, tp, NA)),
             agvhd = tdc(ifelse(da == 1, ta, NA)), cgvhd = tdc(ifelse(dc == 1, tc, NA)))
td <- data.frame(id = td$id, group = td$group, tstart = td$tstart, tstop = td$tstop,
                 dfs = td$dfs, plt = td$plt, agvhd = td$agvhd, cgvhd = td$cgvhd)
wcsv(td, "bmt_td.csv")

ref <- list(versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            survival = as.character(packageVersion("survival")),
                            cmprsk = as.character(packageVersion("cmprsk"))))

# ---- Kaplan-Meier ------------------------------------------------------------------------------
kmjs <- function(f, times = NULL) {
  strata <- if (is.null(f$strata)) rep("all", length(f$time)) else
    rep(sub(".*=", "", names(f$strata)), f$strata)
  q <- quantile(f, 0.5)
  res <- list()
  for (s in unique(strata)) {
    k <- strata == s
    i <- if (is.null(f$strata)) 1 else which(sub(".*=", "", names(f$strata)) == s)
    med <- if (is.null(f$strata)) c(q$quantile, q$lower, q$upper) else
      c(q$quantile[i], q$lower[i], q$upper[i])
    res[[s]] <- list(time = f$time[k], n_risk = f$n.risk[k], n_event = f$n.event[k],
                     n_censor = f$n.censor[k], surv = f$surv[k], std_err = f$std.err[k],
                     lower = f$lower[k], upper = f$upper[k], median = med)
  }
  res
}
for (ct in c("log", "log-log", "plain")) {
  key <- gsub("-", "", ct)
  ref[[paste0("km_aml_", key)]] <- kmjs(survfit(Surv(time, status) ~ x, data = aml, conf.type = ct))
  ref[[paste0("km_lung_", key)]] <- kmjs(survfit(Surv(time, status) ~ 1, data = lung, conf.type = ct))
  ref[[paste0("km_lung_sex_", key)]] <- kmjs(survfit(Surv(time, status) ~ sex, data = lung, conf.type = ct))
}
ref$km_bmt_dfs <- kmjs(survfit(Surv(t2, d3) ~ group, data = bmt))

# ---- log-rank ----------------------------------------------------------------------------------
sdjs <- function(s) list(chisq = s$chisq, obs = as.numeric(s$obs), exp = as.numeric(s$exp),
                         var = s$var, df = length(s$n) - 1,
                         p = pchisq(s$chisq, length(s$n) - 1, lower.tail = FALSE))
ref$logrank_lung_sex <- sdjs(survdiff(Surv(time, status) ~ sex, data = lung))
lung_e <- lung[!is.na(lung$ph.ecog), ]
ref$logrank_lung_sex_strat_ecog <- sdjs(survdiff(Surv(time, status) ~ sex + strata(ph.ecog), data = lung_e))
ref$logrank_bmt_group <- sdjs(survdiff(Surv(t2, d3) ~ group, data = bmt))
ref$logrank_aml_x <- sdjs(survdiff(Surv(time, status) ~ x, data = aml))

# ---- Aalen-Johansen / cuminc / Gray ------------------------------------------------------------
cijs <- function(ci, times) {
  tp <- timepoints(ci, times)
  curves <- list()
  for (nm in names(ci)) if (nm != "Tests")
    curves[[nm]] <- list(time = ci[[nm]]$time, est = ci[[nm]]$est, var = ci[[nm]]$var)
  list(tests = list(names = rownames(ci$Tests), stat = ci$Tests[, "stat"], pv = ci$Tests[, "pv"],
                    df = ci$Tests[, "df"]),
       times = times, est_names = rownames(tp$est), est = tp$est, var = tp$var, curves = curves)
}
ref$cuminc_mgus2_sex <- cijs(cuminc(mg$etime, mg$ev, mg$sex, cencode = 0), c(60, 120, 240, 360))
ref$cuminc_mgus2_sex_strat_age70 <- cijs(
  cuminc(mg$etime, mg$ev, mg$sex, strata = as.integer(mg$age >= 70), cencode = 0), c(120, 240))
ref$cuminc_bmt_group <- cijs(cuminc(b$t2, b$ev, b$group, cencode = 0), c(365, 730, 1825))
ref$cuminc_bmt_group_rho1 <- cijs(cuminc(b$t2, b$ev, b$group, rho = 1, cencode = 0), c(365, 730))
ms <- survfit(Surv(etime, factor(ev, 0:2, c("censor", "pcm", "death"))) ~ 1, data = mg)
sm <- summary(ms, times = c(60, 120, 240, 360))
ref$aj_mgus2 <- list(times = c(60, 120, 240, 360), pstate = sm$pstate, states = colnames(sm$pstate))

# ---- Cox ---------------------------------------------------------------------------------------
coxjs <- function(fit) {
  s <- summary(fit)
  list(coef = as.numeric(coef(fit)), names = names(coef(fit)), var = unclass(fit$var),
       naive_var = if (is.null(fit$naive.var)) NULL else unclass(fit$naive.var),
       loglik = fit$loglik, score = fit$score, wald = as.numeric(fit$wald.test),
       logtest = as.numeric(s$logtest), sctest = as.numeric(s$sctest), waldtest = as.numeric(s$waldtest),
       nevent = fit$nevent, n = fit$n, iter = fit$iter)
}
test1 <- data.frame(time = c(1, 1, 6, 6, 8, 9), status = c(1, 0, 1, 1, 0, 1), x = c(1, 1, 1, 0, 0, 0))
test2 <- data.frame(start = c(1, 2, 5, 2, 1, 7, 3, 4, 8, 8), stop = c(2, 3, 6, 7, 8, 9, 9, 9, 14, 17),
                    event = c(1, 1, 1, 1, 1, 1, 1, 0, 0, 0), x = c(1, 0, 0, 1, 0, 1, 1, 1, 0, 0))
for (ties in c("efron", "breslow")) {
  ref[[paste0("cox_test1_", ties)]] <- coxjs(coxph(Surv(time, status) ~ x, data = test1, ties = ties))
  ref[[paste0("cox_test2_", ties)]] <- coxjs(coxph(Surv(start, stop, event) ~ x, data = test2, ties = ties))
  ref[[paste0("cox_lung_", ties)]] <- coxjs(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = ties))
  ref[[paste0("cox_heart_", ties)]] <- coxjs(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant,
                                                 data = heart2, ties = ties))
  ref[[paste0("cox_heart_robust_", ties)]] <- coxjs(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant,
                                                 data = heart2, ties = ties, cluster = id))
  ref[[paste0("cox_bmt_td_", ties)]] <- coxjs(coxph(Surv(tstart, tstop, dfs) ~ factor(group) + plt + agvhd + cgvhd,
                                                  data = td, ties = ties))
  ref[[paste0("cox_lung_strata_", ties)]] <- coxjs(coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung, ties = ties))
  # case weights (non-integer: R then reports the robust variance, with the naive one beside it)
  lw <- lung[!is.na(lung$ph.ecog), ]; lw$w <- 0.5 + (seq_len(nrow(lw)) %% 4) / 4
  ref[[paste0("cox_lung_weighted_", ties)]] <- coxjs(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lw,
                                                       weights = w, ties = ties))
}
ref$cox_test1_data <- test1
ref$cox_test2_data <- test2

# ---- Fine-Gray ---------------------------------------------------------------------------------
crrjs <- function(fit) list(coef = as.numeric(fit$coef), var = unclass(fit$var), loglik = fit$loglik,
                            loglik_null = fit$loglik.null, converged = fit$converged)
X <- cbind(age = mg$age, sexM = as.integer(mg$sex == "M"))
ref$crr_mgus2_pcm <- crrjs(crr(mg$etime, mg$ev, X, failcode = 1, cencode = 0))
Xb <- cbind(g2 = as.integer(b$group == 2), g3 = as.integer(b$group == 3))
ref$crr_bmt_relapse <- crrjs(crr(b$t2, b$ev, Xb, failcode = 1, cencode = 0))
ref$crr_bmt_death <- crrjs(crr(b$t2, b$ev, Xb, failcode = 2, cencode = 0))

writeLines(js(ref), file.path(out, "reference.json"))
cat("wrote", file.path(out, "reference.json"), "\n")
