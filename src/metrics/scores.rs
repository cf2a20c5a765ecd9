//! Each valid score on its scale: distance from standard and band from the cut scores of its
//! subject and grade, then the growth baseline (last year's score at the baseline window, at
//! any school, the alphabetically first assessment on the scale when several have one), the
//! annual target with optional catch-up, the window target and whether it was met.

use super::Years;
use super::keys;
use crate::pipeline::Plan;
use polars::prelude::*;

/// Band codes in the `band` column.
pub const BELOW: i32 = 0;
pub const NEAR: i32 = 1;
pub const AT: i32 = 2;
pub const ABOVE: i32 = 3;

/// Window targets are rational numbers and scores whole ones; a score within this of its
/// target has met it (so 0.55 × 40 = 22.000000000000004 does not fail a score of exactly 22).
const TARGET_TOLERANCE: f64 = 1e-6;

/// Cut scores and expected growth per (scale, subject, grade).
fn cut_table(plan: &Plan) -> PolarsResult<DataFrame> {
    let (mut scale, mut subject, mut grade) = (Vec::new(), Vec::new(), Vec::new());
    let (mut near, mut at, mut above, mut g) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in plan.scales.values() {
        for (subj, grades) in &s.cuts {
            for (gr, cuts) in grades {
                scale.push(s.id.clone());
                subject.push(subj.clone());
                grade.push(*gr);
                near.push(cuts.near);
                at.push(cuts.at);
                above.push(cuts.above);
                g.push(s.expected_growth.get(subj).and_then(|e| e.get(gr)).copied());
            }
        }
    }
    df![
        "scale" => scale,
        "subject" => subject,
        "grade" => grade,
        "near" => near,
        "at" => at,
        "above" => above,
        "expected_growth" => g,
    ]
}

/// Every valid score with dfs, band, baseline and targets.
pub fn score(plan: &Plan, assessments: &DataFrame, years: &Years) -> PolarsResult<DataFrame> {
    let ids: Vec<String> = plan.assessments.keys().cloned().collect();
    let scales: Vec<String> = plan.assessments.values().map(|a| a.scale.clone()).collect();
    let cuts = cut_table(plan)?;
    let scale_of = keys::map_text("assessment", &ids, &scales, DataType::String);
    let on = [col("scale"), col("subject"), col("grade")];
    let placed = assessments
        .clone()
        .lazy()
        .select([
            col("student_id"),
            col("school_id"),
            col("school_year"),
            years.expr().alias("year_n"),
            col("window"),
            col("assessment"),
            col("subject"),
            col("grade"),
            col("scale_score"),
            scale_of.alias("scale"),
        ])
        .join(
            cuts.lazy(),
            on.clone(),
            on,
            JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_columns([
            (col("scale_score") - col("at")).alias("dfs"),
            when(col("scale_score").lt(col("near")))
                .then(lit(BELOW))
                .when(col("scale_score").lt(col("at")))
                .then(lit(NEAR))
                .when(col("scale_score").lt(col("above")))
                .then(lit(AT))
                .otherwise(lit(ABOVE))
                .alias("band"),
        ])
        .collect()?;

    let student_keys = [
        col("student_id"),
        col("year_n"),
        col("scale"),
        col("subject"),
    ];
    let baseline = placed
        .clone()
        .lazy()
        .filter(col("window").eq(lit(plan.growth.baseline_window.as_str())))
        .select([
            col("student_id"),
            (col("year_n") + lit(1)).alias("year_n"),
            col("scale"),
            col("subject"),
            col("assessment").alias("baseline_assessment"),
            col("scale_score").alias("baseline_score"),
            col("dfs").alias("baseline_dfs"),
        ])
        .sort(
            ["baseline_assessment"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .unique_stable_generic(Some(student_keys.to_vec()), UniqueKeepStrategy::First)
        .drop(by_name(["baseline_assessment"], true, false));

    let window_ids: Vec<String> = plan.windows.iter().map(|w| w.id.clone()).collect();
    let shares: Vec<f64> = plan.windows.iter().map(|w| w.share_of_year).collect();
    let share = keys::map_text("window", &window_ids, &shares, DataType::Float64);
    let b = col("baseline_score").cast(DataType::Float64);
    let catch_up = match plan.growth.years_to_standard {
        Some(k) => when(col("baseline_dfs").lt(lit(0)))
            .then(-col("baseline_dfs").cast(DataType::Float64) / lit(f64::from(k)))
            .otherwise(lit(0.0)),
        None => lit(0.0),
    };
    placed
        .lazy()
        .join(
            baseline,
            student_keys.clone(),
            student_keys,
            JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_column((b.clone() + col("expected_growth") + catch_up).alias("annual_target"))
        .with_column((b.clone() + share * (col("annual_target") - b)).alias("window_target"))
        .with_columns([
            (col("scale_score") - col("baseline_score")).alias("growth"),
            col("scale_score")
                .cast(DataType::Float64)
                .gt_eq(col("window_target") - lit(TARGET_TOLERANCE))
                .alias("met_target"),
        ])
        .collect()
}

/// The restricted student-level table: one row per valid score.
pub fn student_growth(scored: &DataFrame) -> PolarsResult<DataFrame> {
    let lf = scored.clone().lazy().select([
        col("student_id"),
        col("school_id"),
        col("school_year"),
        col("window"),
        col("assessment"),
        col("subject"),
        col("grade"),
        col("baseline_score"),
        col("annual_target"),
        col("window_target"),
        col("scale_score"),
        col("growth"),
        col("met_target"),
    ]);
    super::sorted("student_growth", lf)
}
