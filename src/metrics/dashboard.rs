//! California Dashboard status, change, levels and color for the summative (last) window.
//! Status and change are stored unrounded; for classification each is rounded to a tenth,
//! half away from zero, from its exact fraction of whole numbers (a mean DFS is Σdfs/n), so
//! −101/20 = −5.05 rounds to −5.1 even though the float −5.05 would round to −5.0.

use super::cells::CELL;
use super::{DISTRICT, ratio, sorted, suppression};
use crate::pipeline::Plan;
use polars::prelude::*;

pub const COLUMNS: [&str; 14] = [
    "school_id",
    "school_year",
    "assessment",
    "subject",
    "group",
    "n",
    "prior_n",
    "status",
    "prior_status",
    "change",
    "status_level",
    "change_level",
    "color",
    "suppressed",
];

/// The Dashboard shows a status for n >= 11 and compares with a prior year of n >= 11.
const MIN_N_STATUS: i64 = 11;

/// Lower bounds (in tenths of a point) of status levels 2–5: Low, Medium, High, Very High.
fn status_cuts(subject: &str, high_school: bool) -> Option<[i64; 4]> {
    match (subject, high_school) {
        ("ela", false) => Some([-700, -50, 100, 450]),
        ("math", false) => Some([-950, -250, 0, 350]),
        ("ela", true) => Some([-450, 0, 300, 750]),
        ("math", true) => Some([-1150, -600, 0, 250]),
        _ => None,
    }
}

/// Color (1 Red … 5 Blue) by status level (1–5) and change level (1–5).
const COLOR: [[i32; 5]; 5] = [
    [1, 1, 1, 2, 2], // Very Low
    [2, 2, 2, 3, 3], // Low
    [3, 3, 3, 4, 4], // Medium
    [4, 4, 4, 4, 5], // High
    [4, 4, 5, 5, 5], // Very High
];

/// num/den in tenths, rounded half away from zero, in integers (den > 0):
/// sign(q) · ⌊(2|q| + den) / 2den⌋ with q = 10·num.
pub fn tenths(num: Expr, den: Expr) -> Expr {
    let q = num * lit(10i64);
    let magnitude = (q.clone().abs() * lit(2i64) + den.clone()).floor_div(den * lit(2i64));
    when(q.lt(lit(0i64)))
        .then(lit(0i64) - magnitude.clone())
        .otherwise(magnitude)
}

/// The status level of a rounded status, for every (subject, high school) table.
fn status_level(t: Expr) -> Expr {
    let mut chain: Option<Then> = None;
    let mut chained: Option<ChainedThen> = None;
    for subject in ["ela", "math"] {
        for hs in [true, false] {
            let cuts = status_cuts(subject, hs).expect("both subjects have tables");
            let level = cuts.iter().fold(lit(1i32), |acc, c| {
                acc + t.clone().gt_eq(lit(*c)).cast(DataType::Int32)
            });
            let cond = col("subject")
                .eq(lit(subject))
                .and(col("high_school").eq(lit(hs)));
            match (chain.take(), chained.take()) {
                (None, None) => chain = Some(when(cond).then(level)),
                (Some(c), None) => chained = Some(c.when(cond).then(level)),
                (None, Some(c)) => chained = Some(c.when(cond).then(level)),
                (Some(_), Some(_)) => unreachable!(),
            }
        }
    }
    chained
        .expect("four tables")
        .otherwise(lit(NULL).cast(DataType::Int32))
}

/// change < −15 → 1; −15 ≤ change ≤ −3 → 2; −3 < change < 3 → 3; 3 ≤ change < 15 → 4; ≥ 15 → 5.
fn change_level(c: Expr) -> Expr {
    let step = |e: Expr| e.cast(DataType::Int32);
    lit(1i32)
        + step(c.clone().gt_eq(lit(-150i64)))
        + step(c.clone().gt(lit(-30i64)))
        + step(c.clone().gt_eq(lit(30i64)))
        + step(c.gt_eq(lit(150i64)))
}

