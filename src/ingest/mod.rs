//! Ingest: read each extract named in the plan (CSV in any delimiter and encoding districts
//! emit, Parquet, XLSX), map vendor column names to canonical ones, and return every value as
//! trimmed text with its source file and line. Typing and checking rows is validation's job;
//! a file that cannot be read at all, or lacks a required column, stops the run here.

mod csv;
mod parquet;
mod xlsx;

use crate::canonical::Table;
use crate::pipeline::layout::{ColumnSource, Field, FlagRule};
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
    /// What the layout check found worth saying (see `layout_notes`), for the quality page.
    pub notes: Vec<String>,
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
    /// For each canonical column, where in the file its values come from.
    columns: Vec<(&'static str, Origin)>,
    /// The row filters, by the file's column each reads.
    keeps: Vec<(usize, Vec<String>, String)>,
    /// Students at testing: the file's column with each test's date.
    when: Option<usize>,
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
    /// The file's column names as its header has them (`1`, `2`, … for a file without one).
    pub header: Vec<String>,
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
        /// Every name the layout's known headers use (empty without a preset).
        known: Vec<String>,
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
                known,
                ..
            } => {
                let present_refs: Vec<&str> = present.iter().map(String::as_str).collect();
                // The names each missing entry looks for: those in backticks before any
                // "(canonical ...)".
                let wanted = |m: &str| -> Vec<String> {
                    let names = m.split(" (canonical").next().unwrap_or(m);
                    names
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_string)
                        .collect()
                };
                // A missing column was probably renamed to a column no known header has (or,
                // without a preset, to any column): one whose name holds its name, or is a
                // few letters from it.
                let unknown = unknown_columns(present, known);
                let candidates: Vec<&str> = if known.is_empty() {
                    present_refs.clone()
                } else {
                    unknown.iter().map(|s| s.as_str()).collect()
                };
                let guesses: Vec<String> = missing
                    .iter()
                    .filter_map(|m| {
                        wanted(m).iter().find_map(|vendor| {
                            let v = normal_name(vendor);
                            candidates
                                .iter()
                                .find(|c| {
                                    let c = normal_name(c);
                                    c != v && (c.contains(&v) || v.contains(&c))
                                })
                                .copied()
                                .or_else(|| {
                                    crate::pipeline::problems::did_you_mean(vendor, &candidates)
                                })
                                .map(|g| format!("`{g}` for `{vendor}`"))
                        })
                    })
                    .collect();
                let mut hint = if known.is_empty() {
                    format!(
                        "the file has columns {}; map vendor names under `[inputs.{table}.columns]`",
                        present
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    let new: Vec<String> = unknown.iter().map(|p| format!("`{p}`")).collect();
                    format!(
                        "the file's header matches none of the layout's known headers{}; map the column under `[inputs.{table}.columns]`",
                        if new.is_empty() {
                            String::new()
                        } else {
                            format!(" (columns no known header has: {})", new.join(", "))
                        }
                    )
                };
                if !guesses.is_empty() {
                    hint.push_str(&format!(" (renamed? did you mean {}?)", guesses.join(", ")));
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
    // A table built from another input's file is opened after it, so a file whose layout
    // drifted is reported for the table it is given for.
    let (own, derived): (Vec<&Input>, Vec<&Input>) =
        plan.inputs.iter().partition(|i| i.derived_from.is_none());
    own.into_iter()
        .chain(derived)
        .map(|input| open(input, plan.validation.chunk_rows, progress))
        .collect()
}

/// Open one input: read its files, or build it from another input's (students at testing).
pub fn open(
    input: &Input,
    chunk_rows: usize,
    progress: &Progress,
) -> Result<RawTable, IngestError> {
    match input.derived_from {
        Some(_) => at_testing(input, chunk_rows, progress),
        None => read_input(input, progress),
    }
}

/// The students table from the demographics in the assessments extract, one row per student
/// and school year. When a student's counted tests (those no filter excludes) disagree on
/// any demographic or the school, the latest test (by test date, then the later row of the
/// file) gives the row, and the students concerned are counted in a note.
fn at_testing(
    input: &Input,
    chunk_rows: usize,
    progress: &Progress,
) -> Result<RawTable, IngestError> {
    let tests = read_input(input, progress)?;
    let _building = progress.spinner(format!(
        "building students at testing from {} test rows",
        crate::thousands(tests.rows())
    ));
    let mut frames = Vec::new();
    for chunk in tests.chunks(chunk_rows) {
        let mut frame = tests.read(&chunk)?;
        if frame.column(EXCLUDED_COL).is_ok() {
            frame = frame
                .lazy()
                .filter(col(EXCLUDED_COL).is_null())
                .collect()
                .map_err(|e| internal(input, e))?;
        }
        frames.push(frame.lazy());
    }
    let canonical: Vec<&str> = input.table.columns().iter().map(|c| c.name).collect();
    let key = ["student_id", "school_year"];
    let when = if tests.sources.iter().any(|s| s.when.is_some()) {
        col(WHEN_COL)
    } else {
        lit(NULL).cast(DataType::String)
    };
    let all = concat(frames, UnionArgs::default())
        .and_then(|lf| {
            lf.with_column(when.alias(WHEN_COL))
                .sort_by_exprs(
                    [
                        col("student_id"),
                        col("school_year"),
                        col(WHEN_COL),
                        col(SEQ_COL),
                    ],
                    SortMultipleOptions::default()
                        .with_nulls_last(false)
                        .with_maintain_order(true),
                )
                .collect()
        })
        .map_err(|e| internal(input, e))?;
    let demographics: Vec<Expr> = canonical
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| col(*c).fill_null(lit("")))
        .collect();
    let grouped = all
        .clone()
        .lazy()
        .group_by_stable([col("student_id"), col("school_year")])
        .agg([
            concat_str(demographics, "\u{1f}", false)
                .n_unique()
                .alias("__versions"),
            len().alias("__tests"),
        ])
        .collect()
        .map_err(|e| internal(input, e))?;
    let disagree = grouped
        .column("__versions")
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(|e| internal(input, e))?
        .u64()
        .map(|ca| ca.iter().flatten().filter(|&v| v > 1).count())
        .unwrap_or(0);
    let chosen = all
        .lazy()
        .group_by_stable([col("student_id"), col("school_year")])
        .agg([all_but(&key).last()])
        .collect()
        .map_err(|e| internal(input, e))?;
    // The file's layout is reported with the assessments it is read for.
    let mut notes = Vec::new();
    notes.push(format!(
        "students: built at testing from {} counted test rows of the assessments extract: {} students and school years{}",
        crate::thousands(all_height(&grouped)),
        crate::thousands(chosen.height()),
        if disagree == 0 {
            String::new()
        } else {
            format!(
                "; for {} of them the tests disagree on a demographic or the school, and the latest test (by test date, then the later row of the file) gives the row",
                crate::thousands(disagree)
            )
        }
    ));
    // One source per file the chosen rows come from, so each keeps its file and line.
    let mut sources = Vec::new();
    for s in &tests.sources {
        let path = s.path.display().to_string();
        let part = chosen
            .clone()
            .lazy()
            .filter(col(FILE_COL).eq(lit(path)))
            .collect()
            .map_err(|e| internal(input, e))?;
        if part.height() == 0 {
            continue;
        }
        let lines: Vec<i64> = part
            .column(LINE_COL)
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(|e| internal(input, e))?
            .i64()
            .map_err(|e| internal(input, e))?
            .iter()
            .map(|l| l.unwrap_or(0))
            .collect();
        let frame = part
            .select(canonical.iter().copied())
            .map_err(|e| internal(input, e))?;
        sources.push(Source {
            path: s.path.clone(),
            file_index: s.file_index,
            rows: frame.height(),
            columns: canonical
                .iter()
                .enumerate()
                .map(|(i, c)| (*c, Origin::At(i)))
                .collect(),
            keeps: Vec::new(),
            when: None,
            body: Body::Frame(frame, lines),
        });
    }
    Ok(RawTable {
        table: input.table,
        files: Vec::new(),
        notes,
        input: input.clone(),
        sources,
    })
}

