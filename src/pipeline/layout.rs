//! How an extract's columns become canonical ones: a column under a vendor name (or the first
//! of several names), at a position in a header-less file, a constant, a value derived from
//! other columns (the school year of a date, race from yes/blank flags, several columns joined),
//! the extract's own codes, and the filters with which a file marks rows it does not count.
//! Layout presets (`pipelines/presets/*.toml`, built into the binary) set all of these for
//! the files California districts download; a pipeline overrides them key by key.

use super::problems::Collector;
use super::spec::{InputSpec, KeepSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A column of the file: by name (the first of the names the header has) or, in a file
/// without a header, by position (0-based here, 1-based in pipeline files).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Names(Vec<String>),
    Position(usize),
}

impl Field {
    /// How messages name it: its first name, or `column 3`.
    pub fn label(&self) -> String {
        match self {
            Field::Names(names) => names.first().cloned().unwrap_or_default(),
            Field::Position(p) => format!("column {}", p + 1),
        }
    }
}

/// Where a canonical column's values come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSource {
    /// A column of the file.
    Field(Field),
    /// The same value on every row.
    Constant(String),
    /// The school year (July 1 to June 30) in which a date falls, as `2024-25`. Dates are
    /// read as YYYY-MM-DD, YYYYMMDD or M/D/YYYY, a time after them ignored.
    SchoolYearOf(Field),
    /// The school year that ends in a year (`2025` is `2024-25`).
    SchoolYearEnding(Field),
    /// The month (`1` to `12`) of a date, read as for `SchoolYearOf`; the input's codes then
    /// map months to windows.
    MonthOf(Field),
    /// Several columns' values joined, with no separator (a 14-digit CDS code from the
    /// district and school codes).
    Concat(Vec<Field>),
    /// Race and ethnicity from yes/blank flag columns.
    Flags(FlagRule),
}

/// Race and ethnicity from flag columns, as the state reports it: a flag in `first` wins (in
/// its order; Hispanic or Latino by default), then two or more flags are `several`, then the
/// one flag; no flag gives `otherwise`'s value if set, else `none`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagRule {
    /// Canonical code and its flag column, in the file's order.
    pub flags: Vec<(String, Field)>,
    pub first: Vec<String>,
    pub several: String,
    pub none: String,
    /// Values that mean yes (compared in any letter case).
    pub yes: Vec<String>,
    /// A column whose value (after the input's codes) is used when no flag is set.
    pub otherwise: Option<Field>,
}

