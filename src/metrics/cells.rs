//! Sums per cell and group: one pass per group over the scored rows, at each school and for
//! the district roll-up. Everything downstream (baselines, growth, gaps, the Dashboard) is
//! read off these sums, and the sums are whole numbers, so `rest` (= `all` − group) and
//! variances are exact.

use super::keys::{self, Packing};
use super::scores::{ABOVE, AT, BELOW, NEAR};
use super::{Years, fill_members, number, per_group, with_keys};
use crate::pipeline::Plan;
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
pub const SUMS: [&str; 14] = [
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
    ]
}

fn sums() -> Vec<Expr> {
    let n = |c: &str| col(c).count().cast(DataType::Int64);
    vec![
        len().cast(DataType::Int64).alias("n"),
        col("scale_score").sum().alias("sum_score"),
        col("dfs").sum().alias("sum_dfs"),
        col("dfs2").sum().alias("sum_dfs2"),
        col("below").sum().alias("n_below"),
        col("near").sum().alias("n_near"),
        col("at").sum().alias("n_at"),
        col("above").sum().alias("n_above"),
        n("growth").alias("n_with_baseline"),
        col("growth").sum().alias("sum_growth"),
        col("growth").median().alias("median_growth"),
        n("met_target").alias("n_target"),
        col("met_target").sum().alias("n_met"),
        col("grade11").sum().alias("n_grade11"),
    ]
}

/// One row per (cell, group) that has at least one score, for every school and the district.
pub fn stats(
    plan: &Plan,
    scored: &DataFrame,
    members: &LazyFrame,
    ids: &DataFrame,
    years: &Years,
) -> PolarsResult<DataFrame> {
    let packing = Packing::new(vec![
        ("school_id", keys::distinct(scored, "school_id")?),
        ("school_year", years.values()),
        (
            "window",
            plan.windows.iter().map(|w| w.id.clone()).collect(),
        ),
        ("assessment", plan.assessments.keys().cloned().collect()),
        (
            "subject",
            plan.subjects().into_iter().map(str::to_string).collect(),
        ),
    ])?;
    let mut select = vec![packing.cell().alias("cell")];
    select.extend(
        [
            "student_id",
            "school_year",
            "grade",
            "scale_score",
            "dfs",
            "band",
            "growth",
            "met_target",
        ]
        .map(col),
    );
    let rows = keys::attach(
        scored.clone().lazy().select(select),
        ids,
        "student_id",
        "sidx",
    )
    .with_column(years.member_key(col("sidx")).alias("mkey"))
    .join(
        members.clone(),
        [col("mkey")],
        [col("mkey")],
        JoinArgs::new(JoinType::Left),
    )
    .with_columns(fill_members(plan))
    .with_columns(terms())
    .drop(by_name(
        ["student_id", "school_year", "sidx", "mkey", "band", "grade"],
        true,
        false,
    ));
    let numbered = number(rows, &packing)?;
    let order: Vec<Expr> = CELL
        .iter()
        .filter(|c| **c != "year_n")
        .chain(&["group"])
        .chain(SUMS.iter())
        .map(|c| col(*c))
        .collect();
    let schools = per_group(plan, &numbered.rows, "cell", &sums)?.collect()?;
    // The district's sums are the schools' sums; only the median needs the rows again.
    let district_key = [col("dcell"), col("group")];
    let rolled = schools
        .clone()
        .lazy()
        .with_column(packing.district(col("cell")).alias("dcell"))
        .group_by(district_key.clone())
        .agg(
            SUMS.iter()
                .filter(|c| **c != "median_growth")
                .map(|c| col(*c).sum())
                .collect::<Vec<_>>(),
        );
    let medians = per_group(plan, &numbered.rows, "dcell", &|| {
        vec![col("growth").median().alias("median_growth")]
    })?;
    let district = rolled.join(
        medians,
        district_key.clone(),
        district_key,
        JoinArgs::new(JoinType::Inner),
    );
    with_keys(&numbered, schools.lazy(), district, &order)?
        .with_column(years.expr().alias("year_n"))
        .select(
            CELL.iter()
                .chain(&["group"])
                .chain(SUMS.iter())
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()
}
