//! Row rules: how each canonical column is typed and which checks it must pass. A check is a
//! reason code, the column it blames, a condition that is true for failing rows, and a detail
//! expression explaining the failure. Code columns are mapped by looking up each distinct raw
//! value once (codebook first, then the canonical list in any letter case).

use crate::canonical::{CodeList, Column as ColumnDef, Kind, SchoolYear, canonical_code};
use crate::pipeline::plan::{Plan, grade_number};
use polars::prelude::*;
use std::collections::BTreeMap;

/// The longest id (student, school, respondent, item) accepted, in characters.
pub const MAX_ID_CHARS: u32 = 64;
/// The longest free-text value (a school's name, a supervisor) accepted, in characters.
pub const MAX_TEXT_CHARS: u32 = 200;

/// Reason codes, in the order in which the first failing one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    MissingRequired,
    BadType,
    UnknownCode,
    OutOfRange,
    DuplicateSuperseded,
    /// Not an error: the file itself marks the row as not counted (a row filter of the input).
    ExcludedBySource,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::MissingRequired,
        Reason::BadType,
        Reason::UnknownCode,
        Reason::OutOfRange,
        Reason::DuplicateSuperseded,
        Reason::ExcludedBySource,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Reason::MissingRequired => "missing_required",
            Reason::BadType => "bad_type",
            Reason::UnknownCode => "unknown_code",
            Reason::OutOfRange => "out_of_range",
            Reason::DuplicateSuperseded => "duplicate_superseded",
            Reason::ExcludedBySource => "excluded_by_source",
        }
    }
}

/// A failing condition on a row.
#[derive(Clone)]
pub struct Check {
    pub reason: Reason,
    pub column: &'static str,
    pub failed: Expr,
    pub detail: Expr,
}

/// A value is given but does not pass `ok` (a null `ok`, as when the parse failed, fails).
fn present_but_not(raw: &Expr, ok: &Expr) -> Expr {
    raw.clone()
        .is_not_null()
        .and(ok.clone().fill_null(lit(false)).not())
}

/// Name of the typed version of a canonical column while rows are checked.
pub fn typed(name: &str) -> String {
    format!("__t_{name}")
}

