//! Validate: type every column, check every row, and split each table into accepted rows and
//! quarantined rows. The first failing reason wins, in the order missing_required, bad_type,
//! unknown_code, out_of_range; only valid rows then compete as duplicates. Every quarantined
//! row keeps its source file, line and raw values. Rows an input's own filters exclude are
//! set aside too, as `excluded_by_source`, and for every table
//! rows read = rows accepted + rows quarantined + rows excluded.

pub mod codes;
mod duplicates;
pub mod ids;
mod parts;
mod quarantine;
pub mod rules;
pub mod survey_codes;

pub use codes::Codes;
pub use ids::{Ids, Numbering};
pub use parts::{PART_ROWS, Parts, remove_spilled_parts};
pub use quarantine::QUARANTINE_COLUMNS;
pub use rules::Reason;

use crate::canonical::Table;
use crate::ingest::{EXCLUDED_COL, FILE_COL, IngestError, LINE_COL, RawTable, SEQ_COL};
use crate::pipeline::Plan;
use crate::progress::Progress;
use polars::prelude::*;
use rules::{Check, column_rules, first_failure, typed};
use serde::Serialize;
use std::collections::BTreeMap;

/// The typed, accepted tables, the quarantine, and the counts behind the quality report.
pub struct Validated {
    /// Every accepted table but the survey responses; student and school ids numbered and
    /// the students' and assessments' code columns coded (see [`Ids`] and [`Codes`]).
    pub tables: BTreeMap<Table, DataFrame>,
    /// What each student and school number stands for.
    pub ids: Ids,
    /// The accepted survey responses, coded and in parts.
    pub survey: Option<Survey>,
    pub quarantine: DataFrame,
    pub quality: Quality,
}

/// The accepted survey responses: coded (see `survey_codes`) and in parts by respondent (see
/// `parts`).
#[derive(Debug, Clone)]
pub struct Survey {
    pub codes: survey_codes::SurveyCodes,
    pub parts: Parts,
    /// The school years the responses are in, by the year each starts.
    pub years: Vec<i32>,
}

impl Validated {
    /// An accepted table as held: student and school ids numbered, code columns coded.
    pub fn table(&self, t: Table) -> Option<&DataFrame> {
        self.tables.get(&t)
    }

    /// An accepted table with its canonical text, ids and codes included.
    pub fn text_table(&self, t: Table) -> PolarsResult<Option<DataFrame>> {
        self.tables
            .get(&t)
            .map(|df| self.ids.decode(df))
            .transpose()
    }
}

/// Row counts per table and reason.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quality {
    pub tables: Vec<TableQuality>,
    /// Distinct (student, school year) pairs with scores but no accepted students row.
    pub students_without_demographics: usize,
    /// Assessment rows whose student has no accepted students row for that year.
    pub scores_without_demographics: usize,
    /// What reading the extracts' layouts found worth saying: columns no known header has,
    /// students whose tests disagree on their demographics.
    pub layout_notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableQuality {
    pub table: String,
    pub read: usize,
    pub accepted: usize,
    /// Rows set aside for an error (every reason but `excluded_by_source`).
    pub quarantined: usize,
    /// Rows the file itself marks as not counted (`excluded_by_source`): kept in the
    /// quarantine table with the filter's reason, but not errors.
    pub excluded: usize,
    /// Reason code -> rows, in reason order, reasons with no rows left out.
    pub by_reason: BTreeMap<String, usize>,
    /// The file's own reason -> rows it excludes.
    pub excluded_by: BTreeMap<String, usize>,
}

impl TableQuality {
    pub fn quarantined_pct(&self) -> f64 {
        if self.read == 0 {
            0.0
        } else {
            100.0 * self.quarantined as f64 / self.read as f64
        }
    }
}

/// Why validation stopped: a file that could not be parsed after all (the chunks of a table
/// are parsed as they are checked), or an internal error.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// Validate every raw table. Tables are checked in dependency order: schools before the
/// tables that name a school, survey items before responses.
pub fn validate(raw: Vec<RawTable>, plan: &Plan) -> Result<Validated, ValidateError> {
    validate_with(raw, plan, &Progress::hidden())
}

