//! Ingest: read each extract named in the plan (CSV in any delimiter and encoding districts
//! emit, Parquet, XLSX), map vendor column names to canonical ones, and return every value as
//! trimmed text with its source file and line. Typing and checking rows is validation's job;
//! a file that cannot be read at all, or lacks a required column, stops the run here.

mod csv;
mod parquet;
mod xlsx;

use crate::canonical::Table;
use crate::pipeline::plan::{Encoding, Format, Input, Plan};
use crate::progress::Progress;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Hidden columns carried with every raw row.
pub const FILE_COL: &str = "__file";
pub const LINE_COL: &str = "__line";
/// Global row order across a table's files: file order, then line.
pub const SEQ_COL: &str = "__seq";

/// One table opened for reading: each file read into memory, hashed, decoded and checked
/// (header, required columns, record structure), then parsed into canonical text columns a
/// chunk of rows at a time, so a table of tens of millions of rows is never whole as text.
pub struct RawTable {
    pub table: Table,
    pub files: Vec<FileRead>,
    input: Input,
    sources: Vec<Source>,
}

/// Rows parsed and checked at a time: enough that per-chunk work is amortised, few enough
/// that a chunk's text (about 100 MB for the survey's seven columns) stays small beside the
/// typed table being built.
pub const CHUNK_ROWS: usize = 1 << 20;

/// A piece of a table: data rows `rows` (0-based) of file `source`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub source: usize,
    pub rows: std::ops::Range<usize>,
}

/// One opened file.
struct Source {
    path: PathBuf,
    file_index: usize,
    rows: usize,
    /// For each canonical column, the file's column it comes from (by position), if any.
    columns: Vec<(&'static str, Option<usize>)>,
    body: Body,
}

enum Body {
    Csv(csv::Csv),
    Parquet(parquet::Parquet),
    /// A workbook's sheet, small enough to hold whole, with each row's line.
    Frame(DataFrame, Vec<i64>),
}

impl RawTable {
    /// Rows in all the table's files.
    pub fn rows(&self) -> usize {
        self.sources.iter().map(|s| s.rows).sum()
    }

    /// The table's rows in chunks of about `size` rows, file by file, in order.
    pub fn chunks(&self, size: usize) -> Vec<Chunk> {
        let size = size.max(1);
        let mut out = Vec::new();
        for (source, s) in self.sources.iter().enumerate() {
            let bounds = match &s.body {
                // Whole row groups, so no group is decoded twice.
                Body::Parquet(p) => p.chunk_bounds(size),
                _ => (size..s.rows).step_by(size).collect(),
            };
            let mut from = 0;
            for to in bounds.into_iter().chain([s.rows]) {
                if to > from {
                    out.push(Chunk {
                        source,
                        rows: from..to,
                    });
                    from = to;
                }
            }
        }
        out
    }

    /// One chunk as canonical text columns (null where blank) with file, line and order.
    pub fn read(&self, chunk: &Chunk) -> Result<DataFrame, IngestError> {
        let s = &self.sources[chunk.source];
        let rows: Vec<usize> = chunk.rows.clone().collect();
        self.canonical_rows(s, &rows)
    }

