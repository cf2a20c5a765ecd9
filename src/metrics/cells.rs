//! Sums per cell and group: one pass per group over the scored rows, at each school and for
//! the district roll-up. Everything downstream (baselines, growth, gaps, the Dashboard, the
//! same-students change) is read off these sums, and the sums are whole numbers, so `rest`
//! (= `all` − group) and variances are exact.

use super::groups::{Numbered, per_group, per_group_of_sums, sums_by_pattern, with_keys};
use super::keys::Packing;
use super::scores::{ABOVE, AT, BELOW, NEAR};
use super::{Years, school_year_window, stream};
use crate::pipeline::Plan;
use crate::validate::Numbering;
use polars::prelude::*;

/// The key columns of a cell, with the numeric year beside the text one.
pub const CELL: [&str; 6] = [
    "school_id",
    "school_year",
    "year_n",
    "window",
    "assessment",
    "subject",
];

/// The sum columns, in order.
pub const SUMS: [&str; 17] = [
    "n",
    "sum_score",
    "sum_dfs",
    "sum_dfs2",
    "n_below",
    "n_near",
    "n_at",
    "n_above",
    "n_with_baseline",
    "sum_growth",
    "median_growth",
    "n_target",
    "n_met",
    "n_grade11",
    "n_matched",
    "sum_change",
    "sum_change2",
];

/// Per-row terms, computed element-wise before grouping so that every aggregate is a plain
/// sum, count or median (the fast paths of a grouped aggregation).
fn terms() -> Vec<Expr> {
    let i64 = |e: Expr| e.cast(DataType::Int64);
    let band = |b: i32| i64(col("band").eq(lit(b)));
    vec![
        i64(col("scale_score")).alias("scale_score"),
        i64(col("dfs")).alias("dfs"),
        (i64(col("dfs")) * i64(col("dfs"))).alias("dfs2"),
        band(BELOW).alias("below"),
        band(NEAR).alias("near"),
        band(AT).alias("at"),
        band(ABOVE).alias("above"),
        i64(col("growth")).alias("growth"),
        i64(col("met_target")).alias("met_target"),
        i64(col("grade").eq(lit(11))).alias("grade11"),
        i64(col("change")).alias("change"),
        (i64(col("change")) * i64(col("change"))).alias("change2"),
    ]
}

/// Every sum column but the median, each as (name, aggregation over rows).
fn additive() -> Vec<(&'static str, Expr)> {
    let n = |c: &str| col(c).count().cast(DataType::Int64);
    vec![
        ("n", len().cast(DataType::Int64)),
        ("sum_score", col("scale_score").sum()),
        ("sum_dfs", col("dfs").sum()),
        ("sum_dfs2", col("dfs2").sum()),
        ("n_below", col("below").sum()),
        ("n_near", col("near").sum()),
        ("n_at", col("at").sum()),
        ("n_above", col("above").sum()),
        ("n_with_baseline", n("growth")),
        ("sum_growth", col("growth").sum()),
        ("n_target", n("met_target")),
        ("n_met", col("met_target").sum()),
        ("n_grade11", col("grade11").sum()),
        ("n_matched", n("change")),
        ("sum_change", col("change").sum()),
        ("sum_change2", col("change2").sum()),
    ]
}

fn median() -> Vec<Expr> {
    vec![col("growth").median().alias("median_growth")]
}

/// One row per (cell, group) that has at least one score, for every school and the district.
pub fn stats(
    plan: &Plan,
    scored: &DataFrame,
    members: &DataFrame,
    years: &Years,
    schools: &Numbering,
) -> PolarsResult<DataFrame> {
    let mut cell_keys = school_year_window(plan, schools, years)?;
    cell_keys.extend([
        ("assessment", plan.assessments.keys().cloned().collect()),
        (
            "subject",
            plan.subjects().into_iter().map(str::to_string).collect(),
        ),
    ]);
    let packing = Packing::new(cell_keys)?;
    // Each row's cell and group pattern, worked out once in the scores' order; the sums and
    // the growth medians then read them beside the scores' own columns, a batch at a time,
    // so the per-row terms are never all held at once.
    let coded = scored
        .clone()
        .lazy()
        .select([
            // Every key column of the scores is a number or a code in the packing's list
            // (see `validate::codes`); the year's code is its place among the run's years.
            packing
                .cell_with(&[
                    ("school_id", col("school_id").cast(DataType::UInt64)),
                    ("school_year", years.code()),
                    ("window", col("window").cast(DataType::UInt64)),
                    ("assessment", col("assessment").cast(DataType::UInt64)),
                    ("subject", col("subject").cast(DataType::UInt64)),
                ])
                .alias("cell"),
            years.member_key(col("sidx")).alias("mkey"),
        ])
        .join(
            members.clone().lazy(),
            [col("mkey")],
            [col("mkey")],
            JoinArgs {
                maintain_order: MaintainOrderJoin::Left,
                ..JoinArgs::new(JoinType::Left)
            },
        )
        .select([
            col("cell"),
            packing.district(col("cell")).alias("dcell"),
            col("pattern").fill_null(lit(0u64)),
        ])
        .collect()?;
    let mut columns = scored
        .select([
            "grade",
            "scale_score",
            "dfs",
            "band",
            "growth",
            "met_target",
            "change",
        ])?
        .into_columns();
    columns.extend(coded.into_columns());
    let rows = DataFrame::new(scored.height(), columns)?.lazy();
    let terms = rows.clone().with_columns(terms()).select(
        [
            "cell",
            "pattern",
            "scale_score",
            "dfs",
            "dfs2",
            "below",
            "near",
            "at",
            "above",
            "growth",
            "met_target",
            "grade11",
            "change",
            "change2",
        ]
        .map(col),
    );
    let order: Vec<Expr> = CELL
        .iter()
        .filter(|c| **c != "year_n")
        .chain(&["group"])
        .chain(SUMS.iter())
        .map(|c| col(*c))
        .collect();
    let sums = additive();
    let by_pattern = stream(sums_by_pattern(plan, terms, "cell", packing.bits, &sums))?;
    let schools = per_group_of_sums(plan, &by_pattern, "cell", &sums)?.collect()?;
    // The district's sums are the schools' sums.
    let key = [col("dcell"), col("group")];
    let district = schools
        .clone()
        .lazy()
        .with_column(packing.district(col("cell")).alias("dcell"))
        .group_by(key.clone())
        .agg(sums.iter().map(|(c, _)| col(*c).sum()).collect::<Vec<_>>())
        .collect()?;
    // Medians need the rows: only those with a growth, and only the columns they use.
    let growth = stream(rows.filter(col("growth").is_not_null()).select([
        col("cell"),
        col("dcell"),
        col("pattern"),
        col("growth"),
    ]))?;
    let numbered = Numbered::of_sums(schools.clone(), &district, &packing)?;
    let cell = [col("cell"), col("group")];
    let schools = schools.lazy().join(
        per_group(plan, &growth, "cell", &median)?,
        cell.clone(),
        cell,
        JoinArgs::new(JoinType::Left),
    );
    let district = district.lazy().join(
        per_group(plan, &growth, "dcell", &median)?,
        key.clone(),
        key,
        JoinArgs::new(JoinType::Left),
    );
    with_keys(&numbered, schools, district, &order)?
        .with_column(years.start_of_text().alias("year_n"))
        .select(
            CELL.iter()
                .chain(&["group"])
                .chain(SUMS.iter())
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()
}