impl ColumnSource {
    /// How the quarantine and messages name the column.
    pub fn label(&self) -> String {
        match self {
            ColumnSource::Field(f) => f.label(),
            ColumnSource::Constant(v) => format!("(constant `{v}`)"),
            ColumnSource::SchoolYearOf(f) => format!("school year of {}", f.label()),
            ColumnSource::SchoolYearEnding(f) => format!("school year ending {}", f.label()),
            ColumnSource::MonthOf(f) => format!("month of {}", f.label()),
            ColumnSource::Concat(fs) => fs.iter().map(Field::label).collect::<Vec<_>>().join("+"),
            ColumnSource::Flags(r) => format!(
                "flags {}",
                r.flags
                    .iter()
                    .map(|(_, f)| f.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The file columns it reads.
    pub fn fields(&self) -> Vec<&Field> {
        match self {
            ColumnSource::Field(f)
            | ColumnSource::SchoolYearOf(f)
            | ColumnSource::SchoolYearEnding(f)
            | ColumnSource::MonthOf(f) => vec![f],
            ColumnSource::Constant(_) => Vec::new(),
            ColumnSource::Concat(fs) => fs.iter().collect(),
            ColumnSource::Flags(r) => r
                .flags
                .iter()
                .map(|(_, f)| f)
                .chain(r.otherwise.as_ref())
                .collect(),
        }
    }
}

/// A row filter: a row is kept only when `field` holds one of `values`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keep {
    pub field: Field,
    pub values: Vec<String>,
    pub reason: String,
}

/// A header a preset knows, as the source published it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownHeader {
    /// Which files have it, for messages (`2024-25, 401 columns`).
    pub label: String,
    /// Where the header comes from.
    pub source: String,
    /// The column names in order.
    pub names: Vec<String>,
}

/// A layout preset as written in `pipelines/presets/<name>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// What the file is and where a district gets it.
    pub description: String,
    /// The public documents and repositories the layout was checked against, and what is not.
    pub sources: Vec<String>,
    /// The tables it can feed, each as an `[inputs.<table>]` entry without a path.
    pub tables: BTreeMap<String, InputSpec>,
    /// Header variants seen in the wild, for drift reports.
    #[serde(default)]
    pub headers: Vec<KnownHeader>,
}

/// The presets shipped in the binary, by name.
const PRESET_FILES: &[(&str, &str)] = &[
    (
        "caaspp_student_score_file",
        include_str!("../../pipelines/presets/caaspp_student_score_file.toml"),
    ),
    (
        "cers_interim_export",
        include_str!("../../pipelines/presets/cers_interim_export.toml"),
    ),
    (
        "caaspp_research_file",
        include_str!("../../pipelines/presets/caaspp_research_file.toml"),
    ),
];

/// Names of the shipped layout presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESET_FILES.iter().map(|(n, _)| *n).collect()
}

/// A shipped layout preset, parsed.
pub fn preset(name: &str) -> Option<Preset> {
    let (_, text) = PRESET_FILES.iter().find(|(n, _)| *n == name)?;
    Some(toml::from_str(text).unwrap_or_else(|e| panic!("shipped preset `{name}` is invalid: {e}")))
}

/// `input` over the preset's entry for the same table: every key the pipeline gives wins,
/// `columns` and `codes` entry by entry; `keep` filters add to the preset's.
pub fn overlay(input: &InputSpec, base: InputSpec) -> InputSpec {
    let mut columns = base.columns;
    columns.extend(input.columns.clone());
    let mut codes = base.codes;
    for (column, map) in &input.codes {
        codes.entry(column.clone()).or_default().extend(map.clone());
    }
    InputSpec {
        preset: input.preset.clone(),
        path: None,
        format: input.format.clone().or(base.format),
        delimiter: input.delimiter.clone().or(base.delimiter),
        encoding: input.encoding.clone().or(base.encoding),
        header: input.header.or(base.header),
        sheet: input.sheet.clone().or(base.sheet),
        columns,
        codes,
        // A preset's filters are part of reading its layout right; the pipeline's come after.
        keep: match (base.keep, &input.keep) {
            (Some(mut preset), Some(own)) => {
                preset.extend(own.iter().cloned());
                Some(preset)
            }
            (preset, own) => own.clone().or(preset),
        },
        demographics: input.demographics.clone().or(base.demographics),
    }
}