/// The typed expression of a column and the checks its raw values must pass.
pub fn column_rules(
    def: &ColumnDef,
    vendor: &str,
    frame: &DataFrame,
    plan: &Plan,
) -> PolarsResult<(Expr, Vec<Check>)> {
    let raw = col(def.name);
    let mut checks = Vec::new();
    let q = |s: &str| format!("`{vendor}` {s}");
    if def.required {
        checks.push(Check {
            reason: Reason::MissingRequired,
            column: def.name,
            failed: raw.clone().is_null(),
            detail: lit(q("is blank")),
        });
    }
    let value_detail = |what: &str| {
        concat_str(
            [
                lit(format!("`{vendor}` value `")),
                raw.clone(),
                lit(format!("` {what}")),
            ],
            "",
            false,
        )
    };
    let typed_expr = match def.kind {
        Kind::Id | Kind::Text => {
            // Ids name folders and join tables; a value far longer than any real one is a
            // broken export (a field that swallowed a file), not an id or a name.
            let (limit, what) = match def.kind {
                Kind::Id => (MAX_ID_CHARS, "ids"),
                _ => (MAX_TEXT_CHARS, "text values"),
            };
            let chars = raw.clone().str().len_chars();
            checks.push(Check {
                reason: Reason::BadType,
                column: def.name,
                failed: chars.clone().gt(lit(limit)).fill_null(lit(false)),
                detail: concat_str(
                    [
                        lit(format!("`{vendor}` value is ")),
                        chars.cast(DataType::String),
                        lit(format!(" characters long; {what} are at most {limit}")),
                    ],
                    "",
                    false,
                ),
            });
            raw.clone()
        }
        Kind::Integer => {
            let f = raw.clone().cast(DataType::Float64);
            let whole = f
                .clone()
                .eq(f.clone().floor())
                .and(f.clone().abs().lt_eq(lit(i32::MAX as f64)));
            checks.push(Check {
                reason: Reason::BadType,
                column: def.name,
                failed: present_but_not(&raw, &whole),
                detail: value_detail("is not a whole number"),
            });
            when(whole)
                .then(f.cast(DataType::Int32))
                .otherwise(lit(NULL).cast(DataType::Int32))
        }
        Kind::Decimal => {
            let f = raw.clone().cast(DataType::Float64);
            let finite = f.clone().is_finite();
            checks.push(Check {
                reason: Reason::BadType,
                column: def.name,
                failed: present_but_not(&raw, &finite),
                detail: value_detail("is not a number"),
            });
            when(finite)
                .then(f)
                .otherwise(lit(NULL).cast(DataType::Float64))
        }
        Kind::Date => {
            let parsed: Vec<Expr> = plan
                .validation
                .date_formats
                .iter()
                .map(|fmt| {
                    raw.clone().str().to_date(StrptimeOptions {
                        format: Some(fmt.as_str().into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    })
                })
                .collect();
            let date = coalesce(&parsed);
            checks.push(Check {
                reason: Reason::BadType,
                column: def.name,
                failed: raw.clone().is_not_null().and(date.clone().is_null()),
                detail: value_detail(&format!(
                    "is not a date in a known format ({})",
                    plan.validation.date_formats.join(", ")
                )),
            });
            date
        }
        Kind::SchoolYear => {
            let mapping = map_distinct(frame, def.name, |v| match SchoolYear::parse(v) {
                Some(y) => Mapped::Ok(y.to_string()),
                None => Mapped::BadType,
            })?;
            checks.push(Check {
                reason: Reason::BadType,
                column: def.name,
                failed: mapping.has(def.name, "bad_type"),
                detail: value_detail("is not a school year like 2024-25"),
            });
            mapping.typed(def.name)
        }
        Kind::CodeSet(list) => {
            let members = plan.code_members(list);
            let book = plan.codebook.get(def.name);
            let mapping = map_distinct(frame, def.name, |v| {
                if v.trim().eq_ignore_ascii_case("any") {
                    return Mapped::Any;
                }
                let mut found = Vec::new();
                for part in v
                    .split([';', ',', '|'])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    match classify_code(list, &members, book, part) {
                        Mapped::Ok(m) => found.push(m),
                        _ => return Mapped::UnknownCode,
                    }
                }
                let mut in_order: Vec<&String> =
                    members.iter().filter(|m| found.contains(m)).collect();
                in_order.dedup();
                Mapped::Ok(in_order.into_iter().cloned().collect::<Vec<_>>().join(";"))
            })?;
            checks.push(Check {
                reason: Reason::UnknownCode,
                column: def.name,
                failed: mapping.has(def.name, "unknown_code"),
                detail: value_detail(&format!(
                    "is not a list of {} codes ({}, separated by `;`), `any` or blank",
                    def.name,
                    members.join(", ")
                )),
            });
            mapping.typed(def.name)
        }
        Kind::Code(list) => {
            let members = plan.code_members(list);
            let book = plan.codebook.get(def.name);
            let mapping =
                map_distinct(frame, def.name, |v| classify_code(list, &members, book, v))?;
            let mapped = mapping.typed(def.name);
            checks.push(Check {
                reason: Reason::UnknownCode,
                column: def.name,
                failed: mapping.has(def.name, "unknown_code"),
                detail: value_detail(&format!(
                    "is not a known {} code{}",
                    def.name,
                    if members.len() <= 14 {
                        format!(" ({})", members.join(", "))
                    } else {
                        String::new()
                    }
                )),
            });
            checks.push(Check {
                reason: Reason::OutOfRange,
                column: def.name,
                failed: mapping.has(def.name, "out_of_range"),
                detail: value_detail("is outside the grades TK, K, 1–12"),
            });
            if list == CodeList::YesNo {
                mapped.eq(lit("Y"))
            } else {
                mapped
            }
        }
    };
    Ok((typed_expr, checks))
}

enum Mapped {
    Ok(String),
    /// Every member of a code set: typed as null.
    Any,
    BadType,
    UnknownCode,
    OutOfRange,
}

fn classify_code(
    list: CodeList,
    members: &[String],
    book: Option<&BTreeMap<String, String>>,
    raw: &str,
) -> Mapped {
    let value = book
        .and_then(|b| {
            b.get(raw).or_else(|| {
                b.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(raw))
                    .map(|(_, v)| v)
            })
        })
        .map_or(raw, String::as_str);
    if let Some(m) = members
        .iter()
        .find(|m| m.eq_ignore_ascii_case(value.trim()))
    {
        return Mapped::Ok(m.clone());
    }
    match list {
        CodeList::StudentGrade => match value.trim().parse::<i64>() {
            Ok(_) if grade_number(value).is_some() => {
                Mapped::Ok(grade_number(value).unwrap_or_default().to_string())
            }
            Ok(_) => Mapped::OutOfRange,
            Err(_) => Mapped::UnknownCode,
        },
        CodeList::YesNo => {
            const YES: &[&str] = &["yes", "true", "t", "1"];
            const NO: &[&str] = &["no", "false", "f", "0"];
            if canonical_code(YES, value).is_some() {
                Mapped::Ok("Y".into())
            } else if canonical_code(NO, value).is_some() {
                Mapped::Ok("N".into())
            } else {
                Mapped::UnknownCode
            }
        }
        _ => Mapped::UnknownCode,
    }
}