/// `validate`, showing which table is being checked.
pub fn validate_with(
    raw: Vec<RawTable>,
    plan: &Plan,
    progress: &Progress,
) -> Result<Validated, ValidateError> {
    let mut raw: BTreeMap<Table, RawTable> = raw.into_iter().map(|r| (r.table, r)).collect();
    let mut tables = BTreeMap::new();
    let mut quarantines = Vec::new();
    let mut quality = Vec::new();
    let mut survey = None;
    let mut ids = None;
    let mut layout_notes = Vec::new();
    let codes = Codes::of(plan);
    for table in Table::ALL {
        // Students and assessments are checked (by their ids as text, sorted in text order)
        // before anything that follows reads their numbers.
        if table == Table::SurveyItems {
            ids = Some(Ids::code(&mut tables, codes.clone())?);
        }
        let Some(r) = raw.remove(&table) else {
            continue;
        };
        let read = r.rows();
        let checking =
            progress.spinner(format!("checking {table}: {} rows", crate::thousands(read)));
        let extra = cross_table_checks(table, &tables, ids.as_ref(), plan)?;
        let mut years = std::collections::BTreeSet::new();
        let (accepted, quarantined, survey_codes) =
            check_table(&r, plan, extra, &checking, |part| {
                if table == Table::SurveyResponses {
                    years.extend(
                        part.column("school_year")?
                            .i32()?
                            .unique()?
                            .iter()
                            .flatten(),
                    );
                }
                Ok(())
            })?;
        layout_notes.extend(r.notes.iter().cloned());
        drop(r);
        let by_reason = rows_by(&quarantined, "reason", lit(true))?;
        let excluded = by_reason
            .get(Reason::ExcludedBySource.code())
            .copied()
            .unwrap_or(0);
        // The file's own reasons for the rows it excludes.
        let excluded_by = rows_by(
            &quarantined,
            "detail",
            col("reason").eq(lit(Reason::ExcludedBySource.code())),
        )?;
        let q = TableQuality {
            table: table.name().to_string(),
            read,
            accepted: accepted.rows(),
            quarantined: quarantined.height() - excluded,
            excluded,
            by_reason,
            excluded_by,
        };
        assert_eq!(
            q.read,
            q.accepted + q.quarantined + q.excluded,
            "rows read = accepted + quarantined + excluded for {table}"
        );
        quality.push(q);
        quarantines.push(quarantined);
        match survey_codes {
            Some(codes) => {
                survey = Some(Survey {
                    codes: codes.sealed(),
                    parts: accepted,
                    years: years.into_iter().collect(),
                });
            }
            None => {
                let mut accepted = accepted.into_frame()?;
                if table == Table::Assessments {
                    accepted = in_score_order(accepted, &codes)?;
                }
                tables.insert(table, accepted);
            }
        }
    }
    let (students_without_demographics, scores_without_demographics) = no_demographics(&tables)?;
    let quarantine = quarantine::assemble(quarantines)?;
    Ok(Validated {
        tables,
        ids: ids.expect("ids are numbered before the survey"),
        survey,
        quarantine,
        quality: Quality {
            tables: quality,
            students_without_demographics,
            scores_without_demographics,
            layout_notes,
        },
    })
}

