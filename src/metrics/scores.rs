//! Each valid score on its scale: distance from standard and band from the cut scores of its
//! subject and grade, then the growth baseline (last year's score at the baseline window, at
//! any school, the alphabetically first assessment on the scale when several have one), the
//! annual target with optional catch-up, the window target and whether it was met; and the
//! same-students change: distance from standard against the same window a year earlier, for
//! students tested then at the same school.

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

/// Cut scores and expected growth per (scale, subject, grade), keyed by `ckey`.
fn cut_table(plan: &Plan, subjects: &[String]) -> PolarsResult<DataFrame> {
    let (mut key, mut near, mut at, mut above, mut g) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (scale_code, s) in plan.scales.values().enumerate() {
        for (subj, grades) in &s.cuts {
            let subject_code = subjects.iter().position(|x| x == subj).unwrap_or(0);
            for (gr, cuts) in grades {
                key.push(cut_key(scale_code as u64, subject_code as u64, *gr as u64));
                near.push(cuts.near);
                at.push(cuts.at);
                above.push(cuts.above);
                g.push(s.expected_growth.get(subj).and_then(|e| e.get(gr)).copied());
            }
        }
    }
    df![
        "ckey" => key,
        "near" => near,
        "at" => at,
        "above" => above,
        "expected_growth" => g,
    ]
}

/// The key of a (scale, subject, grade) in the cut table.
fn cut_key(scale: u64, subject: u64, grade: u64) -> u64 {
    (scale << 16) + (subject << 8) + grade
}

/// The key columns of a score, taken from the assessments as they are (see `score`): ids
/// numbered and codes coded (see `validate::ids` and `validate::codes`).
const KEYS: [&str; 6] = crate::canonical::SCORE_ORDER;

/// Scores placed on their scale at a time, at most (see `score`): a few hundred megabytes of
/// working columns, however many scores a run has.
pub const SLICE_ROWS: usize = 1 << 22;

/// Every valid score with dfs, band, baseline and targets, one row per assessments row in
/// the same order. The student's and school's numbers (see `validate::ids`) are the keys of
/// the work, the student's carried as `sidx`, so the joins never copy or hash text; the key
/// columns are the assessments' own, shared rather than copied.
///
/// The assessments come sorted by student first (see `SCORE_ORDER`), and every score looks
/// only at the same student's other scores (a year earlier, the baseline), so they are scored
/// a slice of about `slice_rows` rows at a time, each slice ending where a student does: the
/// joins then never hold more than one slice's rows, and the slices stack up in order.
pub fn score(
    plan: &Plan,
    assessments: &DataFrame,
    years: &Years,
    slice_rows: usize,
) -> PolarsResult<DataFrame> {
    let scoring = Scoring::new(plan, years)?;
    let students = assessments.column("student_id")?;
    let mut stacked: Option<DataFrame> = None;
    for (offset, len) in student_slices(students.u32()?, slice_rows) {
        let mut slice = assessments.slice(offset as i64, len);
        slice.with_column(
            students
                .slice(offset as i64, len)
                .cast(&DataType::UInt64)?
                .with_name("sidx".into()),
        )?;
        let part = scoring.slice(slice)?;
        match stacked.as_mut() {
            None => stacked = Some(part),
            Some(df) => {
                df.vstack_mut_owned(part)?;
            }
        }
    }
    let numbers = stacked.expect("at least one slice");
    let mut columns: Vec<Column> = KEYS
        .iter()
        .map(|c| assessments.column(c).cloned())
        .collect::<PolarsResult<_>>()?;
    columns.extend(numbers.into_columns());
    DataFrame::new(assessments.height(), columns)
}

/// The restricted student-level table: one row per valid score, in the assessments' order,
/// which is already its key order (see `SCORE_ORDER`).
pub fn student_growth(scored: &DataFrame) -> PolarsResult<DataFrame> {
    scored.select(KEYS.into_iter().chain([
        "grade",
        "baseline_score",
        "annual_target",
        "window_target",
        "scale_score",
        "growth",
        "met_target",
    ]))
}

/// Row ranges `(offset, len)` of about `rows` rows each that end where a student's rows do
/// (each student's rows are together); one empty range for no rows.
pub(super) fn student_slices(student_ids: &UInt32Chunked, rows: usize) -> Vec<(usize, usize)> {
    let n = student_ids.len();
    let mut slices = Vec::new();
    let mut start = 0;
    while start < n || slices.is_empty() {
        let mut end = (start + rows.max(1)).min(n);
        while end < n && student_ids.get(end) == student_ids.get(end - 1) {
            end += 1;
        }
        slices.push((start, end - start));
        start = end;
    }
    slices
}

/// What every slice of scores is placed with: the codes of the plan's keys and the cut table.
struct Scoring<'a> {
    plan: &'a Plan,
    years: &'a Years,
    scale_codes: Vec<u64>,
    window_ids: Vec<String>,
    cuts: DataFrame,
}

impl<'a> Scoring<'a> {
    fn new(plan: &'a Plan, years: &'a Years) -> PolarsResult<Self> {
        let scale_ids: Vec<&String> = plan.scales.keys().collect();
        let subjects: Vec<String> = plan.subjects().into_iter().map(str::to_string).collect();
        Ok(Scoring {
            plan,
            years,
            scale_codes: plan
                .assessments
                .values()
                .map(|a| scale_ids.iter().position(|s| **s == a.scale).unwrap_or(0) as u64)
                .collect(),
            cuts: cut_table(plan, &subjects)?,
            window_ids: plan.windows.iter().map(|w| w.id.clone()).collect(),
        })
    }