    /// The rows with the given order numbers (`SEQ_COL`), as [`RawTable::read`] gives them.
    pub fn pick(&self, seqs: &[u64]) -> Result<DataFrame, IngestError> {
        let mut frames = Vec::new();
        for s in &self.sources {
            let mut rows: Vec<usize> = seqs
                .iter()
                .filter(|&&q| (q >> SEQ_FILE_SHIFT) as usize == s.file_index)
                .map(|&q| (q & ((1 << SEQ_FILE_SHIFT) - 1)) as usize)
                .collect();
            if rows.is_empty() {
                continue;
            }
            rows.sort_unstable();
            rows.dedup();
            frames.push(self.canonical_rows(s, &rows)?.lazy());
        }
        if frames.is_empty() {
            return self.canonical_rows(&self.sources[0], &[]);
        }
        concat(frames, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .map_err(|e| internal(&self.input, e))
    }

    /// Rows `rows` (sorted) of one file, parsed and made canonical.
    fn canonical_rows(&self, s: &Source, rows: &[usize]) -> Result<DataFrame, IngestError> {
        let input = &self.input;
        // Readers are other people's parsers fed whatever a district's systems wrote; a panic
        // in one is a file that cannot be read, reported as such, never a crash.
        let parsed = quiet_panics::catch(|| match &s.body {
            Body::Csv(c) => c
                .parse(input, &s.path, rows)
                .map(|df| (df, c.lines(rows.iter().copied()), c.trimmed)),
            Body::Parquet(p) => p
                .read(rows)
                .map(|df| (df, rows.iter().map(|&r| r as i64 + 1).collect(), false))
                .map_err(|message| IngestError::Malformed {
                    table: input.table,
                    path: s.path.clone(),
                    format: "Parquet",
                    message,
                }),
            Body::Frame(df, lines) => {
                let idx =
                    IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as IdxSize).collect());
                df.take(&idx)
                    .map(|df| (df, rows.iter().map(|&r| lines[r]).collect(), false))
                    .map_err(|e| internal(input, e))
            }
        });
        let (frame, lines, trimmed) = parsed.unwrap_or_else(|at| {
            Err(IngestError::Malformed {
                table: input.table,
                path: s.path.clone(),
                format: format_name(input.format),
                message: format!(
                    "the file is damaged or not in this format (the reader stopped at `{at}`)"
                ),
            })
        })?;
        let base = (s.file_index as u64) << SEQ_FILE_SHIFT;
        let seqs: Vec<u64> = rows.iter().map(|&r| base + r as u64).collect();
        to_canonical(input, s, frame, lines, seqs, trimmed)
    }
}

/// A row's order number is its file's index above these bits and its row below.
const SEQ_FILE_SHIFT: u32 = 40;

/// What was read from one file, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileRead {
    pub table: String,
    pub path: PathBuf,
    pub format: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: usize,
}

/// Why an extract could not be read. Each names the file; none carries row values.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot find the {table} extract `{}`", path.display())]
    Missing { table: Table, path: PathBuf },
    #[error("the {table} workbook `{}` has no sheet `{sheet}` (it has {})", path.display(), list(sheets))]
    MissingSheet {
        table: Table,
        path: PathBuf,
        sheet: String,
        sheets: Vec<String>,
    },
    #[error("cannot read the {table} extract `{}`", path.display())]
    Unreadable {
        table: Table,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the {table} extract `{}` is not valid UTF-8: line {line}, column {column} has the byte 0x{byte:02X}",
        path.display()
    )]
    Undecodable {
        table: Table,
        path: PathBuf,
        line: usize,
        column: usize,
        byte: u8,
    },
    #[error("the {table} extract `{}` lacks required column{} {}", path.display(), if missing.len() == 1 { "" } else { "s" }, list(missing))]
    MissingColumns {
        table: Table,
        path: PathBuf,
        /// The vendor names looked for (with their canonical names when different).
        missing: Vec<String>,
        present: Vec<String>,
    },
    #[error("the {table} extract `{}` cannot be parsed as {format}: {message}", path.display())]
    Malformed {
        table: Table,
        path: PathBuf,
        format: &'static str,
        message: String,
    },
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

