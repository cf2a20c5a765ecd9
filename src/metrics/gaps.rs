//! Gaps and gap closure for every configured pair and metric: gap = m(R) − m(F), its
//! standard error and 95% interval, gap_sd, and against the same window a year earlier the
//! change, its decomposition into focal and reference change, closure % and the target.
//! `rest` is `all` minus the focal group, from whole-number sums; when R is `all` the
//! standard error is the F-vs-rest one times n_rest/n_all, which is exact because
//! mean_all − mean_F = (n_rest/n_all)(mean_rest − mean_F).

use super::cells::CELL;
use super::{Z95, ratio, sorted, suppression};
use crate::pipeline::Plan;
use crate::pipeline::plan::{GapPair, Metric, Target};
use polars::prelude::*;

pub const COLUMNS: [&str; 28] = [
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "metric",
    "focal_group",
    "reference_group",
    "n_focal",
    "n_reference",
    "focal_value",
    "reference_value",
    "gap",
    "se",
    "ci_low",
    "ci_high",
    "distinguishable",
    "gap_sd",
    "baseline_gap",
    "gap_change",
    "change_se",
    "change_distinguishable",
    "closure_pct",
    "focal_change",
    "reference_change",
    "target_gap",
    "on_track",
    "suppressed",
];

/// (n, Σx, Σx²) of a metric per cell and group: DFS for mean_dfs; 0/1 indicators (so
/// Σx = Σx²) for the two percentages, whose n for growth targets is the students with one.
fn metric_sums(stats: &DataFrame, metric: Metric) -> PolarsResult<DataFrame> {
    let (n, s1, s2, hidden) = match metric {
        Metric::MeanDfs => (
            col("n"),
            col("sum_dfs"),
            col("sum_dfs2"),
            col("suppressed_baselines"),
        ),
        Metric::PctMetStandard => (
            col("n"),
            col("n_at") + col("n_above"),
            col("n_at") + col("n_above"),
            col("suppressed_baselines"),
        ),
        Metric::PctMetGrowthTarget => (
            col("n_target"),
            col("n_met"),
            col("n_met"),
            col("suppressed_growth"),
        ),
    };
    sums(stats, n, s1, s2, hidden)
}

/// (n, Σx, Σx², hidden) per cell and group, rows with n > 0 only: the input of `pair_frame`.
pub(super) fn sums(
    stats: &DataFrame,
    n: Expr,
    s1: Expr,
    s2: Expr,
    hidden: Expr,
) -> PolarsResult<DataFrame> {
    let mut select: Vec<Expr> = CELL.iter().map(|c| col(*c)).collect();
    select.extend([
        col("group"),
        n.alias("n"),
        s1.alias("s1"),
        s2.alias("s2"),
        hidden.alias("hidden"),
    ]);
    stats
        .clone()
        .lazy()
        .select(select)
        .filter(col("n").gt(lit(0i64)))
        .collect()
}

fn side(sums: &DataFrame, group: &str, suffix: &str) -> LazyFrame {
    let mut select: Vec<Expr> = CELL.iter().map(|c| col(*c)).collect();
    for c in ["n", "s1", "s2", "hidden"] {
        select.push(col(c).alias(format!("{c}_{suffix}")));
    }
    sums.clone()
        .lazy()
        .filter(col("group").eq(lit(group)))
        .select(select)
}

fn n(s: &str) -> Expr {
    col(format!("n_{s}"))
}
fn s1(s: &str) -> Expr {
    col(format!("s1_{s}"))
}
fn s2(s: &str) -> Expr {
    col(format!("s2_{s}"))
}
/// n·Σx² − (Σx)², exact in integers.
fn spread(s: &str) -> Expr {
    n(s) * s2(s) - s1(s) * s1(s)
}

