//! Year-of-growth per cell and group: how many students have a baseline, their mean and
//! median growth since it, and the share that met their window target.

use super::{ratio, sorted, suppression};
use crate::pipeline::Plan;
use polars::prelude::*;

pub const COLUMNS: [&str; 12] = [
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "group",
    "n_with_baseline",
    "n_without_baseline",
    "mean_growth",
    "median_growth",
    "pct_met_growth_target",
    "suppressed",
];

pub fn table(plan: &Plan, stats: &DataFrame) -> PolarsResult<DataFrame> {
    let min_n = i64::from(plan.privacy.min_n_display);
    let lf = stats.clone().lazy().with_columns([
        // n_with_baseline + n_without_baseline is the baselines row's n: where that row is
        // suppressed, so is this count, or the growth table would publish what it hides.
        when(col("suppressed_baselines"))
            .then(lit(NULL).cast(DataType::Int64))
            .otherwise(col("n") - col("n_with_baseline"))
            .alias("n_without_baseline"),
        ratio(col("sum_growth"), col("n_with_baseline")).alias("mean_growth"),
        // A share over fewer students with a target than may be shown is not shown, even
        // when the row itself (sized by n_with_baseline) is.
        when(col("n_target").gt_eq(lit(min_n)))
            .then(ratio(col("n_met"), col("n_target")) * lit(100.0))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("pct_met_growth_target"),
    ]);
    let lf = suppression::hide(
        lf.with_column(col("suppressed_growth").alias("suppressed")),
        &COLUMNS[6..11],
    );
    sorted("growth", lf.select(COLUMNS.map(col)))
}