/// Every column but `but`.
fn all_but(but: &[&str]) -> Expr {
    all()
        .exclude_cols(but.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .as_expr()
}

/// Tests behind the grouped students: the sum of `__tests`.
fn all_height(grouped: &DataFrame) -> usize {
    grouped
        .column("__tests")
        .and_then(|c| c.cast(&DataType::UInt64))
        .ok()
        .and_then(|c| c.u64().ok().map(|ca| ca.sum().unwrap_or(0) as usize))
        .unwrap_or(0)
}

/// Check that every input exists, decodes, has its required columns and parses. Each file
/// is read whole, so an undecodable byte or a broken quote anywhere is found now, not at night.
pub fn check_inputs(plan: &Plan, progress: &Progress) -> Result<Vec<FileRead>, IngestError> {
    let mut out = Vec::new();
    let (own, derived): (Vec<&Input>, Vec<&Input>) =
        plan.inputs.iter().partition(|i| i.derived_from.is_none());
    for input in own.into_iter().chain(derived) {
        let raw = open(input, plan.validation.chunk_rows, progress)?;
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
    let mut notes = Vec::new();
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
        let (columns, keeps) = map_columns(input, path, &header)?;
        notes.extend(layout_notes(input, path, &header));
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
            header: header.clone(),
        });
        sources.push(Source {
            path: path.clone(),
            file_index,
            rows,
            columns,
            keeps,
            when: match &input.when {
                Some(ColumnSource::Field(f)) => find_field(f, &header),
                _ => None,
            },
            body,
        });
    }
    Ok(RawTable {
        table: input.table,
        notes,
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

/// Where a canonical column's values come from in one file (see [`ColumnSource`]), by the
/// position of the file's columns.
#[derive(Debug, Clone)]
enum Origin {
    /// Not in the file: null.
    Absent,
    At(usize),
    Constant(String),
    SchoolYearOf(usize),
    SchoolYearEnding(usize),
    MonthOf(usize),
    Concat(Vec<usize>),
    Flags {
        flags: Vec<(String, usize)>,
        rule: FlagRule,
        otherwise: Option<usize>,
    },
}

impl Origin {
    /// The file's columns it reads.
    fn reads(&self) -> Vec<usize> {
        match self {
            Origin::Absent | Origin::Constant(_) => Vec::new(),
            Origin::At(i) | Origin::SchoolYearOf(i) | Origin::SchoolYearEnding(i) => vec![*i],
            Origin::MonthOf(i) => vec![*i],
            Origin::Concat(is) => is.clone(),
            Origin::Flags {
                flags, otherwise, ..
            } => flags.iter().map(|(_, i)| *i).chain(*otherwise).collect(),
        }
    }
}

/// A header name as matched: trimmed, spaces and underscores dropped, in lower case
/// (`Student ID`, `student_id` and `StudentID` are one name).
pub fn normal_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where a field is in a header: a name exactly, else the first of its names that matches
/// after normalising (see [`normal_name`]); a position as given.
pub fn find_field(field: &Field, present: &[String]) -> Option<usize> {
    match field {
        Field::Position(p) => (*p < present.len()).then_some(*p),
        Field::Names(names) => names
            .iter()
            .find_map(|n| present.iter().position(|p| p == n))
            .or_else(|| {
                names.iter().find_map(|n| {
                    let n = normal_name(n);
                    present.iter().position(|p| normal_name(p) == n)
                })
            }),
    }
}

/// Where each canonical column and each row filter's column is in a file's header; a
/// required column (or a filter's column) missing stops the run.
#[allow(clippy::type_complexity)]
fn map_columns(
    input: &Input,
    path: &Path,
    present: &[String],
) -> Result<
    (
        Vec<(&'static str, Origin)>,
        Vec<(usize, Vec<String>, String)>,
    ),
    IngestError,
> {
    let mut missing = Vec::new();
    let mut columns = Vec::new();
    let mut want = |field: &Field, canonical: Option<&str>, required: bool| -> Option<usize> {
        let at = find_field(field, present);
        if at.is_none() && required {
            let named = match field {
                Field::Names(names) => names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                Field::Position(p) => format!(
                    "column {} (the file has {} column{})",
                    p + 1,
                    present.len(),
                    if present.len() == 1 { "" } else { "s" }
                ),
            };
            missing.push(match canonical {
                Some(c) if field.label() != c => format!("{named} (canonical `{c}`)"),
                _ => named,
            });
        }
        at
    };
    for col_def in input.table.columns() {
        let name = col_def.name;
        let required = col_def.required;
        let origin = match input.source(name) {
            None => Origin::Absent,
            Some(ColumnSource::Constant(v)) => Origin::Constant(v.clone()),
            Some(ColumnSource::Field(f)) => {
                want(f, Some(name), required).map_or(Origin::Absent, Origin::At)
            }
            Some(ColumnSource::SchoolYearOf(f)) => {
                want(f, Some(name), required).map_or(Origin::Absent, Origin::SchoolYearOf)
            }
            Some(ColumnSource::SchoolYearEnding(f)) => {
                want(f, Some(name), required).map_or(Origin::Absent, Origin::SchoolYearEnding)
            }
            Some(ColumnSource::MonthOf(f)) => {
                want(f, Some(name), required).map_or(Origin::Absent, Origin::MonthOf)
            }
            Some(ColumnSource::Concat(fs)) => {
                let at: Vec<Option<usize>> =
                    fs.iter().map(|f| want(f, Some(name), required)).collect();
                match at.into_iter().collect::<Option<Vec<usize>>>() {
                    Some(at) => Origin::Concat(at),
                    None => Origin::Absent,
                }
            }
            Some(ColumnSource::Flags(rule)) => {
                let flags: Vec<(String, Option<usize>)> = rule
                    .flags
                    .iter()
                    .map(|(code, f)| (code.clone(), want(f, Some(name), required)))
                    .collect();
                let otherwise = rule
                    .otherwise
                    .as_ref()
                    .and_then(|f| want(f, Some(name), false));
                if flags.iter().all(|(_, at)| at.is_some()) {
                    Origin::Flags {
                        flags: flags
                            .into_iter()
                            .filter_map(|(c, at)| at.map(|at| (c, at)))
                            .collect(),
                        rule: rule.clone(),
                        otherwise,
                    }
                } else {
                    Origin::Absent
                }
            }
        };
        columns.push((name, origin));
    }
    let keeps = input
        .keep
        .iter()
        .filter_map(|k| {
            want(&k.field, None, true).map(|at| {
                (
                    at,
                    k.values.iter().map(|v| v.trim().to_lowercase()).collect(),
                    k.reason.clone(),
                )
            })
        })
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            table: input.table,
            path: path.to_path_buf(),
            missing,
            present: present.to_vec(),
            known: known_names(input),
        });
    }
    Ok((columns, keeps))
}