impl IngestError {
    /// A hint for the user, if there is a useful one.
    pub fn hint(&self) -> Option<String> {
        match self {
            IngestError::Missing { table, .. } => Some(format!(
                "check `path` under `[inputs.{table}]`; relative paths start from the pipeline file's folder"
            )),
            IngestError::Undecodable { table, .. } => Some(format!(
                "files saved by Excel or older district systems on Windows are often Windows-1252: set `encoding = \"windows-1252\"` under `[inputs.{table}]`"
            )),
            IngestError::MissingColumns {
                table,
                present,
                missing,
                ..
            } => {
                let present_refs: Vec<&str> = present.iter().map(String::as_str).collect();
                let guesses: Vec<String> = missing
                    .iter()
                    .filter_map(|m| {
                        let vendor = m.split(' ').next().unwrap_or(m).trim_matches('`');
                        crate::pipeline::problems::did_you_mean(vendor, &present_refs)
                            .map(|g| format!("`{g}` for `{vendor}`"))
                    })
                    .collect();
                let mut hint = format!(
                    "the file has columns {}; map vendor names under `[inputs.{table}.columns]`",
                    present
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if !guesses.is_empty() {
                    hint.push_str(&format!(" (did you mean {}?)", guesses.join(", ")));
                }
                Some(hint)
            }
            IngestError::MissingSheet { table, .. } => Some(format!(
                "set `sheet` under `[inputs.{table}]` to one of the workbook's sheets"
            )),
            IngestError::Malformed { .. } | IngestError::Unreadable { .. } => None,
        }
    }

    /// Missing files are a problem of the pipeline definition; the rest are data problems.
    pub fn is_definition_problem(&self) -> bool {
        matches!(
            self,
            IngestError::Missing { .. } | IngestError::MissingSheet { .. }
        )
    }
}

/// Read every input of the plan.
pub fn ingest(plan: &Plan) -> Result<Vec<RawTable>, IngestError> {
    ingest_with(plan, &Progress::hidden())
}

/// Read every input of the plan, showing the bytes of each file read.
pub fn ingest_with(plan: &Plan, progress: &Progress) -> Result<Vec<RawTable>, IngestError> {
    plan.inputs
        .iter()
        .map(|input| read_input(input, progress))
        .collect()
}

/// Check that every input exists, decodes, has its required columns and parses. Each file
/// is read whole, so an undecodable byte or a broken quote anywhere is found now, not at night.
pub fn check_inputs(plan: &Plan, progress: &Progress) -> Result<Vec<FileRead>, IngestError> {
    let mut out = Vec::new();
    for input in &plan.inputs {
        let raw = read_input(input, progress)?;
        for chunk in raw.chunks(plan.validation.chunk_rows) {
            raw.read(&chunk)?;
        }
        out.extend(raw.files);
    }
    Ok(out)
}

/// Open one input (all its files).
pub fn read_input(input: &Input, progress: &Progress) -> Result<RawTable, IngestError> {
    let mut sources = Vec::new();
    let mut files = Vec::new();
    for (file_index, path) in input.paths.iter().enumerate() {
        let bytes = read_bytes(input.table, path, progress)?;
        let _opening = progress.spinner(format!(
            "scanning {} ({})",
            input.table,
            crate::human_bytes(bytes.len() as u64)
        ));
        let sha256 = crate::pipeline::hex(&Sha256::digest(&bytes));
        let n_bytes = bytes.len() as u64;
        let malformed = |message: String| IngestError::Malformed {
            table: input.table,
            path: path.clone(),
            format: format_name(input.format),
            message,
        };
        let opened = quiet_panics::catch(|| match input.format {
            Format::Csv => csv::open(input, path, bytes).map(|c| (c.header.clone(), Body::Csv(c))),
            Format::Parquet => parquet::Parquet::open(bytes)
                .map(|p| (p.names(), Body::Parquet(p)))
                .map_err(malformed),
            Format::Xlsx => xlsx::read(input, path, bytes).map(|(df, lines)| {
                let names = df
                    .get_column_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                (names, Body::Frame(df, lines))
            }),
        });
        let (header, body) = opened.unwrap_or_else(|at| {
            Err(malformed(format!(
                "the file is damaged or not in this format (the reader stopped at `{at}`)"
            )))
        })?;
        let columns = map_columns(input, path, &header)?;
        let rows = match &body {
            Body::Csv(c) => c.rows(),
            Body::Parquet(p) => p.rows(),
            Body::Frame(df, _) => df.height(),
        };
        if rows == 0 {
            return Err(malformed(
                "it has a header but no data rows; an empty extract is almost always a failed export".into(),
            ));
        }
        files.push(FileRead {
            table: input.table.name().to_string(),
            path: path.clone(),
            format: format_name(input.format).to_string(),
            sha256,
            bytes: n_bytes,
            rows,
        });
        sources.push(Source {
            path: path.clone(),
            file_index,
            rows,
            columns,
            body,
        });
    }
    Ok(RawTable {
        table: input.table,
        files,
        input: input.clone(),
        sources,
    })
}

/// Catching a reader's panic without printing it: the file is reported as unreadable, once,
/// in the run's own words. A panic elsewhere (a bug of ours) still prints as usual.
mod quiet_panics {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, Once};

