//! XLSX extracts: the first (or named) worksheet, its first non-empty row as the header. Cells
//! become text as a person would read them: whole numbers without ".0", dates as YYYY-MM-DD.

use super::IngestError;
use crate::pipeline::plan::Input;
use calamine::{Data, Reader, Xlsx};
use polars::prelude::*;
use std::io::Cursor;
use std::path::Path;

pub fn read(
    input: &Input,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(DataFrame, Vec<i64>), IngestError> {
    let malformed = |message: String| IngestError::Malformed {
        table: input.table,
        path: path.to_path_buf(),
        format: "XLSX",
        message,
    };
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| malformed(e.to_string()))?;
    let range = match &input.sheet {
        Some(name) if !book.sheet_names().contains(name) => {
            return Err(IngestError::MissingSheet {
                table: input.table,
                path: path.to_path_buf(),
                sheet: name.clone(),
                sheets: book
                    .sheet_names()
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect(),
            });
        }
        Some(name) => book
            .worksheet_range(name)
            .map_err(|e| malformed(e.to_string()))?,
        None => book
            .worksheet_range_at(0)
            .ok_or_else(|| malformed("the workbook has no worksheets".into()))?
            .map_err(|e| malformed(e.to_string()))?,
    };
    let first_row = range.start().map_or(0, |(r, _)| r as i64);
    let mut rows = range
        .rows()
        .enumerate()
        .filter(|(_, r)| r.iter().any(|c| *c != Data::Empty));
    let Some((_, header)) = rows.next() else {
        return Err(malformed("the worksheet is empty (no header row)".into()));
    };
    let names: Vec<String> = header
        .iter()
        .map(|c| cell_text(c).unwrap_or_default())
        .collect();
    super::check_header(&names).map_err(malformed)?;
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    let mut lines = Vec::new();
    for (i, row) in rows {
        lines.push(first_row + i as i64 + 1);
        for (j, values) in columns.iter_mut().enumerate() {
            values.push(row.get(j).and_then(cell_text));
        }
    }
    let cols: Vec<Column> = names
        .iter()
        .zip(columns)
        .map(|(n, v)| Column::new(n.as_str().into(), v))
        .collect();
    let df = DataFrame::new_infer_height(cols).map_err(|e| malformed(e.to_string()))?;
    Ok((df, lines))
}

fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(if *b { "Y" } else { "N" }.to_string()),
        Data::DateTime(d) => {
            // Excel serial days count from 1899-12-30 (1904 workbooks are normalised by calamine).
            let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
            let days = d.as_f64().floor() as i64;
            epoch
                .checked_add_signed(chrono::TimeDelta::days(days))
                .map(|date| date.format("%Y-%m-%d").to_string())
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}
