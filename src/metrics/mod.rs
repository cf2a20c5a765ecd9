//! Compute: every table METRICS.md names, from the validated tables, with the Polars lazy
//! API. Scores are placed on their scale first (`scores`: distance from standard, band,
//! growth baseline and targets), then summed once per cell and group (`cells`); baselines,
//! growth, gaps and the Dashboard are read off those sums, so `rest` and the district roll-up
//! are exact; so is the same-students change, summed the same way from each student's change
//! since the same window a year earlier. Survey favorability has its own pass. Suppression is
//! applied after computing, table by table, and flags read only rows that are large enough to
//! be accountable.

mod baselines;
mod cells;
mod cohort;
mod dashboard;
pub mod disclosure;
pub mod flags;
mod gaps;
mod groups;
mod growth;
pub(crate) mod keys;
mod scores;
pub mod suppression;
mod survey;
#[cfg(test)]
mod tests;

use crate::canonical::{SchoolYear, Table};
use crate::pipeline::Plan;
use crate::progress::Progress;
use crate::validate::{Ids, Numbering, Survey};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The school id of the district roll-up.
pub const DISTRICT: &str = "district";

/// z for a two-sided 95% interval: every interval and "distinguishable" in the tables and
/// packets uses it.
pub const Z95: f64 = 1.96;

/// The metric tables in publishing order, each sorted by its key columns.
pub struct Metrics {
    pub tables: Vec<(&'static str, DataFrame)>,
    /// Rows each suppression rule hid, per table that suppression decides for itself.
    pub suppression: Vec<(&'static str, Vec<(suppression::Rule, usize)>)>,
    /// Seconds spent in each part, in order.
    pub timings: Vec<(&'static str, f64)>,
}

impl Metrics {
    pub fn table(&self, name: &str) -> Option<&DataFrame> {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, df)| df)
    }
}

/// The key columns of each published table, in sort order: the leading columns of each.
pub fn keys(table: &str) -> &'static [&'static str] {
    match table {
        "baselines" => &baselines::COLUMNS[..6],
        "growth" => &growth::COLUMNS[..6],
        "student_growth" => &crate::canonical::SCORE_ORDER,
        "gaps" => &gaps::COLUMNS[..8],
        "cohort_change" => &cohort::CHANGE_COLUMNS[..6],
        "cohort_gaps" => &cohort::GAP_COLUMNS[..7],
        "survey" => &survey::COLUMNS[..6],
        "dashboard" => &dashboard::COLUMNS[..5],
        "flags" => &flags::COLUMNS[..7],
        _ => &[],
    }
}

/// Compute every metric table the plan asks for, from tables of canonical text (ids as text),
/// the survey responses (when there are any) coded and held in memory.
pub fn compute(plan: &Plan, tables: &BTreeMap<Table, DataFrame>) -> PolarsResult<Metrics> {
    let codes = crate::validate::Codes::of(plan);
    let mut tables = tables.clone();
    for t in [Table::Students, Table::Assessments] {
        if let Some(df) = tables.remove(&t) {
            let mut df = codes.encode_frame(df)?;
            if t == Table::Assessments {
                df = crate::validate::in_score_order(df, &codes)?;
            }
            tables.insert(t, df);
        }
    }
    let ids = Ids::code(&mut tables, codes)?;
    let survey = match tables.remove(&Table::SurveyResponses) {
        Some(responses) => Some(Survey {
            codes: crate::validate::survey_codes::SurveyCodes::new(plan, &tables, &ids.students)?,
            years: responses
                .column("school_year")?
                .i32()?
                .unique()?
                .iter()
                .flatten()
                .collect(),
            parts: crate::validate::Parts::held(responses),
        }),
        None => None,
    };
    let mut metrics = compute_with(plan, &tables, survey.as_ref(), &ids, &Progress::hidden())?;
    for (_, df) in metrics.tables.iter_mut() {
        *df = ids.decode(df)?;
    }
    Ok(metrics)
}

