# Run surveillance::farringtonFlexible (improved Noufaily settings) on many weekly series.
#
# Usage: Rscript scripts/farrington_evaluate.R in.csv out.csv [alpha] [b] [w] [thresholdMethod]
#
# in.csv:  columns series, t, count, eval_start  (t is 1-based; eval_start is the first week to
#          evaluate, 1-based, the same for every row of a series)
# out.csv: columns series, t, upper, alarm, pvalue, expected, phi  (evaluated weeks only;
#          upper/pvalue NA where R gives no result, e.g. fewer than 5 cases in the last 4 weeks)
#
# Called by `fangkong evaluate-detectors --compare-r`. The settings are those of the
# monitoringCounts vignette's con.noufaily: noPeriods 10, pastWeeksNotIncluded 26,
# weightsThreshold 2.58, pThresholdTrend 1, limit54 c(5, 4), freq 52, no dates.
suppressPackageStartupMessages(library(surveillance))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: farrington_evaluate.R in.csv out.csv [alpha] [b] [w] [method]")
alpha <- if (length(args) >= 3) as.numeric(args[3]) else 0.01
b <- if (length(args) >= 4) as.integer(args[4]) else 5L
w <- if (length(args) >= 5) as.integer(args[5]) else 3L
method <- if (length(args) >= 6) args[6] else "nbPlugin"

d <- read.csv(args[1])
out <- list()
for (id in unique(d$series)) {
  s <- d[d$series == id, ]
  s <- s[order(s$t), ]
  first <- s$eval_start[1]
  n <- nrow(s)
  st <- sts(observed = matrix(s$count, ncol = 1), start = c(2000, 1), frequency = 52)
  ctrl <- list(range = first:n, b = b, w = w, noPeriods = 10, pastWeeksNotIncluded = 26,
               weightsThreshold = 2.58, pThresholdTrend = 1, thresholdMethod = method,
               alpha = alpha, limit54 = c(5, 4), powertrans = "2/3", fitFun = "algo.farrington.fitGLM.flexible",
               populationOffset = FALSE, trend = TRUE, verbose = FALSE)
  res <- suppressWarnings(farringtonFlexible(st, control = ctrl))
  out[[length(out) + 1]] <- data.frame(
    series = id, t = first:n,
    upper = as.numeric(upperbound(res)),
    alarm = as.integer(alarms(res)),
    pvalue = as.numeric(res@control$pvalue),
    expected = as.numeric(res@control$expected),
    phi = as.numeric(res@control$phiVector)
  )
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE, na = "NA")