/// Accepted assessments sorted by [`SCORE_ORDER`](crate::canonical::SCORE_ORDER) in text order
/// (the key is unique, since a student has one score per year, window, assessment and
/// subject); the ids are still text, the code columns coded by `codes`.
///
/// Sorting tens of millions of rows by six columns would encode every row's key as bytes and
/// then copy the whole table at once. Instead each key column gets a rank whose order is its
/// text order (an id its place among the column's sorted distinct ids, a school year its
/// distance from the first, a code its list member's place in the sorted list), the ranks are
/// packed into one integer, that one column is sorted, and the table's columns are put in that
/// order one at a time.
pub fn in_score_order(assessments: DataFrame, codes: &Codes) -> PolarsResult<DataFrame> {
    use crate::metrics::keys::{Packing, distinct, encode, map_int};
    let order = crate::canonical::SCORE_ORDER;
    let n = assessments.height();
    if n <= 1 {
        return Ok(assessments);
    }
    // Each key column's rank expression and how many ranks it has.
    let ranks = order
        .iter()
        .map(|&c| -> PolarsResult<(Expr, usize)> {
            if c == "school_year" && codes.is_coded_in(&assessments, c) {
                let years = assessments.column(c)?.i32()?;
                let (first, last) = (years.min().unwrap_or(0), years.max().unwrap_or(0));
                let rank = (col(c) - lit(first)).cast(DataType::UInt64);
                return Ok((rank, (last - first) as usize + 1));
            }
            if let (true, Some(list)) = (codes.is_coded_in(&assessments, c), codes.list(c)) {
                let mut by_text: Vec<usize> = (0..list.len()).collect();
                by_text.sort_by(|&a, &b| list[a].cmp(&list[b]));
                let mut rank = vec![0u64; list.len()];
                for (r, &code) in by_text.iter().enumerate() {
                    rank[code] = r as u64;
                }
                let from = (0..list.len() as i64).collect();
                return Ok((
                    map_int(c, from, Series::new("rank".into(), rank)),
                    list.len(),
                ));
            }
            let values = distinct(&assessments, c)?;
            Ok((encode(c, &values), values.len()))
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let packed = || -> Option<Expr> {
        // Packing needs only each field's size here: the ranks are given.
        let fields = order[1..]
            .iter()
            .zip(&ranks[1..])
            .map(|(c, (_, len))| (*c, vec![String::new(); *len]))
            .collect();
        let packing = Packing::new(fields).ok()?;
        let given: Vec<(&str, Expr)> = order[1..]
            .iter()
            .zip(&ranks[1..])
            .map(|(c, (rank, _))| (*c, rank.clone()))
            .collect();
        let student_bits = u64::BITS - (ranks[0].1 as u64).leading_zeros();
        (student_bits + packing.bits <= 64)
            .then(|| ranks[0].0.clone() * lit(1u64 << packing.bits) + packing.cell_with(&given))
    };
    let key = match packed() {
        Some(key) => key,
        None => {
            let by: Vec<Expr> = ranks.into_iter().map(|(rank, _)| rank).collect();
            return assessments
                .lazy()
                .sort_by_exprs(
                    by,
                    SortMultipleOptions::default()
                        .with_multithreaded(true)
                        .with_maintain_order(true),
                )
                .collect();
        }
    };
    let permutation = assessments
        .clone()
        .lazy()
        .select([key.alias("key")])
        .collect()?
        .column("key")?
        .arg_sort(SortOptions::default().with_multithreaded(true));
    let mut columns = assessments.into_columns();
    for c in columns.iter_mut() {
        *c = c.take(&permutation)?;
    }
    DataFrame::new(n, columns)
}

/// Check one table a chunk at a time: (accepted typed rows in parts, quarantined rows, the
/// survey's codes). Each chunk is parsed, typed and checked, and only its accepted typed rows
/// and its rejected rows are kept; duplicates are then resolved across the whole table (part
/// by part for a survey in parts), and the raw text of the rows they supersede is parsed again
/// from their records. `inspect` sees each part of kept rows.
fn check_table(
    r: &RawTable,
    plan: &Plan,
    mut extra: ExtraChecks,
    progress: &crate::progress::Bar,
    inspect: impl FnMut(&DataFrame) -> PolarsResult<()>,
) -> Result<(Parts, DataFrame, Option<survey_codes::SurveyCodes>), ValidateError> {
    let table = r.table;
    let input = plan.input(table).expect("raw tables come from plan inputs");
    let mut collector = parts::Collector::new(table, r.rows(), plan.validation.part_rows)?;
    // How the students' and assessments' accepted rows are coded (see `codes`).
    let column_codes = codes::CODED_TABLES
        .contains(&table)
        .then(|| Codes::of(plan));
    let mut invalid = Vec::new();
    let (mut done, total) = (0, r.rows());
    for chunk in r.chunks(plan.validation.chunk_rows) {
        let mut frame = r.read(&chunk)?;
        if let Some((excluded, kept)) = split_excluded(&frame)? {
            if excluded.height() > 0 {
                invalid.push(excluded);
            }
            frame = kept;
        }
        let (accepted, rejected) = check_chunk(&frame, table, plan, &extra)?;
        drop(frame);
        let accepted = match (&mut extra.codes, &column_codes) {
            (Some(codes), _) => codes.encode_frame(accepted)?,
            (None, Some(codes)) => codes.encode_frame(accepted)?,
            (None, None) => accepted,
        };
        collector.push(duplicates::with_key_hash(table, accepted)?)?;
        if rejected.height() > 0 {
            invalid.push(rejected);
        }
        done += chunk.rows.len();
        progress.message(format!(
            "checking {table}: {} of {} rows",
            crate::thousands(done),
            crate::thousands(total)
        ));
    }
    let (accepted, seqs) = collector.finish(table, inspect)?;
    if !seqs.is_empty() {
        let superseded_raw = r
            .pick(&seqs)?
            .lazy()
            .with_columns([
                lit(Reason::DuplicateSuperseded.code()).alias("reason"),
                lit(NULL).cast(DataType::String).alias("column"),
                lit(duplicates::detail(table)).alias("detail"),
            ])
            .collect()?;
        invalid.push(superseded_raw);
    }
    let quarantined = quarantine::rows(input, table, invalid)?;
    Ok((accepted, quarantined, extra.codes))
}

/// Rows of `frame` that satisfy `filter`, counted by the text of `column`.
fn rows_by(frame: &DataFrame, column: &str, filter: Expr) -> PolarsResult<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    if frame.height() == 0 {
        return Ok(out);
    }
    let counts = frame
        .clone()
        .lazy()
        .filter(filter)
        .group_by([col(column)])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?;
    let keys = counts.column(column)?.str()?.clone();
    let ns = counts.column("n")?.u64()?.clone();
    for (key, n) in keys.iter().zip(ns.iter()) {
        if let (Some(key), Some(n)) = (key, n) {
            out.insert(key.to_string(), n as usize);
        }
    }
    Ok(out)
}

/// Rows the file's own filters exclude, set aside with their reason, and the rows kept; `None`
/// when the input has no filters.
fn split_excluded(frame: &DataFrame) -> PolarsResult<Option<(DataFrame, DataFrame)>> {
    if frame.column(EXCLUDED_COL).is_err() {
        return Ok(None);
    }
    let excluded = frame
        .clone()
        .lazy()
        .filter(col(EXCLUDED_COL).is_not_null())
        .with_columns([
            lit(Reason::ExcludedBySource.code()).alias("reason"),
            lit(NULL).cast(DataType::String).alias("column"),
            col(EXCLUDED_COL).alias("detail"),
        ])
        .collect()?;
    let kept = frame
        .clone()
        .lazy()
        .filter(col(EXCLUDED_COL).is_null())
        .select([all().exclude_cols([EXCLUDED_COL]).as_expr()])
        .collect()?;
    Ok(Some((excluded, kept)))
}

/// Type and check one chunk of raw rows: (accepted typed rows with their order, rejected
/// rows with their raw values, file, line, reason, blamed column and detail).
fn check_chunk(
    frame: &DataFrame,
    table: Table,
    plan: &Plan,
    extra: &ExtraChecks,
) -> PolarsResult<(DataFrame, DataFrame)> {
    let input = plan.input(table).expect("raw tables come from plan inputs");
    let mut typed_exprs = Vec::new();
    let mut checks: Vec<Check> = Vec::new();
    for def in table.columns() {
        let (t, cs) = column_rules(def, &input.vendor_name(def.name), frame, plan)?;
        typed_exprs.push(t.alias(typed(def.name)));
        checks.extend(cs);
    }
    let mut lf = frame.clone().lazy().with_columns(typed_exprs);
    for (lookup, on) in &extra.joins {
        let on: Vec<Expr> = on.iter().map(|c| col(c.as_str())).collect();
        lf = lf.join(
            lookup.clone().lazy(),
            on.clone(),
            on,
            JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns),
        );
    }
    if !extra.columns.is_empty() {
        lf = lf.with_columns(extra.columns.clone());
    }
    if !extra.lookups.is_empty() {
        lf = lf.with_columns(extra.lookups.clone());
    }
    checks.extend(extra.checks.iter().cloned());
    let failure = first_failure(checks);
    let checked = lf
        .with_column(failure.index.alias(rules::FAILED_COL))
        .collect()?;
    let accepted = checked
        .clone()
        .lazy()
        .filter(col(rules::FAILED_COL).is_null())
        .select(
            table
                .columns()
                .iter()
                .map(|c| col(typed(c.name)).alias(c.name))
                .chain([col(SEQ_COL)])
                .collect::<Vec<_>>(),
        )
        .collect()?;
    // Reasons and explanations are text, so they are worked out for the rejected rows only.
    let rejected = checked
        .lazy()
        .filter(col(rules::FAILED_COL).is_not_null())
        .with_columns([
            failure.reason.alias("reason"),
            failure.column.alias("column"),
            failure.detail.alias("detail"),
        ])
        .select(
            table
                .columns()
                .iter()
                .map(|c| col(c.name))
                .chain(
                    [FILE_COL, LINE_COL, "reason", "column", "detail"]
                        .into_iter()
                        .map(col),
                )
                .collect::<Vec<_>>(),
        )
        .collect()?;
    Ok((accepted, rejected))
}