    /// Readers in progress (Polars reads on its own threads too, so this is process-wide).
    static READING: AtomicUsize = AtomicUsize::new(0);
    static WHERE: Mutex<Option<String>> = Mutex::new(None);
    static HOOK: Once = Once::new();

    /// Run `f`; a panic inside it becomes `Err(where it happened)`.
    pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if READING.load(Ordering::SeqCst) > 0 {
                    let at = info.location().map_or_else(
                        || "unknown".to_string(),
                        |l| {
                            // The crate and file, not the machine's registry path.
                            let file = l.file();
                            let short = file
                                .rsplit_once("/src/")
                                .map(|(krate, rest)| {
                                    let krate = krate.rsplit('/').next().unwrap_or(krate);
                                    format!("{krate}/src/{rest}")
                                })
                                .unwrap_or_else(|| file.to_string());
                            format!("{short}:{}", l.line())
                        },
                    );
                    let mut w = WHERE.lock().unwrap_or_else(|e| e.into_inner());
                    w.get_or_insert(at);
                } else {
                    default(info);
                }
            }));
        });
        READING.fetch_add(1, Ordering::SeqCst);
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        READING.fetch_sub(1, Ordering::SeqCst);
        let at = WHERE.lock().unwrap_or_else(|e| e.into_inner()).take();
        out.map_err(|_| at.unwrap_or_else(|| "unknown".to_string()))
    }
}

fn internal(input: &Input, e: PolarsError) -> IngestError {
    IngestError::Malformed {
        table: input.table,
        path: input.paths[0].clone(),
        format: format_name(input.format),
        message: e.to_string(),
    }
}

pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "CSV",
        Format::Parquet => "Parquet",
        Format::Xlsx => "XLSX",
    }
}

/// The whole file, read in large blocks so progress can show how far it has come.
fn read_bytes(table: Table, path: &Path, progress: &Progress) -> Result<Vec<u8>, IngestError> {
    use std::io::Read;
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let bar = progress.bytes(format!("reading {table}"), len);
        // Read straight into the buffer, a block at a time, with no copy between.
        const BLOCK: usize = 8 << 20;
        let mut bytes = vec![0u8; len as usize];
        let mut filled = 0;
        while filled < bytes.len() {
            let upto = (filled + BLOCK).min(bytes.len());
            let n = file.read(&mut bytes[filled..upto])?;
            if n == 0 {
                break;
            }
            filled += n;
            bar.inc(n as u64);
        }
        bytes.truncate(filled);
        // A file that grew since its size was read is read to its end.
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    read().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => IngestError::Missing {
            table,
            path: path.to_path_buf(),
        },
        _ => IngestError::Unreadable {
            table,
            path: path.to_path_buf(),
            source,
        },
    })
}

