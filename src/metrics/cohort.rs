//! Same-students change (METRICS.md "Same-students change"): for the students tested in a
//! cell who were also tested at the same school in the same window, assessment and subject a
//! year earlier, the change in each one's distance from standard. `cohort_change` gives it per
//! group; `cohort_gaps` gives each gap pair's change among those students, with its standard
//! error. A student's own change varies far less than students differ from each other, so this
//! sees a trend that the cross-sectional `gaps.gap_change` hides in noise. The sums come from
//! `cells` (n_matched, Σd, Σd²), so `rest` and the district roll-up are exact.

use super::cells::CELL;
use super::gaps;
use super::{ratio, sorted, suppression};
use crate::pipeline::Plan;
use crate::pipeline::plan::Metric;
use polars::prelude::*;

pub const CHANGE_COLUMNS: [&str; 10] = [
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "group",
    "n_matched",
    "mean_change",
    "sd_change",
    "suppressed",
];

pub const GAP_COLUMNS: [&str; 17] = [
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "focal_group",
    "reference_group",
    "n_focal",
    "n_reference",
    "focal_change",
    "reference_change",
    "gap_change",
    "se",
    "ci_low",
    "ci_high",
    "distinguishable",
    "suppressed",
];

/// `cohort_change`: one row per cell and group with at least one matched student.
pub fn change_table(stats: &DataFrame) -> PolarsResult<DataFrame> {
    let lf = stats
        .clone()
        .lazy()
        .filter(col("n_matched").gt(lit(0i64)))
        .with_columns([
            ratio(col("sum_change"), col("n_matched")).alias("mean_change"),
            super::baselines::sample_sd("n_matched", "sum_change", "sum_change2")
                .alias("sd_change"),
            col("suppressed_cohort").alias("suppressed"),
        ]);
    let lf = suppression::hide(lf, &CHANGE_COLUMNS[6..9]);
    sorted("cohort_change", lf.select(CHANGE_COLUMNS.map(col)))
}

/// Every gap pair's same-students change at every cell where both sides have a matched
/// student, suppression applied. Keeps `year_n` and `n_other` (matched students in `rest`
/// when R is `all`) for flags.
pub fn gaps(plan: &Plan, stats: &DataFrame) -> PolarsResult<DataFrame> {
    let sums = gaps::sums(
        stats,
        col("n_matched"),
        col("sum_change"),
        col("sum_change2"),
        col("suppressed_cohort"),
    )?;
    let keep: Vec<Expr> = CELL
        .iter()
        .map(|c| col(*c))
        .chain([
            col("focal_group"),
            col("reference_group"),
            col("n_focal"),
            col("n_reference"),
            col("focal_value").alias("focal_change"),
            col("reference_value").alias("reference_change"),
            col("gap").alias("gap_change"),
            col("se"),
            col("ci_low"),
            col("ci_high"),
            col("distinguishable"),
            col("n_other"),
            col("hidden"),
        ])
        .collect();
    // A change is a mean of whole-number differences: the gap machinery for mean_dfs applies
    // as it is, with the changes in place of distances from standard.
    let parts: Vec<LazyFrame> = plan
        .gaps
        .pairs
        .iter()
        .map(|pair| {
            gaps::measures(
                gaps::pair_frame(&sums, pair, Metric::MeanDfs),
                Metric::MeanDfs,
                pair.target,
            )
            .select(keep.clone())
        })
        .collect();
    let mut out: Vec<Expr> = GAP_COLUMNS.map(col).to_vec();
    out.extend([col("year_n"), col("n_other")]);
    if parts.is_empty() {
        return empty(&out);
    }
    let min_n = i64::from(plan.privacy.min_n_display);
    let lf = concat(parts, UnionArgs::default())?.with_column(
        col("n_focal")
            .lt(lit(min_n))
            .or(col("n_reference").lt(lit(min_n)))
            .or(col("n_other").lt(lit(min_n)).fill_null(lit(false)))
            .or(col("hidden"))
            .alias("suppressed"),
    );
    let mut hide = GAP_COLUMNS[7..16].to_vec();
    hide.push("n_other");
    suppression::hide(lf, &hide).select(out).collect()
}

fn empty(out: &[Expr]) -> PolarsResult<DataFrame> {
    let mut cols: Vec<Column> = Vec::new();
    for c in GAP_COLUMNS {
        let dtype = match c {
            "n_focal" | "n_reference" => DataType::Int64,
            "distinguishable" | "suppressed" => DataType::Boolean,
            c if GAP_COLUMNS[..7].contains(&c) => DataType::String,
            _ => DataType::Float64,
        };
        cols.push(Column::new_empty(c.into(), &dtype));
    }
    cols.push(Column::new_empty("year_n".into(), &DataType::Int32));
    cols.push(Column::new_empty("n_other".into(), &DataType::Int64));
    DataFrame::new_infer_height(cols)?
        .lazy()
        .select(out)
        .collect()
}

/// The published `cohort_gaps`: the contract's columns, sorted by key.
pub fn published(full: &DataFrame) -> PolarsResult<DataFrame> {
    sorted(
        "cohort_gaps",
        full.clone().lazy().select(GAP_COLUMNS.map(col)),
    )
}
