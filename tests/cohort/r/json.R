# Tiny JSON writer for the reference scripts (numbers with 17 significant digits; NA -> null).
num <- function(x) {
  x <- as.numeric(x)
  s <- ifelse(is.na(x) | is.nan(x), "null",
       ifelse(is.infinite(x), ifelse(x > 0, "\"Infinity\"", "\"-Infinity\""), sprintf("%.17g", x)))
  s
}
js <- function(v) {
  if (is.null(v)) return("null")
  if (is.list(v)) {
    nm <- names(v)
    if (is.null(nm)) return(paste0("[", paste(vapply(v, js, ""), collapse = ","), "]"))
    return(paste0("{", paste(sprintf("\"%s\":%s", nm, vapply(v, js, "")), collapse = ","), "}"))
  }
  if (is.matrix(v)) return(js(lapply(seq_len(nrow(v)), function(i) as.numeric(v[i, ]))))
  if (is.character(v) || is.factor(v)) {
    s <- sprintf("\"%s\"", as.character(v))
    return(if (length(v) == 1) s else paste0("[", paste(s, collapse = ","), "]"))
  }
  s <- num(v)
  if (length(v) == 1) s else paste0("[", paste(s, collapse = ","), "]")
}