/// A `columns` entry as written: see `InputSpec::columns`.
pub fn column_source(
    value: &toml::Value,
    key: &str,
    header: bool,
    c: &mut Collector<'_>,
) -> Option<ColumnSource> {
    use toml::Value;
    match value {
        Value::String(_) | Value::Integer(_) | Value::Array(_) => {
            field(value, key, header, c).map(ColumnSource::Field)
        }
        Value::Table(t) => {
            const RULES: [&str; 6] = [
                "value",
                "school_year_of",
                "school_year_ending",
                "month_of",
                "concat",
                "flags",
            ];
            let rule: Vec<&str> = RULES
                .iter()
                .copied()
                .filter(|r| t.contains_key(*r))
                .collect();
            if rule.len() != 1 {
                c.push_hint(
                    key,
                    format!(
                        "a derived column names exactly one rule; this one names {}",
                        if rule.is_empty() {
                            "none".to_string()
                        } else {
                            rule.join(" and ")
                        }
                    ),
                    Some(format!("use one of {}", RULES.join(", "))),
                );
                return None;
            }
            let allowed: &[&str] = if rule[0] == "flags" {
                &["flags", "first", "several", "none", "yes", "otherwise"]
            } else {
                &[rule[0]]
            };
            for k in t.keys() {
                if !allowed.contains(&k.as_str()) {
                    c.unknown(format!("{key}.{k}"), "key", k, allowed);
                }
            }
            let inner = &t[rule[0]];
            let inner_key = format!("{key}.{}", rule[0]);
            match rule[0] {
                "value" => match inner {
                    Value::String(s) => Some(ColumnSource::Constant(s.clone())),
                    Value::Integer(i) => Some(ColumnSource::Constant(i.to_string())),
                    _ => {
                        c.push(inner_key, "a constant is a string or a whole number");
                        None
                    }
                },
                "school_year_of" => {
                    field(inner, &inner_key, header, c).map(ColumnSource::SchoolYearOf)
                }
                "school_year_ending" => {
                    field(inner, &inner_key, header, c).map(ColumnSource::SchoolYearEnding)
                }
                "month_of" => field(inner, &inner_key, header, c).map(ColumnSource::MonthOf),
                "concat" => match inner {
                    Value::Array(items) if items.len() >= 2 => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| field(v, &format!("{inner_key}[{i}]"), header, c))
                        .collect::<Option<Vec<_>>>()
                        .map(ColumnSource::Concat),
                    _ => {
                        c.push(inner_key, "`concat` lists two or more columns");
                        None
                    }
                },
                _ => flag_rule(t, key, header, c).map(ColumnSource::Flags),
            }
        }
        _ => {
            c.push(
                key,
                "a column is a vendor name, a list of names, a position, or a rule such as `{ value = \"spring\" }`",
            );
            None
        }
    }
}

/// A column of the file as written: a name, a list of names (the first present wins), or a
/// 1-based position (only in a file without a header).
pub fn field(value: &toml::Value, key: &str, header: bool, c: &mut Collector<'_>) -> Option<Field> {
    use toml::Value;
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(Field::Names(vec![s.clone()])),
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|v| v.as_str().is_some_and(|s| !s.trim().is_empty())) =>
        {
            Some(Field::Names(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            ))
        }
        Value::Integer(i) => {
            if header {
                c.push_hint(
                    key,
                    format!("column {i} is a position, but this file has a header"),
                    Some("name the column, or set `header = false` for a file without one"),
                );
                None
            } else if *i < 1 {
                c.push(key, "positions count from 1");
                None
            } else {
                Some(Field::Position(*i as usize - 1))
            }
        }
        _ => {
            c.push(
                key,
                "expected a column name, a list of names, or a position (in a file without a header)",
            );
            None
        }
    }
    .and_then(|f| match (&f, header) {
        (Field::Names(_), false) => {
            c.push_hint(
                key,
                "this file has no header, so its columns have no names",
                Some("give the column's position, counting from 1"),
            );
            None
        }
        _ => Some(f),
    })
}

