//! Frozen windows. Once a window closes, the numbers published for it are the numbers of
//! record: a later run that would compute different ones (a late score, a corrected
//! demographic) keeps the published values and lists each would-be change, until the research
//! office restates the window on purpose, with a reason every later packet of the window shows.
//!
//! The frozen values live inside the reports folder, beside the runs:
//! `<out>/<pipeline>/frozen/<school year>/<window>/` holds `record.json` (when, from which run,
//! and every restatement with its changes) and one Parquet file per metric table with the rows
//! of that school year and window, exactly as published.

use crate::metrics::{self, Metrics};
use fs_err as fs;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FOLDER: &str = "frozen";

/// The metric tables whose rows a frozen window keeps: every published table of cells with a
/// school year and a window. (`student_growth` is student level and feeds no packet.)
pub const TABLES: [&str; 7] = [
    "baselines",
    "growth",
    "gaps",
    "cohort_change",
    "cohort_gaps",
    "dashboard",
    "flags",
];

/// A frozen window, as `record.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub school_year: String,
    pub window: String,
    /// `YYYY-MM-DD`.
    pub frozen_on: String,
    /// The run whose values were frozen.
    pub from_run: String,
    #[serde(default)]
    pub restatements: Vec<Restatement>,
}

/// A deliberate change to a frozen window's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Restatement {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub reason: String,
    /// The run that published the restated values.
    pub run: String,
    pub changes: Vec<Change>,
}

/// One value that differs between the frozen rows and the recomputed ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub table: String,
    pub school_id: String,
    /// The row's other key columns, `column=value` joined by `, `.
    pub key: String,
    pub column: String,
    /// Empty when the row was not published (or is no longer computed).
    pub old: String,
    pub new: String,
}

impl Change {
    pub fn describe(&self) -> String {
        let shown = |v: &str| if v.is_empty() { "none" } else { v }.to_string();
        format!(
            "{} ({}): {} {} → {}",
            self.table,
            self.key,
            self.column,
            shown(&self.old),
            shown(&self.new)
        )
    }
}

/// What freezing did in a run: the windows held at their published values, and the values
/// recomputation would have changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub windows: Vec<Record>,
    /// Kept at their published values in this run.
    pub would_change: Vec<Change>,
}

impl Outcome {
    /// The restatements of a school year and window, for its packets.
    pub fn restatements(&self, school_year: &str, window: &str) -> &[Restatement] {
        self.windows
            .iter()
            .find(|r| r.school_year == school_year && r.window == window)
            .map_or(&[], |r| &r.restatements)
    }
}

fn dir_of(root: &Path, school_year: &str, window: &str) -> PathBuf {
    root.join(FOLDER).join(school_year).join(window)
}

/// Every frozen window under `root` (a pipeline's folder of runs), oldest year first.
pub fn load(root: &Path) -> anyhow::Result<Vec<Record>> {
    let base = root.join(FOLDER);
    let mut out = Vec::new();
    if !base.is_dir() {
        return Ok(out);
    }
    let mut years: Vec<_> = fs::read_dir(&base)?.collect::<Result<_, _>>()?;
    years.sort_by_key(|e| e.file_name());
    for year in years {
        if !year.path().is_dir() {
            continue;
        }
        let mut windows: Vec<_> = fs::read_dir(year.path())?.collect::<Result<_, _>>()?;
        windows.sort_by_key(|e| e.file_name());
        for w in windows {
            let path = w.path().join("record.json");
            if !path.is_file() {
                continue;
            }
            let record: Record = serde_json::from_slice(&fs::read(&path)?).map_err(|e| {
                anyhow::anyhow!("`{}` is not a frozen window's record: {e}", path.display())
            })?;
            out.push(record);
        }
    }
    Ok(out)
}

/// The latest school year of a run's baselines: the year packets are made for.
pub fn current_year(tables: &[(&str, DataFrame)]) -> PolarsResult<Option<String>> {
    let Some((_, df)) = tables.iter().find(|(n, _)| *n == "baselines") else {
        return Ok(None);
    };
    Ok(df
        .column("school_year")?
        .str()?
        .iter()
        .flatten()
        .max()
        .map(str::to_string))
}

/// The rows of a school year and window. A table without windows (the Dashboard, computed
/// from the summative window) is frozen with the year's last window, whole.
fn in_window(df: &DataFrame, school_year: &str, window: &str) -> Expr {
    let year = col("school_year").eq(lit(school_year.to_string()));
    if df.column("window").is_ok() {
        year.and(col("window").eq(lit(window.to_string())))
    } else {
        year
    }
}