/// `compute` from every table but the survey responses, and those in `survey`, showing the
/// parts done so far, as validation leaves them: the assessments in
/// [`SCORE_ORDER`](crate::canonical::SCORE_ORDER), student and school ids numbered by `ids`;
/// `student_growth` keeps the numbers and codes.
pub fn compute_with(
    plan: &Plan,
    tables: &BTreeMap<Table, DataFrame>,
    survey: Option<&Survey>,
    ids: &Ids,
    progress: &Progress,
) -> PolarsResult<Metrics> {
    let spinner = progress.spinner("computing metrics".into());
    let mut clock = std::time::Instant::now();
    let mut timings = Vec::new();
    let mut lap = |part: &'static str| {
        timings.push((part, clock.elapsed().as_secs_f64()));
        spinner.message(format!("computing metrics (done: {part})"));
        clock = std::time::Instant::now();
    };
    let empty = DataFrame::empty();
    let students = tables.get(&Table::Students).unwrap_or(&empty);
    let years = Years::of(tables, survey.map_or(&[][..], |s| &s.years))?;
    let members = groups::members(plan, students, &years, &ids.codes)?;
    let mut out = Vec::new();
    let mut hidden = Vec::new();

    lap("students");
    // The survey first, so its working memory is freed before the scores' is taken (its table
    // is still published last).
    let survey = match (tables.get(&Table::SurveyItems), survey) {
        (Some(items), Some(responses)) => {
            let table = survey::table(plan, items, responses, &members, &years)?;
            lap("survey");
            Some(table)
        }
        _ => None,
    };
    if let Some(assessments) = tables.get(&Table::Assessments) {
        let scored = scores::score(
            plan,
            assessments,
            &years,
            plan.validation.part_rows.min(scores::SLICE_ROWS),
        )?;
        lap("scores and targets");
        let stats = cells::stats(plan, &scored, &members, &years, &ids.schools)?;
        lap("sums per cell and group");
        let stats = suppress_cells(plan, stats, &mut hidden)?;
        lap("suppression");
        out.push(("baselines", baselines::table(&stats)?));
        let growth = growth::table(plan, &stats)?;
        lap("baselines and growth");
        let gaps = gaps::compute(plan, &stats)?;
        lap("gaps");
        let cohort_change = cohort::change_table(&stats)?;
        let cohort_gaps = cohort::gaps(plan, &stats)?;
        lap("same-students change");
        let flags = flags::table(plan, &gaps, &cohort_gaps, &growth)?;
        lap("flags");
        out.push(("student_growth", scores::student_growth(&scored)?));
        lap("student growth");
        out.push(("growth", growth));
        out.push(("gaps", gaps::published(gaps)?));
        out.push(("cohort_change", cohort_change));
        out.push(("cohort_gaps", cohort::published(&cohort_gaps)?));
        if plan.dashboard.enabled {
            out.push(("dashboard", dashboard::table(plan, &stats)?));
        }
        lap("dashboard");
        out.push(("flags", flags));
    }
    if let Some((survey, rules)) = survey {
        out.push(("survey", survey));
        hidden.push(("survey", rules));
    }
    Ok(Metrics {
        tables: out,
        suppression: hidden,
        timings,
    })
}

/// The key of a cell without its school, for suppression's relations.
const CELL_WITHOUT_SCHOOL: [&str; 4] = ["school_year", "window", "assessment", "subject"];

