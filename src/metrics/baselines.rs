//! Baselines per cell and group: n, mean scale score, mean and SD of distance from standard,
//! and the share in each band.

use super::{ratio, sorted, suppression};
use polars::prelude::*;

pub const COLUMNS: [&str; 16] = [
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "group",
    "n",
    "mean_scale_score",
    "mean_dfs",
    "sd_dfs",
    "pct_below",
    "pct_near",
    "pct_at",
    "pct_above",
    "pct_met_standard",
    "suppressed",
];

/// Sample standard deviation from whole-number sums: sqrt((n·Σx² − (Σx)²) / (n(n − 1))),
/// with the numerator computed exactly in integers; null when n < 2.
pub fn sample_sd(n: &str, sum: &str, sum2: &str) -> Expr {
    let numerator = col(n) * col(sum2) - col(sum) * col(sum);
    let denominator = col(n) * (col(n) - lit(1i64));
    when(col(n).gt(lit(1i64)))
        .then(ratio(numerator, denominator).sqrt())
        .otherwise(lit(NULL).cast(DataType::Float64))
}

pub fn table(stats: &DataFrame) -> PolarsResult<DataFrame> {
    let pct = |k: Expr| ratio(k, col("n")) * lit(100.0);
    let lf = stats.clone().lazy().with_columns([
        ratio(col("sum_score"), col("n")).alias("mean_scale_score"),
        ratio(col("sum_dfs"), col("n")).alias("mean_dfs"),
        sample_sd("n", "sum_dfs", "sum_dfs2").alias("sd_dfs"),
        pct(col("n_below")).alias("pct_below"),
        pct(col("n_near")).alias("pct_near"),
        pct(col("n_at")).alias("pct_at"),
        pct(col("n_above")).alias("pct_above"),
        pct(col("n_at") + col("n_above")).alias("pct_met_standard"),
    ]);
    let lf = suppression::hide(
        lf.with_column(col("suppressed_baselines").alias("suppressed")),
        &COLUMNS[6..15],
    );
    sorted("baselines", lf.select(COLUMNS.map(col)))
}
