# R values for seeded random cohorts written by tests/cohort/test_r_random.py.
# Usage: Rscript tests/cohort/r/random.R DIR   (reads DIR/random_*.csv, writes DIR/random.json)
suppressMessages({library(survival); library(cmprsk)})
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1]))
source(file.path(here, "json.R"))
dir <- commandArgs(trailingOnly = TRUE)[1]
out <- list()
for (f in sort(list.files(dir, pattern = "^random_[0-9]+\\.csv$"))) {
  d <- read.csv(file.path(dir, f))
  key <- sub("\\.csv$", "", f)
  ci <- cuminc(d$time, d$ev, d$group, strata = d$stratum, cencode = 0)
  tp <- timepoints(ci, c(3, 6, 9))
  km <- survfit(Surv(time, ev != 0) ~ 1, data = d, conf.type = "log-log")
  lr <- survdiff(Surv(time, ev != 0) ~ group + strata(stratum), data = d)
  cx <- coxph(Surv(start, time, ev == 1) ~ x1 + x2, data = d, ties = "efron", cluster = id)
  fg <- crr(d$time, d$ev, cbind(d$x1, d$x2), failcode = 1, cencode = 0)
  out[[key]] <- list(
    gray = ci$Tests[, "stat"], est_names = rownames(tp$est), est = tp$est, var = tp$var,
    km_surv = km$surv, km_lower = km$lower, km_upper = km$upper,
    km_median = as.numeric(quantile(km, 0.5)$quantile),
    logrank = lr$chisq,
    cox_coef = as.numeric(coef(cx)), cox_var = unclass(cx$var), cox_loglik = cx$loglik,
    crr_coef = as.numeric(fg$coef), crr_var = unclass(fg$var))
}
writeLines(js(out), file.path(dir, "random.json"))