/// Both sides of one pair for one metric, with `q` the side the standard error and pooled SD
/// use (`rest` when R is `all`) and `mult` the factor on the standard error.
pub(super) fn pair_frame(sums: &DataFrame, pair: &GapPair, metric: Metric) -> LazyFrame {
    let cell: Vec<Expr> = CELL.iter().map(|c| col(*c)).collect();
    let inner = || JoinArgs::new(JoinType::Inner).with_coalesce(JoinCoalesce::CoalesceColumns);
    let joined = side(sums, &pair.focal, "f")
        .join(side(sums, "all", "a"), cell.clone(), cell.clone(), inner())
        .with_columns([
            (n("a") - n("f")).alias("n_x"),
            (s1("a") - s1("f")).alias("s1_x"),
            (s2("a") - s2("f")).alias("s2_x"),
        ]);
    let copy = |from: &str, to: &str| {
        ["n", "s1", "s2"].map(|c| col(format!("{c}_{from}")).alias(format!("{c}_{to}")))
    };
    // A side is hidden when its row is; `rest` (= all − F) is hidden with `all` or F, so with
    // R = `all` or `rest` the gap also waits for `all`.
    let hidden = |sides: &[&str]| {
        sides
            .iter()
            .map(|s| col(format!("hidden_{s}")))
            .reduce(|a, b| a.or(b))
            .expect("at least one side")
            .alias("hidden")
    };
    let null_i64 = || lit(NULL).cast(DataType::Int64);
    match pair.reference.as_str() {
        "all" => joined
            .with_columns(copy("a", "r"))
            .with_columns(copy("x", "q"))
            .with_columns([
                ratio(n("x"), n("a")).alias("mult"),
                n("x").alias("n_other"),
                hidden(&["f", "a"]),
            ]),
        "rest" => joined
            .filter(n("x").gt(lit(0i64)))
            .with_columns(copy("x", "r"))
            .with_columns(copy("x", "q"))
            .with_columns([
                lit(1.0).alias("mult"),
                null_i64().alias("n_other"),
                hidden(&["f", "a"]),
            ]),
        group => joined
            .join(side(sums, group, "r"), cell.clone(), cell, inner())
            .with_columns(copy("r", "q"))
            .with_columns([
                lit(1.0).alias("mult"),
                null_i64().alias("n_other"),
                hidden(&["f", "r"]),
            ]),
    }
    .with_columns([
        lit(metric.name()).alias("metric"),
        lit(pair.focal.as_str()).alias("focal_group"),
        lit(pair.reference.as_str()).alias("reference_group"),
    ])
}