/// Checks that need another table (school ids, item scales) or the assessments registry.
struct ExtraChecks {
    /// Lookup frames left-joined onto the typed columns before the checks run.
    joins: Vec<(DataFrame, Vec<String>)>,
    /// Lookup columns computed from the typed columns before the checks run.
    columns: Vec<Expr>,
    /// Lookup columns computed from `columns`.
    lookups: Vec<Expr>,
    checks: Vec<Check>,
    /// How accepted rows are coded (survey responses; see `survey_codes`).
    codes: Option<survey_codes::SurveyCodes>,
}

fn cross_table_checks(
    table: Table,
    done: &BTreeMap<Table, DataFrame>,
    ids: Option<&Ids>,
    plan: &Plan,
) -> PolarsResult<ExtraChecks> {
    let mut extra = ExtraChecks {
        joins: Vec::new(),
        columns: Vec::new(),
        lookups: Vec::new(),
        checks: Vec::new(),
        codes: None,
    };
    if matches!(
        table,
        Table::Students | Table::Assessments | Table::SurveyResponses
    ) && let Some(schools) = done.get(&Table::Schools)
    {
        let ids = schools
            .column("school_id")?
            .as_materialized_series()
            .clone();
        let t = col(typed("school_id"));
        extra.checks.push(Check {
            reason: Reason::UnknownCode,
            column: "school_id",
            failed: t
                .clone()
                .is_not_null()
                .and(t.clone().is_in(lit(ids).implode(false), false).not()),
            detail: concat_str(
                [lit("school `"), t, lit("` is not in the schools extract")],
                "",
                false,
            ),
        });
    }
    match table {
        Table::Assessments => assessment_checks(plan, &mut extra)?,
        Table::SurveyItems => {
            let (lo, hi, fav) = (
                col(typed("scale_min")),
                col(typed("scale_max")),
                col(typed("favorable_min")),
            );
            extra.checks.push(Check {
                reason: Reason::OutOfRange,
                column: "scale_max",
                failed: hi.clone().lt_eq(lo.clone()),
                detail: lit("scale_max must be greater than scale_min"),
            });
            extra.checks.push(Check {
                reason: Reason::OutOfRange,
                column: "favorable_min",
                failed: fav.clone().lt(lo).or(fav.gt(hi)),
                detail: lit("favorable_min must lie within the item's scale"),
            });
        }
        Table::SurveyResponses => {
            let ids = ids.expect("ids are numbered before the survey");
            extra.codes = Some(survey_codes::SurveyCodes::new(plan, done, &ids.students)?);
            // Each response's item type and scale, looked up by expression rather than a
            // join (a join would copy every column of every response to add three): the
            // item's row is found once, then each attribute by position.
            let items = done.get(&Table::SurveyItems).cloned().unwrap_or_default();
            let item_row = if items.height() == 0 {
                lit(NULL).cast(DataType::UInt32)
            } else {
                let rows =
                    Series::new("row".into(), (0..items.height() as u32).collect::<Vec<_>>());
                col(typed("item_id")).replace_strict(
                    lit(items.column("item_id")?.as_materialized_series().clone()),
                    lit(rows),
                    Some(lit(NULL).cast(DataType::UInt32)),
                    Some(DataType::UInt32),
                )
            };
            extra.columns.push(item_row.alias("__item_row"));
            let by_item = |from: &str, to: &str, dtype: DataType| -> PolarsResult<Expr> {
                if items.height() == 0 {
                    return Ok(lit(NULL).cast(dtype).alias(to));
                }
                Ok(lit(items.column(from)?.as_materialized_series().clone())
                    .gather(col("__item_row"), true)
                    .alias(to))
            };
            // The respondent types an item is for, as bits (a type's place in the list is its
            // bit; 0 for an item for everyone), so checking millions of responses compares
            // numbers, not text.
            let types = plan.code_members(crate::canonical::CodeList::RespondentType);
            let masks: Vec<u32> = if items.height() == 0 {
                Vec::new()
            } else {
                items
                    .column("respondent_type")?
                    .str()?
                    .iter()
                    .map(|set| {
                        set.map_or(0, |set| {
                            set.split(';')
                                .filter_map(|t| types.iter().position(|m| m == t))
                                .fold(0, |mask, i| mask | (1 << i))
                        })
                    })
                    .collect()
            };
            let mask = if items.height() == 0 {
                lit(NULL).cast(DataType::UInt32)
            } else {
                lit(Series::new("mask".into(), masks)).gather(col("__item_row"), true)
            };
            let mut bit = lit(NULL).cast(DataType::UInt32);
            for (i, t) in types.iter().enumerate().rev() {
                bit = when(col(typed("respondent_type")).eq(lit(t.as_str())))
                    .then(lit(1u32 << i))
                    .otherwise(bit);
            }
            extra.lookups.extend([
                by_item("respondent_type", "__item_type", DataType::String)?,
                by_item("scale_min", "__min", DataType::Int32)?,
                by_item("scale_max", "__max", DataType::Int32)?,
                mask.alias("__item_mask"),
                bit.alias("__type_bit"),
            ]);
            let item = col(typed("item_id"));
            extra.checks.push(Check {
                reason: Reason::UnknownCode,
                column: "item_id",
                failed: item.clone().is_not_null().and(col("__item_row").is_null()),
                detail: concat_str(
                    [
                        lit("item `"),
                        item.clone(),
                        lit("` is not in the survey items"),
                    ],
                    "",
                    false,
                ),
            });
            extra.checks.push(Check {
                reason: Reason::UnknownCode,
                column: "item_id",
                // An item for several respondent types lists them as `student;staff`; one
                // with none is for everyone.
                failed: col("__item_mask")
                    .gt(lit(0u32))
                    .and(((col("__item_mask") / col("__type_bit")) % lit(2u32)).eq(lit(0u32))),
                detail: concat_str(
                    [
                        lit("item `"),
                        item,
                        lit("` belongs to the "),
                        col("__item_type")
                            .str()
                            .replace_all(lit(";"), lit(", "), true),
                        lit(" survey, not the "),
                        col(typed("respondent_type")),
                        lit(" survey"),
                    ],
                    "",
                    false,
                ),
            });
            let r = col(typed("response"));
            extra.checks.push(Check {
                reason: Reason::OutOfRange,
                column: "response",
                failed: r.clone().lt(col("__min")).or(r.clone().gt(col("__max"))),
                detail: concat_str(
                    [
                        lit("response "),
                        r.cast(DataType::String),
                        lit(" is outside the item's scale "),
                        col("__min").cast(DataType::String),
                        lit("–"),
                        col("__max").cast(DataType::String),
                    ],
                    "",
                    false,
                ),
            });
        }
        _ => {}
    }
    Ok(extra)
}