/// A header that names one column twice (after trimming, in any letter case) is refused: which
/// of the two a column map would pick is a guess.
pub fn check_header(names: &[String]) -> Result<(), String> {
    for (i, a) in names.iter().enumerate() {
        let norm = |s: &str| s.trim().to_lowercase();
        if let Some(j) = names[..i].iter().position(|b| norm(b) == norm(a)) {
            return Err(format!(
                "the header names `{}` twice (columns {} and {})",
                a.trim(),
                j + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

/// Where each canonical column is in a file's header (by exact name, else by trimmed name
/// in any letter case); a required column missing stops the run.
fn map_columns(
    input: &Input,
    path: &Path,
    present: &[String],
) -> Result<Vec<(&'static str, Option<usize>)>, IngestError> {
    let find = |vendor: &str| -> Option<usize> {
        present
            .iter()
            .position(|p| p.as_str() == vendor)
            .or_else(|| {
                present
                    .iter()
                    .position(|p| p.trim().eq_ignore_ascii_case(vendor))
            })
    };
    let mut missing = Vec::new();
    let mut columns = Vec::new();
    for col_def in input.table.columns() {
        let vendor = input.vendor_name(col_def.name);
        let at = find(vendor);
        if at.is_none() && col_def.required {
            missing.push(if vendor == col_def.name {
                format!("`{vendor}`")
            } else {
                format!("`{vendor}` (canonical `{}`)", col_def.name)
            });
        }
        columns.push((col_def.name, at));
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            table: input.table,
            path: path.to_path_buf(),
            missing,
            present: present.to_vec(),
        });
    }
    Ok(columns)
}

/// Rename a file's columns to canonical ones and turn every value into trimmed text with
/// blanks as nulls (unless the reader found it so already), with file, line and order.
fn to_canonical(
    input: &Input,
    source: &Source,
    frame: DataFrame,
    lines: Vec<i64>,
    seqs: Vec<u64>,
    trimmed: bool,
) -> Result<DataFrame, IngestError> {
    let names = frame.get_column_names_owned();
    let mut exprs = Vec::new();
    for (name, at) in &source.columns {
        exprs.push(
            match at.and_then(|i| names.get(i)) {
                Some(actual) => {
                    let text = col(actual.clone()).cast(DataType::String);
                    let tidy = frame
                        .column(actual)
                        .ok()
                        .and_then(|c| c.str().ok())
                        .is_some_and(is_tidy);
                    if trimmed || tidy {
                        text
                    } else {
                        text.str().strip_chars(lit(NULL)).pipe_blank_to_null()
                    }
                }
                None => lit(NULL).cast(DataType::String),
            }
            .alias(*name),
        );
    }
    exprs.push(lit(source.path.display().to_string()).alias(FILE_COL));
    let mut out = frame
        .lazy()
        .select(exprs)
        .collect()
        .map_err(|e| internal(input, e))?;
    out.with_column(Column::new(LINE_COL.into(), lines))
        .and_then(|df| df.with_column(Column::new(SEQ_COL.into(), seqs)))
        .map_err(|e| internal(input, e))?;
    // One chunk per column: a reader's many chunks (CSV blocks, Parquet row groups) would
    // make every later step gather across them and copy.
    out.rechunk_mut_par();
    Ok(out)
}

/// Whether no value of a text column is blank or has white space at either end, so the
/// column is already canonical text and is taken as it is (most typed extracts: trimming
/// and blanking would copy every value for nothing). Only each value's ends are looked at.
fn is_tidy(ca: &StringChunked) -> bool {
    ca.downcast_iter().all(|arr| {
        arr.iter()
            .flatten()
            .all(|s| !s.is_empty() && s.trim().len() == s.len())
    })
}

trait BlankToNull {
    fn pipe_blank_to_null(self) -> Expr;
}

impl BlankToNull for Expr {
    fn pipe_blank_to_null(self) -> Expr {
        when(self.clone().eq(lit("")))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(self)
    }
}

/// Decode text in the input's encoding; UTF-8 must be valid (a BOM is dropped).
pub fn decode(input: &Input, path: &Path, bytes: Vec<u8>) -> Result<String, IngestError> {
    match input.encoding {
        Encoding::Utf8 => {
            let mut bytes = bytes;
            if bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            // Checked in place and moved, not copied: an extract can be gigabytes.
            match String::from_utf8(bytes) {
                Ok(s) => Ok(s),
                Err(e) => {
                    let body = e.as_bytes();
                    let e = e.utf8_error();
                    let at = e.valid_up_to();
                    let before = &body[..at];
                    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                    let line_start = before
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |p| p + 1);
                    let column = String::from_utf8_lossy(&before[line_start..])
                        .chars()
                        .count()
                        + 1;
                    Err(IngestError::Undecodable {
                        table: input.table,
                        path: path.to_path_buf(),
                        line,
                        column,
                        byte: body[at],
                    })
                }
            }
        }
        // encoding_rs follows the WHATWG Encoding Standard, where latin-1 means
        // windows-1252 (a superset for every printable character).
        Encoding::Windows1252 | Encoding::Latin1 => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
            let mut text = text.into_owned();
            if text.starts_with('\u{FEFF}') {
                text.drain(..'\u{FEFF}'.len_utf8());
            }
            Ok(text)
        }
    }
}