fn flag_rule(t: &toml::Table, key: &str, header: bool, c: &mut Collector<'_>) -> Option<FlagRule> {
    let codes = crate::canonical::CodeList::RaceEthnicity
        .fixed_members()
        .unwrap_or_default();
    let strings = |name: &str, c: &mut Collector<'_>| -> Option<Vec<String>> {
        let v = t.get(name)?;
        match v.as_array() {
            Some(items) if items.iter().all(|i| i.as_str().is_some()) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            _ => {
                c.push(format!("{key}.{name}"), "expected a list of strings");
                None
            }
        }
    };
    let code = |name: &str, default: &str, c: &mut Collector<'_>| -> String {
        match t.get(name).map(|v| v.as_str()) {
            None => default.to_string(),
            Some(Some(s)) if codes.contains(&s) => s.to_string(),
            Some(other) => {
                c.unknown(
                    format!("{key}.{name}"),
                    "race/ethnicity code",
                    other.unwrap_or(""),
                    codes,
                );
                default.to_string()
            }
        }
    };
    let Some(map) = t.get("flags").and_then(|v| v.as_table()) else {
        c.push(
            format!("{key}.flags"),
            "expected a table of code = flag column",
        );
        return None;
    };
    let mut flags = Vec::new();
    for (code_name, column) in map {
        if !codes.contains(&code_name.as_str()) {
            c.unknown(
                format!("{key}.flags.{code_name}"),
                "race/ethnicity code",
                code_name,
                codes,
            );
            continue;
        }
        if let Some(f) = field(column, &format!("{key}.flags.{code_name}"), header, c) {
            flags.push((code_name.clone(), f));
        }
    }
    let first = strings("first", c).unwrap_or_else(|| vec!["HI".to_string()]);
    for f in &first {
        if !flags.iter().any(|(code, _)| code == f) {
            c.push(
                format!("{key}.first"),
                format!("`{f}` has no flag column under `flags`"),
            );
        }
    }
    let otherwise = match t.get("otherwise") {
        Some(v) => Some(field(v, &format!("{key}.otherwise"), header, c)?),
        None => None,
    };
    Some(FlagRule {
        flags,
        first,
        several: code("several", "MR", c),
        none: code("none", "NR", c),
        yes: strings("yes", c).unwrap_or_else(|| vec!["Yes".to_string(), "Y".to_string()]),
        otherwise,
    })
}

/// The row filters as written.
pub fn keeps(specs: &[KeepSpec], key: &str, header: bool, c: &mut Collector<'_>) -> Vec<Keep> {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            let at = format!("{key}.keep[{i}]");
            if k.values.is_empty() {
                c.push(format!("{at}.values"), "a filter keeps at least one value");
            }
            if k.reason.trim().is_empty() {
                c.push(
                    format!("{at}.reason"),
                    "say why the other rows are excluded",
                );
            }
            field(&k.column, &format!("{at}.column"), header, c).map(|field| Keep {
                field,
                values: k.values.clone(),
                reason: k.reason.trim().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_preset_parses_and_names_its_sources() {
        for name in preset_names() {
            let p = preset(name).expect("listed");
            assert!(!p.sources.is_empty(), "{name} names its sources");
            assert!(!p.tables.is_empty(), "{name} feeds a table");
            for h in &p.headers {
                let mut seen = std::collections::BTreeSet::new();
                for n in &h.names {
                    assert!(
                        seen.insert(n.to_lowercase()),
                        "{name}: `{n}` twice in {}",
                        h.label
                    );
                }
            }
        }
    }

    #[test]
    fn column_sources_read_as_written() {
        let text = "";
        let mut c = Collector::new(text);
        let v: toml::Value = toml::from_str::<toml::Table>(
            "a = { value = \"spring\" }\nb = [\"X\", \"Y\"]\nd = { school_year_of = \"D\" }",
        )
        .unwrap()
        .into();
        let t = v.as_table().unwrap();
        assert_eq!(
            column_source(&t["a"], "a", true, &mut c),
            Some(ColumnSource::Constant("spring".into()))
        );
        assert_eq!(
            column_source(&t["b"], "b", true, &mut c),
            Some(ColumnSource::Field(Field::Names(vec![
                "X".into(),
                "Y".into()
            ])))
        );
        assert_eq!(
            column_source(&t["d"], "d", true, &mut c),
            Some(ColumnSource::SchoolYearOf(Field::Names(vec!["D".into()])))
        );
        assert_eq!(
            column_source(&toml::Value::Integer(3), "p", false, &mut c),
            Some(ColumnSource::Field(Field::Position(2)))
        );
        assert_eq!(
            column_source(&toml::Value::Integer(3), "p", true, &mut c),
            None
        );
    }
}
