//! CSV extracts: decode to UTF-8, find the line each record starts on (quoted fields may span
//! lines), and let Polars split the fields, keeping every value as text.

use super::{IngestError, decode};
use crate::pipeline::plan::Input;
use polars::prelude::*;
use std::io::Cursor;
use std::path::Path;

/// A CSV extract decoded and scanned, ready to be parsed a piece at a time.
pub struct Csv {
    text: String,
    /// The 1-based line on which each record starts, the header's first.
    starts: Vec<usize>,
    /// The byte at which each record starts, the header's first.
    offsets: Vec<usize>,
    pub header: Vec<String>,
    /// A file without a header: the header line made up for it (fields named by position,
    /// `1`, `2`, …), and the first record is data.
    made_up_head: Option<Vec<u8>>,
    /// Every value is already trimmed, with blanks as nulls (see `Scan::trimmed`).
    pub trimmed: bool,
}

impl Csv {
    /// Data rows (records after the header).
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// The line each data row in `rows` starts on.
    pub fn lines(&self, rows: impl Iterator<Item = usize>) -> Vec<i64> {
        rows.map(|r| self.starts[r + 1] as i64).collect()
    }

    /// The bytes of data row `r`, up to the next record (blank lines after it included).
    fn record(&self, r: usize) -> &[u8] {
        let end = self.offsets.get(r + 2).copied().unwrap_or(self.text.len());
        &self.text.as_bytes()[self.offsets[r + 1]..end]
    }

    /// The header record with what follows it up to the first data row.
    fn head(&self) -> &[u8] {
        if let Some(head) = &self.made_up_head {
            return head;
        }
        let end = self.offsets.get(1).copied().unwrap_or(self.text.len());
        &self.text.as_bytes()[self.offsets[0]..end]
    }

    /// Parse data rows `rows` (in order) into text columns named as in the header; a pick of
    /// scattered rows is parsed from their records alone.
    pub fn parse(
        &self,
        input: &Input,
        path: &Path,
        rows: &[usize],
    ) -> Result<DataFrame, IngestError> {
        let contiguous = rows.windows(2).all(|w| w[1] == w[0] + 1);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(self.head());
        if let (true, Some(&first), Some(&last)) = (contiguous, rows.first(), rows.last()) {
            let end = self
                .offsets
                .get(last + 2)
                .copied()
                .unwrap_or(self.text.len());
            bytes.extend_from_slice(&self.text.as_bytes()[self.offsets[first + 1]..end]);
        } else {
            for &r in rows {
                let record = self.record(r);
                bytes.extend_from_slice(record);
                if !record.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
            }
        }
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        let malformed = |message: String| IngestError::Malformed {
            table: input.table,
            path: path.to_path_buf(),
            format: "CSV",
            message,
        };
        let parse = CsvParseOptions::default()
            .with_separator(input.delimiter)
            .with_quote_char(Some(b'"'))
            .with_missing_is_null(true);
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(false)
            .with_rechunk(true)
            .with_parse_options(parse)
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|e| malformed(e.to_string()))?;
        if rows.len() != df.height() {
            let (from, to) = (
                rows.first().map_or(0, |&r| self.starts[r + 1]),
                rows.last().map_or(0, |&r| self.starts[r + 1]),
            );
            return Err(malformed(format!(
                "lines {from}–{to} hold {} records but parse as {} rows; check the delimiter and quoting",
                rows.len(),
                df.height()
            )));
        }
        Ok(df)
    }
}

/// Decode and scan a CSV extract: where each record starts, its header, whether its values
/// need trimming; refused when its structure is broken (see `scan`).
pub fn open(input: &Input, path: &Path, bytes: Vec<u8>) -> Result<Csv, IngestError> {
    let text = decode(input, path, bytes)?;
    let malformed = |message: String| IngestError::Malformed {
        table: input.table,
        path: path.to_path_buf(),
        format: "CSV",
        message,
    };
    let mut scan = scan(text.as_bytes(), input.delimiter).map_err(|m| {
        malformed(if input.header {
            m
        } else {
            m.replace("but the header has", "but the first line has")
        })
    })?;
    if scan.starts.is_empty() {
        return Err(malformed("the file is empty (no header row)".into()));
    }
    let mut made_up_head = None;
    if input.header {
        super::check_header(&scan.header).map_err(malformed)?;
    } else {
        // Every record is data: a header naming the fields by position goes before them.
        let names: Vec<String> = (1..=scan.header.len()).map(|i| i.to_string()).collect();
        let mut head = names
            .join(&(input.delimiter as char).to_string())
            .into_bytes();
        head.push(b'\n');
        made_up_head = Some(head);
        scan.header = names;
        scan.starts.insert(0, 0);
        scan.offsets.insert(0, 0);
    }
    Ok(Csv {
        text,
        starts: scan.starts,
        offsets: scan.offsets,
        header: scan.header,
        made_up_head,
        trimmed: scan.trimmed,
    })
}

