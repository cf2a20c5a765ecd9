//! Accepted rows in parts. Most tables are one part held in memory. The survey responses of a
//! large district or a state (hundreds of millions of rows) are split by respondent into parts
//! of about `validation.part_rows` rows, kept on disk as uncompressed Parquet in a folder
//! of the system's temporary folder that is removed when the run ends (or, when the run was
//! killed outright, by the next run that spills); each part is checked
//! for duplicates, summarised and published on its own. Every row of a respondent is in the
//! same part, and the survey's duplicate key and its summaries are per respondent, so parts
//! change no result: counts of respondents and responses add up across parts.

use super::duplicates;
use crate::canonical::Table;
use crate::ingest::SEQ_COL;
use polars::prelude::*;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Survey responses in one part, unless the pipeline says otherwise.
pub const PART_ROWS: usize = 1 << 25;

/// The folders of spilled parts that exist now, for [`remove_spilled_parts`].
static SPILLED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove every folder of spilled parts (when the run is interrupted and exits without
/// dropping them).
pub fn remove_spilled_parts() {
    if let Ok(dirs) = SPILLED.lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A folder of spilled parts, removed (with its files) when dropped.
#[derive(Debug)]
struct Spill {
    dir: PathBuf,
}

/// Folders of spilled parts are named `equity-gap-parts-<pid>-<n>`.
const SPILL_PREFIX: &str = "equity-gap-parts-";

/// Remove the folders of spilled parts that runs killed outright (out of memory, `kill -9`)
/// left in `temp`: those whose process no longer exists. Only where `/proc` tells.
fn sweep_orphans(temp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SPILL_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Spill {
    fn new() -> std::io::Result<Spill> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let temp = std::env::temp_dir();
        sweep_orphans(&temp);
        let dir = temp.join(format!(
            "{SPILL_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        if let Ok(mut dirs) = SPILLED.lock() {
            dirs.push(dir.clone());
        }
        Ok(Spill { dir })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(mut dirs) = SPILLED.lock() {
            dirs.retain(|d| d != &self.dir);
        }
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> PolarsError {
    polars_err!(ComputeError: "cannot {what} `{}`: {e}", path.display())
}

/// One part of the accepted rows.
#[derive(Debug, Clone)]
enum Part {
    Held(DataFrame),
    Spilled { path: PathBuf, rows: usize },
}

/// A table's accepted rows, in parts; see the module's notes.
#[derive(Debug, Clone)]
pub struct Parts {
    parts: Vec<Part>,
    /// Keeps the spilled files for as long as any clone of these parts lives.
    _spill: Option<Arc<Spill>>,
}

impl Parts {
    /// All rows in one part held in memory.
    pub fn held(df: DataFrame) -> Parts {
        Parts {
            parts: vec![Part::Held(df)],
            _spill: None,
        }
    }

    pub fn rows(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Held(df) => df.height(),
                Part::Spilled { rows, .. } => *rows,
            })
            .sum()
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Part `i`, read back from disk when it was spilled.
    pub fn part(&self, i: usize) -> PolarsResult<DataFrame> {
        match &self.parts[i] {
            Part::Held(df) => Ok(df.clone()),
            Part::Spilled { path, .. } => {
                let file = File::open(path).map_err(|e| io("read", path, e))?;
                ParquetReader::new(file).finish()
            }
        }
    }

    /// Every part in turn.
    pub fn frames(&self) -> impl Iterator<Item = PolarsResult<DataFrame>> + '_ {
        (0..self.len()).map(|i| self.part(i))
    }

    /// The rows of a table that is one held part.
    pub fn into_frame(self) -> PolarsResult<DataFrame> {
        match self.parts.as_slice() {
            [Part::Held(df)] => Ok(df.clone()),
            _ => {
                let frames = self.frames().collect::<PolarsResult<Vec<_>>>()?;
                let lazies: Vec<LazyFrame> = frames.into_iter().map(DataFrame::lazy).collect();
                concat(lazies, UnionArgs::default())?.collect()
            }
        }
    }
}

/// Gathers a table's checked rows chunk by chunk (with [`SEQ_COL`] and the key hash), routing
/// survey responses to their respondent's part, then resolves duplicates part by part.
pub(super) struct Collector {
    n: usize,
    /// Rows gathered in memory (one part).
    held: Option<DataFrame>,
    /// One writer per part, opened with its first rows, when parts are spilled.
    writers: Vec<Option<polars::io::parquet::write::BatchedWriter<BufWriter<File>>>>,
    schema: Option<SchemaRef>,
    spill: Option<Spill>,
}

impl Collector {
    /// For `rows` rows of `table`, in parts of about `part_rows` (survey responses only).
    pub fn new(table: Table, rows: usize, part_rows: usize) -> PolarsResult<Collector> {
        let n = match table {
            Table::SurveyResponses => rows.div_ceil(part_rows.max(1)).max(1),
            _ => 1,
        };
        let spill = if n > 1 {
            Some(Spill::new().map_err(|e| io("create", &std::env::temp_dir(), e))?)
        } else {
            None
        };
        Ok(Collector {
            n,
            held: None,
            writers: (0..n).map(|_| None).collect(),
            schema: None,
            spill,
        })
    }

    fn path(&self, stage: &str, i: usize) -> PathBuf {
        let dir = &self
            .spill
            .as_ref()
            .expect("spilled parts have a folder")
            .dir;
        dir.join(format!("{stage}-{i}.parquet"))
    }

    /// Add a chunk's accepted rows.
    pub fn push(&mut self, rows: DataFrame) -> PolarsResult<()> {
        if self.schema.is_none() {
            self.schema = Some(rows.schema().clone());
        }
        if self.n == 1 {
            match &mut self.held {
                Some(all) => {
                    all.vstack_mut_owned(rows)?;
                }
                None => self.held = Some(rows),
            }
            return Ok(());
        }
        let part = rows.column("respondent_id")?.u32()?.clone() % (self.n as u32);
        for i in 0..self.n {
            let mask = part.equal(i as u32);
            let mut piece = rows.filter(&mask)?;
            if piece.height() == 0 {
                continue;
            }
            piece.rechunk_mut_par();
            if self.writers[i].is_none() {
                let path = self.path("checked", i);
                let file = File::create(&path).map_err(|e| io("write", &path, e))?;
                self.writers[i] = Some(
                    ParquetWriter::new(BufWriter::new(file))
                        .with_compression(ParquetCompression::Uncompressed)
                        .batched(piece.schema())?,
                );
            }
            let writer = self.writers[i].as_mut().expect("opened above");
            writer.write_batch(&piece)?;
        }
        Ok(())
    }

    /// The kept rows in parts (without [`SEQ_COL`]) and the order numbers of the rows
    /// duplicates superseded, sorted; `inspect` sees each part's kept rows.
    pub fn finish(
        mut self,
        table: Table,
        mut inspect: impl FnMut(&DataFrame) -> PolarsResult<()>,
    ) -> PolarsResult<(Parts, Vec<u64>)> {
        let schema = self.schema.clone().expect("every table has rows");
        if self.n == 1 {
            let rows = self
                .held
                .take()
                .unwrap_or_else(|| DataFrame::empty_with_schema(&schema));
            let (kept, lost) = resolve(table, rows)?;
            inspect(&kept)?;
            return Ok((Parts::held(kept), lost));
        }
        let mut parts = Vec::with_capacity(self.n);
        let mut lost = Vec::new();
        let writers = std::mem::take(&mut self.writers);
        for (i, writer) in writers.into_iter().enumerate() {
            let rows = match writer {
                None => DataFrame::empty_with_schema(&schema),
                Some(w) => {
                    w.finish()?;
                    let path = self.path("checked", i);
                    let file = File::open(&path).map_err(|e| io("read", &path, e))?;
                    let rows = ParquetReader::new(file).finish()?;
                    let _ = std::fs::remove_file(&path);
                    rows
                }
            };
            let (mut kept, part_lost) = resolve(table, rows)?;
            inspect(&kept)?;
            lost.extend(part_lost);
            let path = self.path("part", i);
            let file = File::create(&path).map_err(|e| io("write", &path, e))?;
            kept.rechunk_mut_par();
            ParquetWriter::new(BufWriter::new(file))
                .with_compression(ParquetCompression::Uncompressed)
                .finish(&mut kept)?;
            parts.push(Part::Spilled {
                path,
                rows: kept.height(),
            });
        }
        lost.sort_unstable();
        Ok((
            Parts {
                parts,
                _spill: self.spill.take().map(Arc::new),
            },
            lost,
        ))
    }
}

/// One part's duplicates resolved: (kept rows without [`SEQ_COL`], superseded order numbers).
fn resolve(table: Table, rows: DataFrame) -> PolarsResult<(DataFrame, Vec<u64>)> {
    let (kept, superseded) = duplicates::resolve(table, rows)?;
    let lost = superseded
        .column(SEQ_COL)?
        .u64()?
        .into_no_null_iter()
        .collect();
    Ok((kept.drop(SEQ_COL)?, lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Coded survey rows with their order numbers and key hashes, as validation gathers them.
    fn chunk(respondents: &[u32], responses: &[i32], first_seq: u64) -> DataFrame {
        let n = respondents.len();
        let rows = df![
            "respondent_id" => respondents,
            "respondent_type" => vec![2u32; n],
            "school_id" => vec![0u32; n],
            "school_year" => vec![2024i32; n],
            "window" => vec![1u32; n],
            "item_id" => vec![3u32; n],
            "response" => responses,
            SEQ_COL => (first_seq..first_seq + n as u64).collect::<Vec<_>>(),
        ]
        .unwrap();
        duplicates::with_key_hash(Table::SurveyResponses, rows).unwrap()
    }

    /// Twelve rows in parts of four: three parts on disk, every respondent's rows in one of
    /// them, a duplicate answer (respondent 4, in two chunks) resolved to the later row, and
    /// the files gone once the parts are dropped.
    #[test]
    fn a_large_survey_goes_to_parts_on_disk_by_respondent() {
        let mut c = Collector::new(Table::SurveyResponses, 12, 4).unwrap();
        c.push(chunk(&[0, 1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6], 0))
            .unwrap();
        c.push(chunk(&[6, 7, 8, 4, 9, 10], &[7, 8, 9, 10, 11, 12], 6))
            .unwrap();
        let mut seen = Vec::new();
        let (parts, lost) = c
            .finish(Table::SurveyResponses, |p| {
                seen.push(p.height());
                Ok(())
            })
            .unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(lost, [4]);
        assert_eq!(parts.rows(), 11);
        assert_eq!(seen, [4, 4, 3]);
        let dir = match &parts.parts[0] {
            Part::Spilled { path, .. } => path.parent().unwrap().to_path_buf(),
            Part::Held(_) => panic!("parts of a large survey are on disk"),
        };
        assert!(dir.is_dir());
        for (i, part) in parts.frames().enumerate() {
            let part = part.unwrap();
            assert!(part.column(SEQ_COL).is_err() && part.column(duplicates::HASH_COL).is_err());
            let ids = part.column("respondent_id").unwrap().u32().unwrap().clone();
            assert!(ids.into_no_null_iter().all(|r| r % 3 == i as u32));
        }
        let whole = parts.clone().into_frame().unwrap();
        let of = |r: u32| -> Vec<i32> {
            let rows = whole
                .clone()
                .lazy()
                .filter(col("respondent_id").eq(lit(r)))
                .collect()
                .unwrap();
            rows.column("response")
                .unwrap()
                .i32()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(of(4), [10]);
        assert_eq!(of(9), [11]);
        drop(whole);
        drop(parts);
        assert!(!dir.exists());
    }

    /// A folder a killed run left behind (its process gone) is removed by the next run that
    /// spills; a live process's folder is not.
    #[test]
    fn folders_of_killed_runs_are_swept() {
        let temp = std::env::temp_dir().join(format!("parts-sweep-{}", std::process::id()));
        // Process ids stop well short of u32::MAX - 1.
        let dead = temp.join(format!("{SPILL_PREFIX}{}-0", u32::MAX - 1));
        let live = temp.join(format!("{SPILL_PREFIX}{}-7", std::process::id()));
        let other = temp.join("not-ours-1-0");
        for d in [&dead, &live, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("part-0.parquet"), b"x").unwrap();
        }
        sweep_orphans(&temp);
        let left = (dead.exists(), live.exists(), other.exists());
        let _ = std::fs::remove_dir_all(&temp);
        assert_eq!(left, (false, true, true));
    }

    /// Other tables, and a survey within one part, stay whole in memory.
    #[test]
    fn a_small_table_is_one_part_in_memory() {
        let mut c = Collector::new(Table::SurveyResponses, 6, 6).unwrap();
        c.push(chunk(&[0, 1, 2], &[1, 2, 3], 0)).unwrap();
        let (parts, lost) = c.finish(Table::SurveyResponses, |_| Ok(())).unwrap();
        assert_eq!((parts.len(), parts.rows(), lost), (1, 3, vec![]));
        assert!(matches!(parts.parts[0], Part::Held(_)));
        assert_eq!(Collector::new(Table::Students, 100, 6).unwrap().n, 1);
    }
}