/// Assessments: the window must be one the assessment is given in, the subject one its scale
/// has, the grade one with cut scores, and the score within the obtainable range.
fn assessment_checks(plan: &Plan, extra: &mut ExtraChecks) -> PolarsResult<()> {
    let (mut a, mut s, mut g, mut lo, mut hi) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut aw_a, mut aw_w) = (vec![], vec![]);
    let (mut as_a, mut as_s) = (vec![], vec![]);
    for assessment in plan.assessments.values() {
        for w in &assessment.windows {
            aw_a.push(assessment.id.clone());
            aw_w.push(w.clone());
        }
        let Some(scale) = plan.scales.get(&assessment.scale) else {
            continue;
        };
        for (subject, grades) in &scale.cuts {
            as_a.push(assessment.id.clone());
            as_s.push(subject.clone());
            for (grade, cuts) in grades {
                a.push(assessment.id.clone());
                s.push(subject.clone());
                g.push(*grade);
                lo.push(cuts.lowest);
                hi.push(cuts.highest);
            }
        }
    }
    let (ta, ts, tg, tw) = (
        typed("assessment"),
        typed("subject"),
        typed("grade"),
        typed("window"),
    );
    let n_aw = aw_a.len();
    extra.joins.push((
        df![ta.as_str() => aw_a, tw.as_str() => aw_w, "__given" => vec![true; n_aw]]?,
        vec![ta.clone(), tw.clone()],
    ));
    let n_as = as_a.len();
    extra.joins.push((
        df![ta.as_str() => as_a, ts.as_str() => as_s, "__on_scale" => vec![true; n_as]]?,
        vec![ta.clone(), ts.clone()],
    ));
    extra.joins.push((
        df![ta.as_str() => a, ts.as_str() => s, tg.as_str() => g, "__lowest" => lo, "__highest" => hi]?,
        vec![ta.clone(), ts.clone(), tg.clone()],
    ));
    let both = |x: &str, y: &str| col(x).is_not_null().and(col(y).is_not_null());
    extra.checks.push(Check {
        reason: Reason::UnknownCode,
        column: "window",
        failed: both(&ta, &tw).and(col("__given").is_null()),
        detail: concat_str(
            [
                col(ta.as_str()),
                lit(" is not given in the "),
                col(tw.as_str()),
                lit(" window"),
            ],
            "",
            false,
        ),
    });
    extra.checks.push(Check {
        reason: Reason::UnknownCode,
        column: "subject",
        failed: both(&ta, &ts).and(col("__on_scale").is_null()),
        detail: concat_str(
            [
                lit("subject "),
                col(ts.as_str()),
                lit(" is not on the scale of "),
                col(ta.as_str()),
            ],
            "",
            false,
        ),
    });
    extra.checks.push(Check {
        reason: Reason::OutOfRange,
        column: "grade",
        failed: both(&ta, &ts)
            .and(col("__on_scale").is_not_null())
            .and(col(tg.as_str()).is_not_null())
            .and(col("__lowest").is_null()),
        detail: concat_str(
            [
                lit("grade "),
                col(tg.as_str()).cast(DataType::String),
                lit(" has no cut scores for "),
                col(ts.as_str()),
                lit(" on the scale of "),
                col(ta.as_str()),
            ],
            "",
            false,
        ),
    });
    let score = col(typed("scale_score"));
    extra.checks.push(Check {
        reason: Reason::OutOfRange,
        column: "scale_score",
        failed: score
            .clone()
            .lt(col("__lowest"))
            .or(score.clone().gt(col("__highest"))),
        detail: concat_str(
            [
                lit("score "),
                score.cast(DataType::String),
                lit(" is outside the obtainable range "),
                col("__lowest").cast(DataType::String),
                lit("–"),
                col("__highest").cast(DataType::String),
                lit(" for "),
                col(ts.as_str()),
                lit(" grade "),
                col(tg.as_str()).cast(DataType::String),
            ],
            "",
            false,
        ),
    });
    Ok(())
}