/// What one pass over the text finds: the 1-based line on which each non-blank record starts
/// (header included; a newline inside double quotes continues the record).
#[derive(Debug, PartialEq)]
struct Scan {
    starts: Vec<usize>,
    /// The byte at which each of those records starts (after the newline that ends the
    /// record or blank line before it).
    offsets: Vec<usize>,
    /// The header's field names, unquoted.
    header: Vec<String>,
    /// No field is quoted or starts or ends with whitespace (or with a non-ASCII byte, which
    /// may be Unicode whitespace): every value is already trimmed, and a blank is an empty
    /// field, which the parser reads as null. Ingest then skips trimming the whole table.
    trimmed: bool,
}

/// A byte at a field's edge that trimming might remove: ASCII whitespace, or a byte of a
/// multi-byte character (some are Unicode whitespace).
fn trimmable(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b || b >= 0x80
}

/// Find where records start and whether values need trimming, and refuse what would make
/// Polars split fields wrongly or carry invisible garbage into ids (see `scan_bytewise`).
fn scan(text: &[u8], delimiter: u8) -> Result<Scan, String> {
    // Most extracts quote nothing: then records are lines, and the delimiters and newlines
    // can be found with vectorised searches instead of looking at every byte. Anything the
    // fast path does not handle (quotes, NUL bytes, a byte-order mark) goes byte by byte,
    // which also words the refusal.
    let bom = memchr::memmem::find(text, b"\xEF\xBB\xBF").is_some();
    if !bom && memchr::memchr2(b'"', 0, text).is_none() {
        return scan_unquoted(text, delimiter);
    }
    scan_bytewise(text, delimiter)
}

/// Where records start, and the header's field count every record must match.
#[derive(Default)]
struct Records {
    starts: Vec<usize>,
    offsets: Vec<usize>,
    header_fields: Option<usize>,
    /// The first record whose field count differs from the header's.
    mismatch: Option<String>,
}

impl Records {
    fn end(&mut self, start: usize, offset: usize, fields: usize) {
        self.starts.push(start);
        self.offsets.push(offset);
        match self.header_fields {
            None => self.header_fields = Some(fields),
            Some(h) if h != fields && self.mismatch.is_none() => {
                self.mismatch = Some(format!(
                    "line {start} has {fields} field{} but the header has {h}; check the delimiter and quoting of that line",
                    if fields == 1 { "" } else { "s" }
                ));
            }
            Some(_) => {}
        }
    }
}

/// Whether the field that ends just before `end` (a delimiter's or a newline's position, or
/// the text's length) ends in a byte trimming might remove.
fn padded_end(text: &[u8], end: usize, delimiter: u8) -> bool {
    end > 0 && text[end - 1] != delimiter && text[end - 1] != b'\n' && trimmable(text[end - 1])
}

/// Where the line whose newline is at `i` ends: before a CRLF's CR.
fn line_end(text: &[u8], i: usize) -> usize {
    if i > 0 && text[i - 1] == b'\r' {
        i - 1
    } else {
        i
    }
}

/// Whether the field that starts at `start` starts with a byte trimming might remove (an
/// empty field, ended by a delimiter, LF or CRLF, does not).
fn padded_start(text: &[u8], start: usize, delimiter: u8) -> bool {
    let Some(&b) = text.get(start) else {
        return false;
    };
    let ends_empty = b == b'\n' || (b == b'\r' && text.get(start + 1) == Some(&b'\n'));
    !(b == delimiter || ends_empty) && trimmable(b)
}