    /// The numeric columns of a slice of the assessments that holds every row of its
    /// students and carries their numbers (`sidx`), in the slice's order.
    fn slice(&self, slice: DataFrame) -> PolarsResult<DataFrame> {
        let (plan, years) = (self.plan, self.years);
        let on = [col("ckey")];
        let coded = slice
            .lazy()
            .with_row_index("row", None)
            .select([
                col("row"),
                col("sidx"),
                col("school_id").cast(DataType::UInt64).alias("school"),
                col("school_year").alias("year_n"),
                // The assessments' codes are positions in the pipeline's windows, assessments
                // (alphabetical) and subjects (see `validate::codes`).
                col("window").cast(DataType::UInt64).alias("window_code"),
                col("assessment")
                    .cast(DataType::UInt64)
                    .alias("assessment_code"),
                col("subject").cast(DataType::UInt64).alias("subject_code"),
                col("grade"),
                col("scale_score"),
                keys::map_int(
                    "assessment",
                    (0..self.scale_codes.len() as i64).collect(),
                    Series::new("scale".into(), self.scale_codes.clone()),
                )
                .alias("scale_code"),
            ])
            // Scale and subject as one code: the cut table and the baseline are found by one
            // integer key each.
            .with_column(
                (col("scale_code") * lit(1u64 << 8) + col("subject_code")).alias("scale_subject"),
            )
            .drop(by_name(["scale_code"], true, false));
        let placed = coded
            .with_column(
                (col("scale_subject") * lit(1u64 << 8) + col("grade").cast(DataType::UInt64))
                    .alias("ckey"),
            )
            .join(
                self.cuts.clone().lazy(),
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
            .drop(by_name(["near", "at", "above"], true, false))
            .collect()?;
        // (student, year, scale, subject) as one integer; a baseline row is keyed by the year it
        // is the baseline of.
        let student_key = |year_offset: i32| {
            ((col("sidx") * lit(1u64 << 8)
                + (col("year_n") + lit(year_offset - years.first())).cast(DataType::UInt64))
                * lit(1u64 << 16))
                + col("scale_subject")
        };
        let baseline_window = self
            .window_ids
            .iter()
            .position(|w| *w == plan.growth.baseline_window)
            .map_or(u64::MAX, |p| p as u64);
        let baseline = placed
            .clone()
            .lazy()
            .filter(col("window_code").eq(lit(baseline_window)))
            .select([
                student_key(1).alias("bkey"),
                col("assessment_code").alias("baseline_assessment"),
                col("scale_score").alias("baseline_score"),
                col("dfs").alias("baseline_dfs"),
            ])
            .sort(
                ["baseline_assessment"],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .unique_stable_generic(Some(vec![col("bkey")]), UniqueKeepStrategy::First)
            .drop(by_name(["baseline_assessment"], true, false));

        let shares: Vec<f64> = plan.windows.iter().map(|w| w.share_of_year).collect();
        let share = keys::map_int(
            "window_code",
            (0..shares.len() as i64).collect(),
            Series::new("share".into(), shares),
        );
        let b = col("baseline_score").cast(DataType::Float64);
        let catch_up = match plan.growth.years_to_standard {
            Some(k) => when(col("baseline_dfs").lt(lit(0)))
                .then(-col("baseline_dfs").cast(DataType::Float64) / lit(f64::from(k)))
                .otherwise(lit(0.0)),
            None => lit(0.0),
        };
        // The same student's score a year earlier in the same window, assessment and subject
        // (one at most: duplicates are resolved per student, year, window, assessment and
        // subject); `change` is the change in distance from standard when it was at this school.
        let match_key = |year_offset: i32| {
            (col("year_n") + lit(year_offset - years.first())).cast(DataType::UInt64)
                * lit(1u64 << 40)
                + col("window_code") * lit(1u64 << 24)
                + col("assessment_code") * lit(1u64 << 12)
                + col("subject_code")
        };
        let prior = placed.clone().lazy().select([
            col("sidx"),
            match_key(1).alias("prior_key"),
            col("school").alias("prior_school"),
            col("dfs").alias("prior_dfs"),
        ]);
        let on = [col("sidx"), col("prior_key")];
        placed
            .lazy()
            .with_column(match_key(0).alias("prior_key"))
            .join(
                prior,
                on.clone(),
                on,
                JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_column(
                when(col("prior_school").eq(col("school")))
                    .then(col("dfs") - col("prior_dfs"))
                    .otherwise(lit(NULL))
                    .alias("change"),
            )
            .with_column(student_key(0).alias("bkey"))
            .join(
                baseline,
                [col("bkey")],
                [col("bkey")],
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
            .sort(["row"], SortMultipleOptions::default())
            .select(
                [
                    "sidx",
                    "year_n",
                    "grade",
                    "scale_score",
                    "dfs",
                    "band",
                    "change",
                    "baseline_score",
                    "annual_target",
                    "window_target",
                    "growth",
                    "met_target",
                ]
                .map(col),
            )
            .collect()
    }
}