/// Write the rows of `school_year` and `window` of `tables` (decoded to text) as the window's
/// frozen values, with `record`; tables without windows only when `last` (the window is the
/// year's last, the summative). Replaces what was frozen before (a restatement) in one rename.
pub fn write(
    root: &Path,
    record: &Record,
    tables: &[(&str, DataFrame)],
    last: bool,
) -> anyhow::Result<()> {
    let dir = dir_of(root, &record.school_year, &record.window);
    let tmp = dir.with_extension(format!("writing.{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    for (name, df) in tables.iter().filter(|(n, _)| TABLES.contains(n)) {
        if df.column("window").is_err() && !last {
            continue;
        }
        let mut rows = df
            .clone()
            .lazy()
            .filter(in_window(df, &record.school_year, &record.window))
            .collect()?;
        let mut file = fs::File::create(tmp.join(format!("{name}.parquet")))?;
        ParquetWriter::new(&mut file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut rows)?;
    }
    fs::write(tmp.join("record.json"), serde_json::to_vec_pretty(record)?)?;
    if dir.exists() {
        let old = dir.with_extension(format!("old.{}", std::process::id()));
        fs::rename(&dir, &old)?;
        fs::rename(&tmp, &dir)?;
        fs::remove_dir_all(&old)?;
    } else {
        fs::rename(&tmp, &dir)?;
    }
    Ok(())
}

fn read_frozen(root: &Path, record: &Record, table: &str) -> anyhow::Result<Option<DataFrame>> {
    let path = dir_of(root, &record.school_year, &record.window).join(format!("{table}.parquet"));
    if !path.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", path.display()))?;
    Ok(Some(ParquetReader::new(file).finish().map_err(|e| {
        anyhow::anyhow!("cannot read `{}`: {e}", path.display())
    })?))
}

/// Hold every frozen window in `records` at its published values in `metrics` (whose tables
/// are decoded to text), except `lift` (the school year and window being restated): each value
/// recomputation would change is listed, and the frozen row published instead. For `lift`, the
/// changes are listed and the new values kept.
pub fn apply(
    root: &Path,
    records: &[Record],
    metrics: &mut Metrics,
    lift: Option<(&str, &str)>,
) -> anyhow::Result<(Vec<Change>, Vec<Change>)> {
    let mut held = Vec::new();
    let mut lifted = Vec::new();
    for record in records {
        let lifting = lift == Some((record.school_year.as_str(), record.window.as_str()));
        for (name, df) in metrics.tables.iter_mut() {
            if !TABLES.contains(name) {
                continue;
            }
            let Some(frozen) = read_frozen(root, record, name)? else {
                continue;
            };
            let window = in_window(df, &record.school_year, &record.window);
            let now = df.clone().lazy().filter(window.clone()).collect()?;
            let changes = diff(name, &frozen, &now)?;
            if lifting {
                lifted.extend(changes);
                continue;
            }
            if changes.is_empty() {
                continue;
            }
            held.extend(changes);
            // The frozen rows in the table's own columns and types, in place of the new ones.
            let columns: Vec<Expr> = df
                .schema()
                .iter()
                .map(|(c, t)| col(c.clone()).cast(t.clone()))
                .collect();
            let frozen = frozen.lazy().select(columns);
            let rest = df.clone().lazy().filter(window.not());
            *df = metrics::sorted(
                name,
                concat([rest, frozen], UnionArgs::default()).map_err(|e| {
                    PolarsError::ComputeError(
                        format!(
                            "the frozen {} of {} {} no longer fit the table's columns: {e}",
                            name, record.school_year, record.window
                        )
                        .into(),
                    )
                })?,
            )?;
        }
    }
    Ok((held, lifted))
}

fn text(v: AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(x) => format_float(x),
        AnyValue::Float32(x) => format_float(x as f64),
        other => other.to_string(),
    }
}

/// Up to six decimals, without trailing zeros: enough to see any change that matters, short
/// enough to read.
fn format_float(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A table's rows by key (`column=value` of each key column), each with its other columns'
/// values as text.
type Rows = std::collections::BTreeMap<Vec<String>, Vec<(String, String)>>;

/// Every value that differs between `old` and `new` (rows of one table), by the table's key.
pub fn diff(table: &str, old: &DataFrame, new: &DataFrame) -> PolarsResult<Vec<Change>> {
    let keys = metrics::keys(table);
    let rows = |df: &DataFrame| -> PolarsResult<Rows> {
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut out = std::collections::BTreeMap::new();
        for i in 0..df.height() {
            let row = df.get_row(i)?;
            let mut key = Vec::new();
            let mut values = Vec::new();
            for (name, v) in names.iter().zip(row.0) {
                if keys.contains(&name.as_str()) {
                    key.push(format!("{name}={}", text(v)));
                } else {
                    values.push((name.clone(), text(v)));
                }
            }
            out.insert(key, values);
        }
        Ok(out)
    };
    let (old, new) = (rows(old)?, rows(new)?);
    let mut changes = Vec::new();
    let empty = Vec::new();
    let all: std::collections::BTreeSet<&Vec<String>> = old.keys().chain(new.keys()).collect();
    for key in all {
        let (a, b) = (
            old.get(key).unwrap_or(&empty),
            new.get(key).unwrap_or(&empty),
        );
        let columns: std::collections::BTreeSet<&String> =
            a.iter().chain(b.iter()).map(|(c, _)| c).collect();
        let value = |side: &Vec<(String, String)>, c: &str| {
            side.iter()
                .find(|(n, _)| n == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        for c in columns {
            let (o, n) = (value(a, c), value(b, c));
            if o != n {
                let school = key
                    .iter()
                    .find_map(|k| k.strip_prefix("school_id="))
                    .unwrap_or_default()
                    .to_string();
                changes.push(Change {
                    table: table.to_string(),
                    school_id: school,
                    key: key
                        .iter()
                        .filter(|k| !k.starts_with("school_year=") && !k.starts_with("window="))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    column: c.clone(),
                    old: o,
                    new: n,
                });
            }
        }
    }
    Ok(changes)
}