/// `scan` for text without quotes, NUL bytes or byte-order marks: the same result as
/// `scan_bytewise`, from the positions of delimiters and newlines alone.
fn scan_unquoted(text: &[u8], delimiter: u8) -> Result<Scan, String> {
    let mut records = Records::default();
    let mut trimmed = !padded_start(text, 0, delimiter);
    let (mut line, mut line_start, mut fields) = (1, 0, 1);
    let mut content_before = 0; // end of the last delimiter seen on this line
    for i in memchr::memchr2_iter(delimiter, b'\n', text) {
        if text[i] == delimiter {
            trimmed &= !padded_end(text, i, delimiter);
            fields += 1;
            content_before = i + 1;
        } else {
            trimmed &= !padded_end(text, line_end(text, i), delimiter);
            // A line of nothing but CRs is blank.
            let has_content = fields > 1
                || text[line_start.max(content_before)..i]
                    .iter()
                    .any(|&b| b != b'\r');
            if has_content {
                records.end(line, line_start, fields);
            }
            line += 1;
            line_start = i + 1;
            content_before = line_start;
            fields = 1;
        }
        trimmed &= !padded_start(text, i + 1, delimiter);
    }
    let has_content = fields > 1 || text[line_start..].iter().any(|&b| b != b'\r');
    if has_content {
        records.end(line, line_start, fields);
    }
    // The last field of a file without a final newline.
    trimmed &= !padded_end(text, text.len(), delimiter);
    if let Some(message) = records.mismatch {
        return Err(message);
    }
    Ok(Scan {
        starts: records.starts,
        offsets: records.offsets,
        header: header_names(text, delimiter),
        trimmed,
    })
}

/// Walk the text byte by byte: find where records start, and refuse what would make Polars
/// split fields wrongly or carry invisible garbage into ids: a record with more or fewer
/// fields than the header, a quote that never closes, a NUL byte, a byte-order mark inside
/// the file.
fn scan_bytewise(text: &[u8], delimiter: u8) -> Result<Scan, String> {
    let mut records = Records::default();
    let mut line = 1;
    let mut in_quotes = false;
    let mut quote_line = 0;
    let mut record_start = 1;
    let mut record_offset = 0;
    let mut record_has_content = false;
    let mut fields = 1;
    let mut trimmed = true;
    let mut field_start = true;
    let end_record = |records: &mut Records, start: usize, offset: usize, fields: usize| {
        records.end(start, offset, fields);
        records.mismatch.take().map_or(Ok(()), Err)
    };
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if field_start && !in_quotes {
            trimmed &= !padded_start(text, i, delimiter);
            field_start = false;
        }
        match b {
            0 => {
                let utf16 = text.iter().take(200).filter(|&&b| b == 0).count() > 50;
                return Err(format!(
                    "line {line} has a NUL byte (0x00){}",
                    if utf16 {
                        "; the file looks like UTF-16: save it as UTF-8 (or CSV, not \"Unicode text\")"
                    } else {
                        "; the file is probably not text"
                    }
                ));
            }
            // U+FEFF is EF BB BF in UTF-8: a byte-order mark past the start.
            0xEF if text[i..].starts_with(b"\xEF\xBB\xBF") => {
                return Err(format!(
                    "line {line} has a byte-order mark (U+FEFF) inside the file; were two files joined? Each file should be its own path in `path = [...]`"
                ));
            }
            b'"' => {
                trimmed = false;
                if !in_quotes {
                    quote_line = line;
                }
                in_quotes = !in_quotes;
                record_has_content = true;
            }
            b'\n' if !in_quotes => {
                trimmed &= !padded_end(text, line_end(text, i), delimiter);
                field_start = true;
                if record_has_content {
                    end_record(&mut records, record_start, record_offset, fields)?;
                }
                line += 1;
                record_start = line;
                record_offset = i + 1;
                record_has_content = false;
                fields = 1;
            }
            b'\n' => line += 1,
            b'\r' => {}
            _ if b == delimiter && !in_quotes => {
                trimmed &= !padded_end(text, i, delimiter);
                field_start = true;
                fields += 1;
                record_has_content = true;
            }
            _ => record_has_content = true,
        }
        i += 1;
    }
    if in_quotes {
        return Err(format!(
            "line {quote_line} opens a quoted field that is never closed"
        ));
    }
    if record_has_content {
        end_record(&mut records, record_start, record_offset, fields)?;
    }
    // The last field of a file without a final newline.
    trimmed &= !padded_end(text, text.len(), delimiter);
    Ok(Scan {
        starts: records.starts,
        offsets: records.offsets,
        header: header_names(text, delimiter),
        trimmed,
    })
}

