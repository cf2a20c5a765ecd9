//! CSV extracts: decode to UTF-8, find the line each record starts on (quoted fields may span
//! lines), and let Polars split the fields, keeping every value as text.

use super::{IngestError, decode};
use crate::pipeline::plan::Input;
use polars::prelude::*;
use std::io::Cursor;
use std::path::Path;

pub fn read(
    input: &Input,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(DataFrame, Vec<i64>), IngestError> {
    let text = decode(input, path, bytes)?;
    let starts = record_start_lines(text.as_bytes());
    let malformed = |message: String| IngestError::Malformed {
        table: input.table,
        path: path.to_path_buf(),
        format: "CSV",
        message,
    };
    if starts.is_empty() {
        return Err(malformed("the file is empty (no header row)".into()));
    }
    let parse = CsvParseOptions::default()
        .with_separator(input.delimiter)
        .with_quote_char(Some(b'"'))
        .with_missing_is_null(true);
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_raise_if_empty(false)
        .with_parse_options(parse)
        .into_reader_with_file_handle(Cursor::new(text.into_bytes()))
        .finish()
        .map_err(|e| malformed(e.to_string()))?;
    let lines: Vec<i64> = starts[1..].iter().map(|&l| l as i64).collect();
    if lines.len() != df.height() {
        return Err(malformed(format!(
            "found {} records but {} rows; check the delimiter and quoting",
            lines.len(),
            df.height()
        )));
    }
    Ok((df, lines))
}

/// The 1-based line on which each non-blank record starts, header included. A newline inside
/// double quotes continues the record.
fn record_start_lines(text: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut line = 1;
    let mut in_quotes = false;
    let mut record_start = 1;
    let mut record_has_content = false;
    for &b in text {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                record_has_content = true;
            }
            b'\n' if !in_quotes => {
                if record_has_content {
                    starts.push(record_start);
                }
                line += 1;
                record_start = line;
                record_has_content = false;
            }
            b'\n' => line += 1,
            b'\r' => {}
            _ => record_has_content = true,
        }
    }
    if record_has_content {
        starts.push(record_start);
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::record_start_lines;

    #[test]
    fn records_spanning_lines_and_blank_lines() {
        let text = b"a,b\r\n1,\"x\ny\"\r\n\r\n2,z\n";
        assert_eq!(record_start_lines(text), vec![1, 2, 5]);
        assert_eq!(record_start_lines(b"a,b\n1,2"), vec![1, 2]);
        assert_eq!(record_start_lines(b""), Vec::<usize>::new());
    }
}
