//! The quarantine table: every rejected row with its table, source file, line, reason code,
//! the column blamed, a plain explanation, and its raw values as the file had them (a JSON
//! object keyed by the vendor's column names).

use crate::canonical::Table;
use crate::ingest::{FILE_COL, LINE_COL};
use crate::pipeline::plan::Input;
use polars::prelude::*;

pub const QUARANTINE_COLUMNS: [&str; 7] = [
    "table",
    "source_file",
    "line",
    "reason",
    "column",
    "detail",
    "raw",
];

/// Quarantine rows of one table from frames that hold raw canonical columns plus file, line,
/// reason, column (canonical) and detail.
pub fn rows(input: &Input, table: Table, frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut parts = Vec::new();
    for frame in frames {
        if frame.height() == 0 {
            continue;
        }
        let raw = raw_json(input, table, &frame)?;
        let vendor_of: Vec<(String, String)> = input
            .columns
            .iter()
            .map(|(c, s)| (c.clone(), s.label()))
            .collect();
        let blamed: Vec<Option<String>> = frame
            .column("column")?
            .str()?
            .iter()
            .map(|c| {
                c.map(|c| {
                    vendor_of
                        .iter()
                        .find(|(canon, _)| canon == c)
                        .map_or(c.to_string(), |(_, v)| v.clone())
                })
            })
            .collect();
        let part = frame
            .lazy()
            .select([
                lit(table.name()).alias("table"),
                col(FILE_COL).alias("source_file"),
                col(LINE_COL).cast(DataType::Int64).alias("line"),
                col("reason"),
                col("detail"),
            ])
            .collect()?
            .hstack(&[
                Column::new("column".into(), blamed),
                Column::new("raw".into(), raw),
            ])?;
        parts.push(part.select(QUARANTINE_COLUMNS)?);
    }
    if parts.is_empty() {
        return empty();
    }
    let lazies: Vec<LazyFrame> = parts.into_iter().map(DataFrame::lazy).collect();
    concat(lazies, UnionArgs::default())?
        .sort(["source_file", "line"], SortMultipleOptions::default())
        .collect()
}

/// All tables' quarantine rows in one frame.
pub fn assemble(parts: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let lazies: Vec<LazyFrame> = parts
        .into_iter()
        .filter(|p| p.height() > 0)
        .map(DataFrame::lazy)
        .collect();
    if lazies.is_empty() {
        return empty();
    }
    concat(lazies, UnionArgs::default())?.collect()
}

fn empty() -> PolarsResult<DataFrame> {
    df![
        "table" => Vec::<String>::new(),
        "source_file" => Vec::<String>::new(),
        "line" => Vec::<i64>::new(),
        "reason" => Vec::<String>::new(),
        "column" => Vec::<String>::new(),
        "detail" => Vec::<String>::new(),
        "raw" => Vec::<String>::new(),
    ]
}

fn raw_json(input: &Input, table: Table, frame: &DataFrame) -> PolarsResult<Vec<String>> {
    let mut columns = Vec::new();
    for def in table.columns() {
        columns.push((
            input.vendor_name(def.name),
            frame.column(def.name)?.str()?.clone(),
        ));
    }
    let mut out = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let mut map = serde_json::Map::new();
        for (name, values) in &columns {
            let v = values.get(i).map_or(serde_json::Value::Null, |s| s.into());
            map.insert(name.clone(), v);
        }
        out.push(serde_json::Value::Object(map).to_string());
    }
    Ok(out)
}