/// Gap, standard error, interval and gap_sd of one (pair, metric) frame.
pub(super) fn measures(lf: LazyFrame, metric: Metric, target: Target) -> LazyFrame {
    let f64 = |e: Expr| e.cast(DataType::Float64);
    let (scale, is_mean) = match metric {
        Metric::MeanDfs => (1.0, true),
        _ => (100.0, false),
    };
    let value = |s: &str| ratio(s1(s), n(s)) * lit(scale);
    // Per-student variance: the sample variance of DFS, or p(1 − p) in percent² units.
    let unit_var = |s: &str| {
        let denominator = if is_mean {
            n(s) * (n(s) - lit(1i64))
        } else {
            n(s) * n(s)
        };
        when(n(s).gt(lit(1i64)))
            .then(ratio(spread(s), denominator) * lit(scale * scale))
            .otherwise(lit(NULL).cast(DataType::Float64))
    };
    let se = ((unit_var("q") / f64(n("q")) + unit_var("f") / f64(n("f"))).sqrt()) * col("mult");
    let pooled = (ratio(spread("f"), n("f")) + ratio(spread("q"), n("q")))
        / f64(n("f") + n("q") - lit(2i64));
    let gap_sd = if is_mean {
        when(
            (n("f") + n("q") - lit(2i64))
                .gt(lit(0i64))
                .and(pooled.clone().gt(lit(0.0))),
        )
        .then(col("gap") / pooled.sqrt())
        .otherwise(lit(NULL).cast(DataType::Float64))
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    let (points, rate) = match target {
        Target::Points(p) => (p, 0.0),
        Target::Fraction { fraction, years } => (0.0, fraction / f64::from(years)),
    };
    lf.with_columns([
        n("f").alias("n_focal"),
        n("r").alias("n_reference"),
        value("f").alias("focal_value"),
        value("r").alias("reference_value"),
        se.alias("se"),
    ])
    .with_column((col("reference_value") - col("focal_value")).alias("gap"))
    .with_columns([
        (col("gap") - lit(Z95) * col("se")).alias("ci_low"),
        (col("gap") + lit(Z95) * col("se")).alias("ci_high"),
        gap_sd.alias("gap_sd"),
        lit(points).alias("closure_points"),
        lit(rate).alias("closure_rate"),
    ])
    .with_column(
        col("ci_low")
            .gt(lit(0.0))
            .or(col("ci_high").lt(lit(0.0)))
            .alias("distinguishable"),
    )
}

/// Every pair and metric at every cell, with the comparison point, suppression applied.
/// Keeps `year_n` and `n_other` (the size of `rest` when R is `all`) for flags.
pub fn compute(plan: &Plan, stats: &DataFrame) -> PolarsResult<DataFrame> {
    // The cell, the contract's columns from `metric` to `gap_sd`, and what the comparison,
    // the targets and flags still need.
    let keep: Vec<Expr> = CELL
        .iter()
        .chain(&COLUMNS[5..18])
        .chain(&["n_other", "closure_points", "closure_rate", "hidden"])
        .map(|c| col(*c))
        .collect();
    let mut parts = Vec::new();
    for &metric in &plan.gaps.metrics {
        let sums = metric_sums(stats, metric)?;
        for pair in &plan.gaps.pairs {
            let lf = measures(pair_frame(&sums, pair, metric), metric, pair.target);
            parts.push(lf.select(keep.clone()));
        }
    }
    if parts.is_empty() {
        return empty();
    }
    let min_n = i64::from(plan.privacy.min_n_display);
    let current = concat(parts, UnionArgs::default())?
        .with_column(
            col("n_focal")
                .lt(lit(min_n))
                .or(col("n_reference").lt(lit(min_n)))
                .or(col("n_other").lt(lit(min_n)).fill_null(lit(false)))
                .or(col("hidden"))
                .alias("small"),
        )
        .collect()?;

    let key = [
        "school_id",
        "year_n",
        "window",
        "assessment",
        "subject",
        "metric",
        "focal_group",
        "reference_group",
    ]
    .map(col);
    let prior = current
        .clone()
        .lazy()
        .filter(
            col("small")
                .not()
                .and(col("metric").neq(lit(Metric::PctMetGrowthTarget.name()))),
        )
        .select([
            col("school_id"),
            (col("year_n") + lit(1)).alias("year_n"),
            col("window"),
            col("assessment"),
            col("subject"),
            col("metric"),
            col("focal_group"),
            col("reference_group"),
            col("gap").alias("baseline_gap"),
            col("se").alias("baseline_se"),
            col("focal_value").alias("prior_focal"),
            col("reference_value").alias("prior_reference"),
        ]);
    let bg = || col("baseline_gap");
    let lf = current
        .lazy()
        .join(
            prior,
            key.clone(),
            key,
            JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_columns([
            (col("gap") - bg()).alias("gap_change"),
            (col("se") * col("se") + col("baseline_se") * col("baseline_se"))
                .sqrt()
                .alias("change_se"),
            when(bg().gt_eq(lit(plan.gaps.min_gap)))
                .then(lit(100.0) * (bg() - col("gap")) / bg())
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("closure_pct"),
            (col("focal_value") - col("prior_focal")).alias("focal_change"),
            (col("reference_value") - col("prior_reference")).alias("reference_change"),
            (bg() - col("closure_points") - col("closure_rate") * bg()).alias("target_gap"),
        ])
        .with_columns([
            col("gap_change")
                .abs()
                .gt(lit(Z95) * col("change_se"))
                .alias("change_distinguishable"),
            col("gap").lt_eq(col("target_gap")).alias("on_track"),
        ]);
    // n_other is a count like the others: hidden on suppressed rows too.
    let mut hide = COLUMNS[8..27].to_vec();
    hide.push("n_other");
    let lf = suppression::hide(lf.with_column(col("small").alias("suppressed")), &hide);
    let mut out: Vec<Expr> = COLUMNS.map(col).to_vec();
    out.extend([col("year_n"), col("n_other")]);
    lf.select(out).collect()
}

fn empty() -> PolarsResult<DataFrame> {
    let mut cols: Vec<Column> = Vec::new();
    for c in COLUMNS {
        let dtype = match c {
            "school_id" | "school_year" | "window" | "assessment" | "subject" | "metric"
            | "focal_group" | "reference_group" => DataType::String,
            "n_focal" | "n_reference" => DataType::Int64,
            "distinguishable" | "change_distinguishable" | "on_track" | "suppressed" => {
                DataType::Boolean
            }
            _ => DataType::Float64,
        };
        cols.push(Column::new_empty(c.into(), &dtype));
    }
    cols.push(Column::new_empty("year_n".into(), &DataType::Int32));
    cols.push(Column::new_empty("n_other".into(), &DataType::Int64));
    DataFrame::new_infer_height(cols)
}

/// The published table: the contract's columns, sorted by key.
pub fn published(full: DataFrame) -> PolarsResult<DataFrame> {
    sorted("gaps", full.lazy().select(COLUMNS.map(col)))
}
