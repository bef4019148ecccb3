#!/usr/bin/env Rscript
# Golden thresholds from R surveillance::farringtonFlexible (improved Farrington, Noufaily
# settings) for fangkong/warning/detectors/farrington.py.
#
#   Rscript scripts/farrington_reference.R IN.csv OUT.csv [--range N] [--method nbPlugin|muan]
#           [--alpha 0.01] [--b 5] [--w 3]
#
# IN.csv: columns series,t,count (t = 1..n within each series, weekly, freq = 52, no dates).
# OUT.csv: series,t,upperbound,alarm for the last N weeks of each series (range, default 49);
# upperbound is NA where R leaves it NA (fewer than limit54 cases). The first line of stderr
# names the R and surveillance versions.
suppressPackageStartupMessages(library(surveillance))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: farrington_reference.R IN.csv OUT.csv [options]")
opt <- list(range = 49, method = "nbPlugin", alpha = 0.01, b = 5, w = 3)
rest <- args[-(1:2)]
while (length(rest) >= 2) {
  key <- sub("^--", "", rest[1])
  if (!key %in% names(opt)) stop("unknown option ", rest[1])
  opt[[key]] <- if (key == "method") rest[2] else as.numeric(rest[2])
  rest <- rest[-(1:2)]
}
message(sprintf("R %s, surveillance %s", getRversion(), packageVersion("surveillance")))

data <- read.csv(args[1])
out <- list()
for (id in unique(data$series)) {
  d <- data[data$series == id, ]
  d <- d[order(d$t), ]
  n <- nrow(d)
  s <- sts(observed = matrix(d$count, ncol = 1), frequency = 52, start = c(2000, 1))
  control <- list(
    range = (n - opt$range + 1):n,
    b = opt$b, w = opt$w, noPeriods = 10, pastWeeksNotIncluded = 26,
    weightsThreshold = 2.58, pThresholdTrend = 1, thresholdMethod = opt$method,
    limit54 = c(5, 4), alpha = opt$alpha, reweight = TRUE, trend = TRUE,
    glmWarnings = FALSE
  )
  res <- farringtonFlexible(s, control = control)
  out[[length(out) + 1]] <- data.frame(
    series = id, t = control$range,
    upperbound = as.numeric(upperbound(res)[, 1]),
    alarm = as.logical(alarms(res)[, 1])
  )
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