/// Decide suppression for baselines (sized by n), growth (sized by students with a baseline)
/// and the same-students change (sized by matched students), primary and complementary, once
/// for every table that reads these sums: each row of `stats` gains `suppressed_baselines`,
/// `suppressed_growth` and `suppressed_cohort`.
fn suppress_cells(
    plan: &Plan,
    stats: DataFrame,
    hidden: &mut Vec<(&'static str, Vec<(suppression::Rule, usize)>)>,
) -> PolarsResult<DataFrame> {
    let mut stats = stats;
    for (table, size, column) in [
        ("baselines", "n", "suppressed_baselines"),
        ("growth", "n_with_baseline", "suppressed_growth"),
        ("cohort_change", "n_matched", "suppressed_cohort"),
    ] {
        let layout = suppression::Layout::of(&stats, &CELL_WITHOUT_SCHOOL, size, size)?;
        let outcome = suppression::suppress(plan, &layout, DISTRICT);
        // cohort_change publishes only rows with a matched student.
        let published = |r: usize| table != "cohort_change" || layout.size[r] > 0;
        hidden.push((table, outcome.counts_where(published)));
        stats.with_column(outcome.column().with_name(column.into()))?;
    }
    Ok(stats)
}

/// School years as numbers (`2024-25` -> 2024), so "the previous year" is a subtraction.
pub(crate) struct Years {
    text: Vec<String>,
    start: Vec<i32>,
}

impl Years {
    /// The years of `tables` (coded by the year each starts, see `validate::codes`) and of
    /// the survey responses' `survey_years`.
    fn of(tables: &BTreeMap<Table, DataFrame>, survey_years: &[i32]) -> PolarsResult<Years> {
        let mut seen: BTreeSet<i32> = survey_years.iter().copied().collect();
        // The student-level tables (coded); published state results are not metrics' years.
        for (_, df) in tables.iter().filter(|(t, _)| **t != Table::StateResults) {
            if let Ok(c) = df.column("school_year") {
                seen.extend(c.i32()?.unique()?.iter().flatten());
            }
        }
        if seen.len() > 255 {
            polars_bail!(ComputeError: "more than 255 school years in one run");
        }
        Ok(Years {
            text: seen.iter().map(|&y| SchoolYear(y).to_string()).collect(),
            start: seen.into_iter().collect(),
        })
    }

    /// The code of the coded `school_year` column (the year it starts): its position in
    /// `start`.
    pub(crate) fn code(&self) -> Expr {
        let positions: Vec<u64> = (0..self.start.len() as u64).collect();
        keys::map_int(
            "school_year",
            self.start.iter().map(|&y| i64::from(y)).collect(),
            Series::new("code".into(), positions),
        )
    }

    /// The key of a (student number, school year) pair in `members`.
    pub(crate) fn member_key(&self, student: Expr) -> Expr {
        Years::member_key_of(student, self.code())
    }

    /// The key of a (student number, school year code) pair in `members`.
    pub(crate) fn member_key_of(student: Expr, year_code: Expr) -> Expr {
        student * lit(1u64 << 8) + year_code
    }

    /// The first school year's starting calendar year.
    pub(crate) fn first(&self) -> i32 {
        self.start.first().copied().unwrap_or(0)
    }

    /// The school years, as packing values (codes agree with `code`).
    pub(crate) fn values(&self) -> Vec<String> {
        self.text.clone()
    }

    /// The starting calendar year of a `school_year` column of text.
    pub(crate) fn start_of_text(&self) -> Expr {
        keys::map_text("school_year", &self.text, &self.start, DataType::Int32)
    }
}

/// The leading keys of every cell, with their possible values: the school (a school's code
/// is its number in `schools`), the school year and the window.
pub(crate) fn school_year_window(
    plan: &Plan,
    schools: &Numbering,
    years: &Years,
) -> PolarsResult<Vec<(&'static str, Vec<String>)>> {
    Ok(vec![
        ("school_id", schools.list()),
        ("school_year", years.values()),
        (
            "window",
            plan.windows.iter().map(|w| w.id.clone()).collect(),
        ),
    ])
}

/// Collect with Polars' streaming engine: for long pipelines of joins, element-wise work and
/// a group-by over millions of rows, it works through the rows in batches instead of
/// materializing every intermediate frame, which is faster and needs less memory.
pub(crate) fn stream(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// Sort a finished table by its keys in text order.
pub(crate) fn sorted(table: &str, lf: LazyFrame) -> PolarsResult<DataFrame> {
    lf.sort(
        keys(table).to_vec(),
        SortMultipleOptions::default().with_maintain_order(true),
    )
    .collect()
}

/// `a / b` as floating point, null when `b` is 0.
pub(crate) fn ratio(a: Expr, b: Expr) -> Expr {
    when(b.clone().gt(lit(0)))
        .then(a.cast(DataType::Float64) / b.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// A subject's name inside a sentence.
pub(crate) fn subject_label(id: &str) -> String {
    match id {
        "ela" => "ELA".to_string(),
        other => other.replace('_', " "),
    }
}

/// Metric tables whose school's rows a `--schools` filter keeps (the district roll-up stays).
pub fn only_schools(df: &DataFrame, ids: &[String]) -> PolarsResult<DataFrame> {
    if df.column("school_id").is_err() {
        return Ok(df.clone());
    }
    let mut keep = ids.to_vec();
    keep.push(DISTRICT.to_string());
    let keep = Series::new("ids".into(), keep);
    df.clone()
        .lazy()
        .filter(col("school_id").is_in(lit(keep).implode(false), false))
        .collect()
}