/// A header checked against the layout's known headers: which it is, or the columns no known
/// header has (a layout that drifted; the run goes on, since every column it needs is there).
fn layout_notes(input: &Input, path: &Path, header: &[String]) -> Vec<String> {
    if input.known_headers.is_empty() || !input.header {
        return Vec::new();
    }
    let norm: Vec<String> = header.iter().map(|h| normal_name(h)).collect();
    let file = path.file_name().map_or(path.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    if let Some(known) = input.known_headers.iter().find(|k| {
        k.names.len() == header.len()
            && k.names.iter().zip(&norm).all(|(a, b)| normal_name(a) == *b)
    }) {
        return vec![format!(
            "{} `{file}`: the {} layout of {}",
            input.table,
            input.preset.as_deref().unwrap_or("known"),
            known.label
        )];
    }
    let new: Vec<String> = unknown_columns(header, &known_names(input))
        .iter()
        .map(|h| format!("`{}`", h.trim()))
        .collect();
    let closest = input
        .known_headers
        .iter()
        .max_by_key(|k| {
            k.names
                .iter()
                .filter(|n| norm.contains(&normal_name(n)))
                .count()
        })
        .map(|k| k.label.clone())
        .unwrap_or_default();
    let mut note = format!(
        "{} `{file}`: the header ({} columns) matches none of the {} layout's known headers (closest: {closest})",
        input.table,
        header.len(),
        input.preset.as_deref().unwrap_or("known")
    );
    if new.is_empty() {
        note.push_str("; its columns are all known, in another order or number");
    } else {
        note.push_str(&format!(
            "; column{} no known header has: {}",
            if new.len() == 1 { "" } else { "s" },
            new.join(", ")
        ));
    }
    vec![note]
}

/// The columns of `header` that no name in `known` matches (after [`normal_name`]).
fn unknown_columns<'h>(header: &'h [String], known: &[String]) -> Vec<&'h String> {
    let known: std::collections::BTreeSet<String> = known.iter().map(|k| normal_name(k)).collect();
    header
        .iter()
        .filter(|h| !known.contains(&normal_name(h)))
        .collect()
}