/// The first record's fields, with surrounding quotes removed and doubled quotes undone.
fn header_names(text: &[u8], delimiter: u8) -> Vec<String> {
    let mut names = Vec::new();
    let mut field = Vec::new();
    let mut in_quotes = false;
    let mut content = false;
    for &b in text {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                if content {
                    break;
                }
                continue;
            }
            b'\r' if !in_quotes => {}
            _ if b == delimiter && !in_quotes => {
                names.push(String::from_utf8_lossy(&field).to_string());
                field.clear();
                content = true;
            }
            _ => {
                field.push(b);
                content = true;
            }
        }
    }
    names.push(String::from_utf8_lossy(&field).to_string());
    names
}

#[cfg(test)]
mod tests {
    use super::{scan, scan_bytewise, scan_unquoted};
    use proptest::prelude::*;

    /// A byte of an unquoted extract: mostly values, delimiters and newlines, now and then
    /// the padding, CRs and multi-byte characters the trimming verdict is about.
    fn byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            8 => prop::sample::select(vec![b'a', b'7']),
            4 => Just(b','),
            3 => Just(b'\n'),
            1 => prop::sample::select(vec![b' ', b'\t', b'\r', 0xC2, 0xA0]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The fast path finds what the byte-by-byte walk finds: the same record starts,
        /// header, trimming verdict and refusal, on any unquoted text.
        #[test]
        fn the_fast_path_agrees_with_the_walk(
            text in proptest::collection::vec(byte(), 0..24)
        ) {
            prop_assert_eq!(scan_unquoted(&text, b','), scan_bytewise(&text, b','));
        }
    }

    fn starts(text: &[u8]) -> Vec<usize> {
        scan(text, b',').unwrap().starts
    }

    #[test]
    fn records_spanning_lines_and_blank_lines() {
        let text = b"a,b\r\n1,\"x\ny\"\r\n\r\n2,z\n";
        assert_eq!(starts(text), vec![1, 2, 5]);
        assert_eq!(starts(b"a,b\n1,2"), vec![1, 2]);
        assert_eq!(starts(b""), Vec::<usize>::new());
        // A delimiter inside quotes is not a field boundary.
        assert_eq!(starts(b"a,b\n\"1,5\",2\n"), vec![1, 2]);
    }

    #[test]
    fn whether_values_are_already_trimmed() {
        let trimmed = |t: &str| scan(t.as_bytes(), b',').unwrap().trimmed;
        assert!(trimmed("a,b\n1,2\n"));
        assert!(trimmed("a,b\n1,\n,2"));
        assert!(trimmed("a,b\r\n1,\r\n,2\r\n"));
        assert!(trimmed("a,b\n\n1,2\n"));
        assert!(!trimmed("a,b\n 1,2\n"));
        assert!(!trimmed("a,b\n1 ,2\n"));
        assert!(!trimmed("a,b\n1,2 \n"));
        assert!(!trimmed("a,b\n1,2 \r\n"));
        assert!(!trimmed("a,b\n1,\t2"));
        assert!(!trimmed("a,b\n1,2 "));
        assert!(!trimmed("a,b\n1,  \n"));
        assert!(!trimmed("a,b\n\"1\",2\n"));
        assert!(!trimmed("a,b\n1,\u{a0}2\n"));
        assert!(!trimmed("a,b\n1,2\u{3000}\n"));
        assert!(!trimmed("a,b\n1\r,2\n"));
    }

    #[test]
    fn what_the_scan_refuses() {
        let err = |t: &[u8]| scan(t, b',').unwrap_err();
        assert_eq!(
            err(b"a,b,c\n1,2,3\n4,5\n"),
            "line 3 has 2 fields but the header has 3; check the delimiter and quoting of that line"
        );
        assert!(err(b"a,b\n1,2,3\n").starts_with("line 2 has 3 fields"));
        assert_eq!(
            err(b"a,b\n1,\"2\n3,4\n"),
            "line 2 opens a quoted field that is never closed"
        );
        assert!(err(b"a,b\n1,\x002\n").starts_with("line 2 has a NUL byte"));
        assert!(
            err("a,b\n1,2\n\u{FEFF}a,b\n".as_bytes()).starts_with("line 3 has a byte-order mark")
        );
    }
}