/// Two accepted schools whose ids would share a folder of packets (the same after
/// `canonical::folder_name`, in any letter case, since reports are copied to case-insensitive
/// drives), or a school whose id is the district roll-up's: the clash, in words.
pub fn school_folder_clash(validated: &Validated) -> Option<String> {
    let ids = validated
        .table(Table::Schools)?
        .column("school_id")
        .ok()?
        .str()
        .ok()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for id in &ids {
        if id.eq_ignore_ascii_case(crate::metrics::DISTRICT) {
            return Some(format!(
                "school `{id}` has the id of the district roll-up (`{}`)",
                crate::metrics::DISTRICT
            ));
        }
        let folder = crate::canonical::folder_name(id);
        if let Some(other) = seen.insert(folder.to_lowercase(), id) {
            return Some(format!(
                "schools `{other}` and `{id}` would share the folder `schools/{folder}`"
            ));
        }
    }
    None
}

/// Students with scores but no students row for that school year.
fn no_demographics(tables: &BTreeMap<Table, DataFrame>) -> PolarsResult<(usize, usize)> {
    let (Some(scores), Some(students)) = (
        tables.get(&Table::Assessments),
        tables.get(&Table::Students),
    ) else {
        return Ok((0, 0));
    };
    let key = [col("student_id"), col("school_year")];
    let orphans = scores
        .clone()
        .lazy()
        .select(key.clone())
        .join(
            students.clone().lazy().select(key.clone()),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Anti),
        )
        .collect()?;
    let distinct = orphans
        .unique_stable(None, UniqueKeepStrategy::First, None)?
        .height();
    Ok((distinct, orphans.height()))
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    /// The packed-key sort gives exactly the text order of the six key columns: ids that
    /// sort differently as text and as numbers, upper before lower case, windows whose
    /// pipeline order is not their text order, and rows that share every key column but the
    /// last.
    #[test]
    fn score_order_is_the_text_order_of_the_key() {
        let df = df![
            "student_id" => ["S9", "S10", "S9", "s1", "S10", "S9"],
            "school_id" => ["b", "a", "a", "a", "a", "a"],
            "school_year" => ["2024-25", "2024-25", "2025-26", "2024-25", "2024-25", "2024-25"],
            "window" => ["spring", "fall", "fall", "fall", "winter", "fall"],
            "assessment" => ["sbac", "sbac", "sbac", "sbac", "sbac", "iready"],
            "subject" => ["ela", "math", "ela", "ela", "ela", "math"],
            "scale_score" => [1, 2, 3, 4, 5, 6],
        ]
        .unwrap();
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let codes = super::Codes::from_lists(vec![
            ("window", list(&["fall", "winter", "spring"])),
            ("assessment", list(&["iready", "sbac"])),
            ("subject", list(&["ela", "math"])),
        ]);
        let coded = codes.encode_frame(df.clone()).unwrap();
        let mut sorted = super::in_score_order(coded, &codes).unwrap();
        codes.decode_into(&mut sorted).unwrap();
        let plain = df
            .sort(
                crate::canonical::SCORE_ORDER,
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .unwrap();
        assert!(sorted.equals(&plain), "{sorted}\n{plain}");
        let scores: Vec<i32> = sorted["scale_score"]
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(scores, [2, 5, 6, 3, 1, 4]);
    }
}