/// Canonical value and status for each distinct raw value of a column.
struct Mapping {
    raw: Vec<String>,
    canonical: Vec<Option<String>>,
    status: Vec<&'static str>,
}

impl Mapping {
    /// The typed value: the canonical one, null for a value that fails. When every distinct
    /// value is already canonical the column is used as it is, with no copy.
    fn typed(&self, name: &str) -> Expr {
        let unchanged = self
            .raw
            .iter()
            .zip(&self.canonical)
            .all(|(raw, canonical)| canonical.as_deref() == Some(raw.as_str()));
        if unchanged {
            return col(name);
        }
        col(name).replace_strict(
            lit(Series::new("raw".into(), self.raw.clone())),
            lit(Series::new("canonical".into(), self.canonical.clone())),
            Some(lit(NULL).cast(DataType::String)),
            Some(DataType::String),
        )
    }

    /// True where the raw value has `status` (false for blanks).
    fn has(&self, name: &str, status: &str) -> Expr {
        let values: Vec<&str> = self
            .raw
            .iter()
            .zip(&self.status)
            .filter(|(_, s)| **s == status)
            .map(|(r, _)| r.as_str())
            .collect();
        if values.is_empty() {
            return lit(false);
        }
        col(name)
            .is_in(lit(Series::new("v".into(), values)).implode(false), false)
            .fill_null(lit(false))
    }
}

fn map_distinct(
    frame: &DataFrame,
    name: &str,
    classify: impl Fn(&str) -> Mapped,
) -> PolarsResult<Mapping> {
    let distinct = frame.column(name)?.unique()?;
    let mut m = Mapping {
        raw: Vec::new(),
        canonical: Vec::new(),
        status: Vec::new(),
    };
    for v in distinct.str()?.iter().flatten() {
        let (canonical, status) = match classify(v) {
            Mapped::Ok(c) => (Some(c), "ok"),
            Mapped::Any => (None, "ok"),
            Mapped::BadType => (None, "bad_type"),
            Mapped::UnknownCode => (None, "unknown_code"),
            Mapped::OutOfRange => (None, "out_of_range"),
        };
        m.raw.push(v.to_string());
        m.canonical.push(canonical);
        m.status.push(status);
    }
    Ok(m)
}

/// Column holding the index of a row's first failing check (null when every check passes).
pub const FAILED_COL: &str = "__failed";

/// The first failing check of each row, in reason order and then in the order the checks
/// were given.
pub struct FirstFailure {
    /// The index of the first failing check; evaluates each condition once per row.
    pub index: Expr,
    /// The reason code and blamed column, looked up from `FAILED_COL`.
    pub reason: Expr,
    pub column: Expr,
    /// The explanation, from `FAILED_COL`; it builds text, so it is meant for the few rejected
    /// rows only.
    pub detail: Expr,
}

pub fn first_failure(mut checks: Vec<Check>) -> FirstFailure {
    checks.sort_by_key(|c| c.reason);
    let null_str = || lit(NULL).cast(DataType::String);
    let (mut index, mut detail) = (lit(NULL).cast(DataType::UInt32), null_str());
    let failed = || col(FAILED_COL);
    for (i, c) in checks.iter().enumerate().rev() {
        let i = i as u32;
        index = when(c.failed.clone().fill_null(lit(false)))
            .then(lit(i))
            .otherwise(index);
        detail = when(failed().eq(lit(i)))
            .then(c.detail.clone())
            .otherwise(detail);
    }
    let indexes = Series::new("i".into(), (0..checks.len() as u32).collect::<Vec<_>>());
    let lookup = |values: Vec<&'static str>| {
        failed().replace_strict(
            lit(indexes.clone()),
            lit(Series::new("v".into(), values)),
            Some(null_str()),
            Some(DataType::String),
        )
    };
    FirstFailure {
        index,
        reason: lookup(checks.iter().map(|c| c.reason.code()).collect()),
        column: lookup(checks.iter().map(|c| c.column).collect()),
        detail,
    }
}
