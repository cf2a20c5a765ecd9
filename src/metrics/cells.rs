//! Sums per cell and group: one pass per group over the scored rows, at each school and for
//! the district roll-up. Everything downstream (baselines, growth, gaps, the Dashboard) is
//! read off these sums, and the sums are whole numbers, so `rest` (= `all` − group) and
//! variances are exact.

use super::scores::{ABOVE, AT, BELOW, NEAR};
use super::{DISTRICT, fill_members, member_col};
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

fn sums() -> Vec<Expr> {
    let i64 = |e: Expr| e.cast(DataType::Int64);
    let count_band = |b: i32| i64(col("band").eq(lit(b))).sum();
    vec![
        len().cast(DataType::Int64).alias("n"),
        i64(col("scale_score")).sum().alias("sum_score"),
        i64(col("dfs")).sum().alias("sum_dfs"),
        (i64(col("dfs")) * i64(col("dfs"))).sum().alias("sum_dfs2"),
        count_band(BELOW).alias("n_below"),
        count_band(NEAR).alias("n_near"),
        count_band(AT).alias("n_at"),
        count_band(ABOVE).alias("n_above"),
        i64(col("growth").count()).alias("n_with_baseline"),
        i64(col("growth")).sum().alias("sum_growth"),
        col("growth")
            .cast(DataType::Float64)
            .median()
            .alias("median_growth"),
        i64(col("met_target").count()).alias("n_target"),
        i64(col("met_target")).sum().alias("n_met"),
        i64(col("grade").eq(lit(11))).sum().alias("n_grade11"),
    ]
}

/// One row per (cell, group) that has at least one score, for every school and the district.
pub fn stats(plan: &Plan, scored: &DataFrame, members: &LazyFrame) -> PolarsResult<DataFrame> {
    let mut select: Vec<Expr> = CELL.iter().map(|c| col(*c)).collect();
    select.extend(
        [
            "student_id",
            "grade",
            "scale_score",
            "dfs",
            "band",
            "growth",
            "met_target",
        ]
        .map(col),
    );
    let on = [col("student_id"), col("school_year")];
    let rows = scored
        .clone()
        .lazy()
        .select(select)
        .join(
            members.clone(),
            on.clone(),
            on,
            JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_columns(fill_members(plan))
        .drop(by_name(["student_id"], true, false))
        .collect()?;

    let order: Vec<Expr> = CELL
        .iter()
        .chain(&["group"])
        .chain(SUMS.iter())
        .map(|c| col(*c))
        .collect();
    let district_keys: Vec<Expr> = CELL[1..].iter().map(|c| col(*c)).collect();
    let school_keys: Vec<Expr> = CELL.iter().map(|c| col(*c)).collect();
    let mut parts = Vec::new();
    for g in &plan.groups {
        let base = match g.column {
            None => rows.clone().lazy(),
            Some(_) => rows.clone().lazy().filter(col(member_col(&g.id))),
        };
        parts.push(
            base.clone()
                .group_by(school_keys.clone())
                .agg(sums())
                .with_column(lit(g.id.as_str()).alias("group"))
                .select(order.clone()),
        );
        parts.push(
            base.group_by(district_keys.clone())
                .agg(sums())
                .with_columns([
                    lit(DISTRICT).alias("school_id"),
                    lit(g.id.as_str()).alias("group"),
                ])
                .select(order.clone()),
        );
    }
    concat(
        parts,
        UnionArgs {
            parallel: true,
            ..Default::default()
        },
    )?
    .collect()
}