/// Every column name the input's preset has seen in the layout's known headers.
fn known_names(input: &Input) -> Vec<String> {
    let mut names: Vec<String> = input
        .known_headers
        .iter()
        .flat_map(|h| h.names.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Rename a file's columns to canonical ones and turn every value into trimmed text with
/// blanks as nulls (unless the reader found it so already), derive the columns that come from
/// rules, apply the extract's own codes, mark rows its filters exclude (`EXCLUDED_COL`), and
/// add file, line and order.
fn to_canonical(
    input: &Input,
    source: &Source,
    frame: DataFrame,
    lines: Vec<i64>,
    seqs: Vec<u64>,
    trimmed: bool,
) -> Result<DataFrame, IngestError> {
    let names = frame.get_column_names_owned();
    let text_of = |at: usize| -> Option<Expr> {
        let actual = names.get(at)?;
        let text = col(actual.clone()).cast(DataType::String);
        let tidy = frame
            .column(actual)
            .ok()
            .and_then(|c| c.str().ok())
            .is_some_and(is_tidy);
        Some(if trimmed || tidy {
            text
        } else {
            text.str().strip_chars(lit(NULL)).pipe_blank_to_null()
        })
    };
    // The file's columns that rules and filters read, as tidy text under `__f<i>`.
    let mut wanted: Vec<usize> = source
        .columns
        .iter()
        .filter(|(_, o)| !matches!(o, Origin::At(_)))
        .flat_map(|(_, o)| o.reads())
        .chain(source.keeps.iter().map(|(at, _, _)| *at))
        .chain(source.when)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut exprs = Vec::new();
    for (name, origin) in &source.columns {
        if let Origin::At(at) = origin
            && let Some(e) = text_of(*at)
        {
            exprs.push(e.alias(*name));
        }
    }
    for &at in &wanted {
        if let Some(e) = text_of(at) {
            exprs.push(e.alias(format!("__f{at}")));
        }
    }
    exprs.push(lit(source.path.display().to_string()).alias(FILE_COL));
    let mut out = frame
        .lazy()
        .select(exprs)
        .collect()
        .map_err(|e| internal(input, e))?;
    let n = out.height();
    let field = |out: &DataFrame, at: usize| -> StringChunked {
        out.column(&format!("__f{at}"))
            .ok()
            .and_then(|c| c.str().ok().cloned())
            .unwrap_or_else(|| StringChunked::full_null("".into(), n))
    };
    let mut derived: Vec<Column> = Vec::new();
    for (name, origin) in &source.columns {
        let values: Option<StringChunked> = match origin {
            Origin::At(_) => None,
            Origin::Absent => Some(StringChunked::full_null("".into(), n)),
            Origin::Constant(v) => Some(StringChunked::full("".into(), v.as_str(), n)),
            Origin::SchoolYearOf(at) => Some(map_text(&field(&out, *at), |s| {
                let (y, m) = year_month(s)?;
                let start = if m >= 7 { y } else { y - 1 };
                Some(crate::canonical::SchoolYear(start).to_string())
            })),
            Origin::SchoolYearEnding(at) => Some(map_text(&field(&out, *at), |s| {
                let y: i32 = s.parse().ok().filter(|y| (1900..=2200).contains(y))?;
                Some(crate::canonical::SchoolYear(y - 1).to_string())
            })),
            Origin::MonthOf(at) => Some(map_text(&field(&out, *at), |s| {
                year_month(s).map(|(_, m)| m.to_string())
            })),
            Origin::Concat(ats) => {
                let parts: Vec<StringChunked> = ats.iter().map(|&a| field(&out, a)).collect();
                Some(
                    (0..n)
                        .map(|i| {
                            parts
                                .iter()
                                .map(|p| p.get(i))
                                .collect::<Option<Vec<&str>>>()
                                .map(|v| v.concat())
                        })
                        .collect(),
                )
            }
            Origin::Flags {
                flags,
                rule,
                otherwise,
            } => {
                let cols: Vec<StringChunked> = flags.iter().map(|(_, a)| field(&out, *a)).collect();
                let other = otherwise.map(|a| field(&out, a));
                let yes: Vec<String> = rule.yes.iter().map(|y| y.to_lowercase()).collect();
                let is_yes = |v: Option<&str>| {
                    v.is_some_and(|v| yes.iter().any(|y| y.eq_ignore_ascii_case(v)))
                };
                Some(
                    (0..n)
                        .map(|i| {
                            let set: Vec<&str> = flags
                                .iter()
                                .zip(&cols)
                                .filter(|(_, c)| is_yes(c.get(i)))
                                .map(|((code, _), _)| code.as_str())
                                .collect();
                            if let Some(f) = rule.first.iter().find(|f| set.contains(&f.as_str())) {
                                return Some(f.clone());
                            }
                            match set.len() {
                                0 => Some(
                                    other
                                        .as_ref()
                                        .and_then(|o| o.get(i))
                                        .map_or_else(|| rule.none.clone(), str::to_string),
                                ),
                                1 => Some(set[0].to_string()),
                                _ => Some(rule.several.clone()),
                            }
                        })
                        .collect(),
                )
            }
        };
        if let Some(v) = values {
            derived.push(v.with_name((*name).into()).into_column());
        }
    }
    for c in derived {
        out.with_column(c).map_err(|e| internal(input, e))?;
    }
    // The extract's own codes.
    for (column, map) in &input.codes {
        let Ok(c) = out.column(column) else { continue };
        let Ok(ca) = c.str() else { continue };
        // A code mapped to nothing (`"*" = ""`) is a missing value.
        let mapped = map_text(ca, |s| {
            Some(map.get(s).map_or(s, String::as_str).to_string()).filter(|v| !v.is_empty())
        });
        out.with_column(mapped.with_name(column.as_str().into()).into_column())
            .map_err(|e| internal(input, e))?;
    }
    if !source.keeps.is_empty() {
        let excluded: StringChunked = {
            let cols: Vec<StringChunked> = source
                .keeps
                .iter()
                .map(|(at, _, _)| field(&out, *at))
                .collect();
            (0..n)
                .map(|i| {
                    source
                        .keeps
                        .iter()
                        .zip(&cols)
                        .find_map(|((_, values, reason), c)| {
                            let v = c.get(i).map(str::to_lowercase);
                            (!v.is_some_and(|v| values.contains(&v))).then_some(reason.as_str())
                        })
                })
                .collect()
        };
        out.with_column(excluded.with_name(EXCLUDED_COL.into()).into_column())
            .map_err(|e| internal(input, e))?;
    }
    let mut order: Vec<PlSmallStr> = source.columns.iter().map(|(n, _)| (*n).into()).collect();
    // A header-less file's optional columns not given are absent from `source.columns`.
    for def in input.table.columns() {
        if !order.iter().any(|o| o == def.name) {
            out.with_column(StringChunked::full_null(def.name.into(), n).into_column())
                .map_err(|e| internal(input, e))?;
            order.push(def.name.into());
        }
    }
    if let Some(at) = source.when {
        let when = map_text(&field(&out, at), sortable_date);
        out.with_column(when.with_name(WHEN_COL.into()).into_column())
            .map_err(|e| internal(input, e))?;
        order.push(WHEN_COL.into());
    }
    order.push(FILE_COL.into());
    if !source.keeps.is_empty() {
        order.push(EXCLUDED_COL.into());
    }
    let mut out = out.select(order).map_err(|e| internal(input, e))?;
    out.with_column(Column::new(LINE_COL.into(), lines))
        .and_then(|df| df.with_column(Column::new(SEQ_COL.into(), seqs)))
        .map_err(|e| internal(input, e))?;
    // One chunk per column: a reader's many chunks (CSV blocks, Parquet row groups) would
    // make every later step gather across them and copy.
    out.rechunk_mut_par();
    Ok(out)
}

/// Students at testing: each test's date as `YYYYMMDD`, so text order is date order.
const WHEN_COL: &str = "__when";

/// A date as `YYYYMMDD` (see [`year_month`] for what is read).
fn sortable_date(s: &str) -> Option<String> {
    let (y, m) = year_month(s)?;
    let date = s.trim().split([' ', 'T']).next()?;
    let day: u32 = if let Some((_, rest)) = date.split_once('-') {
        rest.split('-').nth(1)?.parse().ok()?
    } else if let Some((_, rest)) = date.split_once('/') {
        rest.split('/').next()?.parse().ok()?
    } else {
        date[6..8].parse().ok()?
    };
    Some(format!("{y:04}{m:02}{day:02}"))
}

/// Rows the file's own filters exclude: the filter's reason, null for rows kept.
pub const EXCLUDED_COL: &str = "__excluded";

/// A text column mapped value by value (nulls stay null).
fn map_text(ca: &StringChunked, f: impl Fn(&str) -> Option<String>) -> StringChunked {
    ca.iter().map(|v| v.and_then(&f)).collect()
}

/// The year and month of a date written YYYY-MM-DD, YYYYMMDD or M/D/YYYY (a time after it is
/// ignored); `None` when it is none of these.
pub fn year_month(s: &str) -> Option<(i32, u32)> {
    let s = s.trim();
    let date = s.split([' ', 'T']).next()?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (y, m): (&str, &str) = if let Some((y, rest)) = date.split_once('-') {
        (y, rest.split('-').next()?)
    } else if let Some((m, rest)) = date.split_once('/') {
        (rest.split('/').nth(1)?, m)
    } else if date.len() == 8 && digits(date) {
        (&date[..4], &date[4..6])
    } else {
        return None;
    };
    if !(digits(y) && y.len() == 4 && digits(m) && m.len() <= 2) {
        return None;
    }
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
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