pub fn table(plan: &Plan, stats: &DataFrame) -> PolarsResult<DataFrame> {
    let last = plan.last_window().id.as_str();
    let summative = stats.clone().lazy().filter(col("window").eq(lit(last)));
    let cell4 = ["school_id", "year_n", "assessment", "subject"].map(col);
    // The high-school table applies when every summative score of the school, assessment,
    // subject and year is at grade 11; the district roll-up uses the regular table.
    let high_school = summative
        .clone()
        .filter(col("group").eq(lit("all")))
        .select([
            col("school_id"),
            col("year_n"),
            col("assessment"),
            col("subject"),
            col("n_grade11")
                .eq(col("n"))
                .and(col("school_id").neq(lit(DISTRICT)))
                .alias("high_school"),
        ]);
    let mut key5 = cell4.to_vec();
    key5.push(col("group"));
    let prior = summative.clone().select([
        col("school_id"),
        (col("year_n") + lit(1)).alias("year_n"),
        col("assessment"),
        col("subject"),
        col("group"),
        col("n").alias("prior_n"),
        col("sum_dfs").alias("prior_sum"),
        col("suppressed_baselines").alias("prior_hidden"),
    ]);
    let left = || JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns);
    let min_prior = MIN_N_STATUS.max(i64::from(plan.privacy.min_n_display));
    let small_groups = Series::new("small".into(), plan.dashboard.small_groups.clone());
    let min_color = when(col("group").is_in(lit(small_groups).implode(false), false))
        .then(lit(i64::from(plan.dashboard.min_n_color_small)))
        .otherwise(lit(i64::from(plan.dashboard.min_n_color)));
    let (codes, colors): (Vec<i32>, Vec<i32>) = (0..5)
        .flat_map(|s| (0..5).map(move |c| ((s + 1) * 10 + c + 1, COLOR[s as usize][c as usize])))
        .unzip();
    let mut select: Vec<Expr> = CELL
        .iter()
        .filter(|c| **c != "window")
        .map(|c| col(*c))
        .collect();
    select.extend(["group", "n", "sum_dfs", "suppressed_baselines"].map(col));
    let lf = summative
        .select(select)
        .join(high_school, cell4.clone(), cell4, left())
        .join(prior, key5.clone(), key5, left())
        // Prior-year values come only from rows the prior year published.
        .with_column(
            col("prior_n")
                .gt_eq(lit(min_prior))
                .and(col("prior_hidden").not())
                .fill_null(lit(false))
                .alias("prior_ok"),
        )
        .with_columns([
            ratio(col("sum_dfs"), col("n")).alias("status"),
            when(col("prior_ok"))
                .then(ratio(col("prior_sum"), col("prior_n")))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("prior_status"),
            tenths(col("sum_dfs"), col("n")).alias("status_tenths"),
            tenths(
                col("sum_dfs") * col("prior_n") - col("prior_sum") * col("n"),
                col("n") * col("prior_n"),
            )
            .alias("change_tenths"),
        ])
        .with_columns([
            (col("status") - col("prior_status")).alias("change"),
            when(col("n").gt_eq(lit(MIN_N_STATUS)))
                .then(status_level(col("status_tenths")))
                .otherwise(lit(NULL).cast(DataType::Int32))
                .alias("status_level"),
            when(col("prior_ok"))
                .then(change_level(col("change_tenths")))
                .otherwise(lit(NULL).cast(DataType::Int32))
                .alias("change_level"),
        ])
        .with_column(
            when(
                col("prior_ok")
                    .and(col("n").gt_eq(min_color.clone()))
                    .and(col("prior_n").gt_eq(min_color)),
            )
            .then(
                (col("status_level") * lit(10i32) + col("change_level")).replace_strict(
                    lit(Series::new("codes".into(), codes)),
                    lit(Series::new("colors".into(), colors)),
                    Some(lit(NULL).cast(DataType::Int32)),
                    Some(DataType::Int32),
                ),
            )
            .otherwise(lit(NULL).cast(DataType::Int32))
            .alias("color"),
        )
        .with_column(
            when(col("prior_ok"))
                .then(col("prior_n"))
                .otherwise(lit(NULL).cast(DataType::Int64))
                .alias("prior_n"),
        );
    // The Dashboard row is suppressed with the baselines row of the last window.
    let lf = suppression::hide(
        lf.with_column(col("suppressed_baselines").alias("suppressed")),
        &COLUMNS[5..13],
    );
    sorted("dashboard", lf.select(COLUMNS.map(col)))
}
