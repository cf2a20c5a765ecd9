//! Publish: everything a run writes goes into a staging folder
//! (`<out>/<pipeline>/.staging/<run id>.<pid>`) that is renamed to `<out>/<pipeline>/<run id>`
//! only when the run succeeds. A failed run removes its staging folder; an interrupted one
//! (Ctrl-C, SIGTERM) removes it before exiting; a killed one leaves it hidden under `.staging`,
//! where the next run sweeps it. Earlier runs are never touched. `LATEST` names the newest run.

pub mod frozen;
pub mod manifest;
pub mod previous;
pub mod tables;

pub use manifest::Manifest;

use fs_err as fs;
use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

const STAGING: &str = ".staging";

/// Rows of a large table encoded (and, for coded tables, decoded) and written at a time.
pub(crate) const SLICE_ROWS: usize = 1 << 20;

/// The staging folder of the run in progress, for the signal handler.
static IN_PROGRESS: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Every write into a staging folder holds this shared; the signal handler takes it
/// exclusively and never lets go, so no render thread can recreate the folder after the
/// handler has removed it.
static WRITES: RwLock<()> = RwLock::new(());

fn writing() -> RwLockReadGuard<'static, ()> {
    WRITES.read().unwrap_or_else(|e| e.into_inner())
}

/// Remove the run's staging folder (and any survey parts spilled to disk) and exit when the
/// process is interrupted. Call once.
pub fn clean_up_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        // Waits for writes in flight; held until the process exits.
        let _stopped = WRITES.write().unwrap_or_else(|e| e.into_inner());
        if let Ok(guard) = IN_PROGRESS.lock()
            && let Some(dir) = guard.as_ref()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        crate::validate::remove_spilled_parts();
        eprintln!("error: interrupted; nothing was published");
        std::process::exit(130);
    });
}

/// A run's output folder while it is being written.
pub struct Staging {
    dir: PathBuf,
    final_dir: PathBuf,
    run_id: String,
    written: Vec<Written>,
    committed: bool,
}

/// One file the run wrote, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    pub path: String,
    pub rows: Option<usize>,
    pub bytes: u64,
}

/// Write `contents` at `rel` under `dir` (a staging folder), from any thread; hand the
/// result to `Staging::adopt` so the manifest lists it.
pub fn write_file(dir: &Path, rel: &str, contents: &[u8]) -> std::io::Result<Written> {
    let _open = writing();
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, contents)?;
    Ok(Written {
        path: rel.to_string(),
        rows: None,
        bytes: contents.len() as u64,
    })
}

/// Write a large table at `rel` under `dir` (a staging folder) from `frames` (at least one;
/// all with the same columns), each written as it comes, so the whole table is never in memory
/// at once; from any thread. Hand the result to `Staging::adopt`.
pub fn parquet_frames(
    dir: &Path,
    rel: &str,
    mut frames: impl Iterator<Item = PolarsResult<DataFrame>>,
) -> anyhow::Result<Written> {
    let _open = writing();
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut file = Recording::new(fs::File::create(&path)?);
    let mut rows = 0;
    let written = (|| -> PolarsResult<()> {
        let mut first = frames.next().unwrap_or_else(
            || polars_bail!(ComputeError: "no rows or columns to write to `{rel}`"),
        )?;
        // The writer reads the columns chunk by chunk, so their chunks must line up (a
        // slice's columns may come from tables chunked differently).
        first.align_chunks_par();
        let mut writer = ParquetWriter::new(&mut file)
            .with_compression(ParquetCompression::Zstd(None))
            .with_statistics(StatisticsOptions::full())
            .batched(first.schema())?;
        writer.write_batch(&first)?;
        rows += first.height();
        for next in frames {
            let mut next = next?;
            if next.height() > 0 {
                next.align_chunks_par();
                writer.write_batch(&next)?;
                rows += next.height();
            }
        }
        writer.finish().map(|_| ())
    })();
    file.result(&path, written)?;
    Ok(Written {
        path: rel.to_string(),
        rows: Some(rows),
        bytes: fs::metadata(&path)?.len(),
    })
}

impl Staging {
    /// Start a run under `<out>/<pipeline>/`. The run id is the start time in UTC
    /// (`20261123T170512Z`), with `-2`, `-3`, … when that folder exists.
    pub fn begin(
        out: &Path,
        pipeline: &str,
        started: chrono::DateTime<chrono::Utc>,
    ) -> std::io::Result<Staging> {
        let root = out.join(pipeline);
        let staging_root = root.join(STAGING);
        fs::create_dir_all(&staging_root)?;
        sweep_stale(&staging_root)?;
        let base = started.format("%Y%m%dT%H%M%SZ").to_string();
        let mut run_id = base.clone();
        let mut n = 1;
        while root.join(&run_id).exists() {
            n += 1;
            run_id = format!("{base}-{n}");
        }
        let dir = staging_root.join(format!("{run_id}.{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        *IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.clone());
        Ok(Staging {
            final_dir: root.join(&run_id),
            dir,
            run_id,
            written: Vec::new(),
            committed: false,
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where the run will be once committed.
    pub fn final_dir(&self) -> &Path {
        &self.final_dir
    }

    /// The staging folder itself (for writers that need a path).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn written(&self) -> &[Written] {
        &self.written
    }

    fn target(&self, rel: &str) -> std::io::Result<PathBuf> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        Ok(path)
    }

    fn record(&mut self, rel: &str, rows: Option<usize>) -> std::io::Result<()> {
        let bytes = fs::metadata(self.dir.join(rel))?.len();
        self.written.push(Written {
            path: rel.to_string(),
            rows,
            bytes,
        });
        Ok(())
    }

    /// Write a table as Parquet (zstd) at `rel`, a slice of rows at a time (see
    /// `parquet_frames`): the writer then copies and encodes one slice's columns at once, not
    /// a whole table of tens of millions of rows.
    pub fn parquet(&mut self, rel: &str, df: &DataFrame) -> anyhow::Result<()> {
        self.parquet_with(rel, df, Ok)
    }

    /// [`Staging::parquet`], each slice of `df` passed through `each` before it is written
    /// (to decode codes a slice at a time).
    pub fn parquet_with(
        &mut self,
        rel: &str,
        df: &DataFrame,
        each: impl Fn(DataFrame) -> PolarsResult<DataFrame>,
    ) -> anyhow::Result<()> {
        let n = df.height();
        let slices = (0..n.max(1))
            .step_by(SLICE_ROWS)
            .map(|offset| each(df.slice(offset as i64, SLICE_ROWS)));
        self.parquet_frames(rel, slices)
    }

    /// Write a large table at `rel` from `frames` (see [`parquet_frames`]).
    pub fn parquet_frames(
        &mut self,
        rel: &str,
        frames: impl Iterator<Item = PolarsResult<DataFrame>>,
    ) -> anyhow::Result<()> {
        let written = parquet_frames(&self.dir, rel, frames)?;
        self.written.push(written);
        Ok(())
    }

    /// Write a table as CSV with a header at `rel`.
    pub fn csv(&mut self, rel: &str, df: &mut DataFrame) -> anyhow::Result<()> {
        let _open = writing();
        let path = self.target(rel)?;
        let mut file = Recording::new(fs::File::create(&path)?);
        let written = CsvWriter::new(&mut file).include_header(true).finish(df);
        file.result(&path, written)?;
        self.record(rel, Some(df.height()))?;
        Ok(())
    }

    /// Write bytes at `rel`.
    pub fn bytes(&mut self, rel: &str, contents: &[u8]) -> std::io::Result<()> {
        let _open = writing();
        let path = self.target(rel)?;
        fs::write(&path, contents)?;
        self.record(rel, None)
    }

    /// Record files a parallel writer put in the staging folder with `write_file`.
    pub fn adopt(&mut self, files: impl IntoIterator<Item = Written>) {
        self.written.extend(files);
    }

    /// Rename the staging folder into place and point `LATEST` at it. Two runs that started
    /// in the same second would want the same run id: the one that commits second takes the
    /// next free one (`-2`, `-3`, …), so both publish. `LATEST` only ever moves to a newer run.
    pub fn commit(mut self) -> std::io::Result<PathBuf> {
        let root = self
            .final_dir
            .parent()
            .expect("a run folder has a parent")
            .to_path_buf();
        let base = self
            .run_id
            .split('-')
            .next()
            .unwrap_or(&self.run_id)
            .to_string();
        let mut n = 1;
        let open = writing();
        loop {
            match std::fs::rename(&self.dir, &self.final_dir) {
                Ok(()) => break,
                // Renaming onto a run folder that now exists (it is never empty) fails.
                Err(e) if self.final_dir.exists() && n < 1000 => {
                    let _ = e;
                    n += 1;
                    self.run_id = format!("{base}-{n}");
                    self.final_dir = root.join(&self.run_id);
                }
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot rename `{}` to `{}`: {e}",
                            self.dir.display(),
                            self.final_dir.display()
                        ),
                    ));
                }
            }
        }
        self.committed = true;
        *IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = None;
        drop(open);
        let latest = root.join("LATEST");
        let newer = std::fs::read_to_string(&latest)
            .map(|current| {
                let current = current.trim();
                run_order(current) > run_order(&self.run_id) && root.join(current).is_dir()
            })
            .unwrap_or(false);
        if !newer {
            let tmp = root.join(format!("{STAGING}/LATEST.{}", std::process::id()));
            fs::write(&tmp, format!("{}\n", self.run_id))?;
            fs::rename(&tmp, &latest)?;
        }
        Ok(self.final_dir.clone())
    }
}

/// Run ids in the order runs started: the time, then the `-n` suffix as a number.
fn run_order(id: &str) -> (String, u32) {
    match id.split_once('-') {
        Some((t, n)) => (t.to_string(), n.parse().unwrap_or(0)),
        None => (id.to_string(), 1),
    }
}

/// A writer that remembers the first I/O error it saw, so that a full disk or a read-only
/// folder reaches the user as what it is even when the Parquet or CSV writer wraps it in its
/// own error.
struct Recording<W> {
    inner: W,
    error: Option<(std::io::ErrorKind, String)>,
}

impl<W: std::io::Write> Recording<W> {
    fn new(inner: W) -> Self {
        Recording { inner, error: None }
    }

    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r
            && self.error.is_none()
        {
            self.error = Some((e.kind(), e.to_string()));
        }
        r
    }

    /// The outcome of writing `path`: the I/O error if there was one, else the writer's.
    fn result(mut self, path: &Path, written: PolarsResult<()>) -> anyhow::Result<()> {
        let flushed = self.inner.flush();
        let flushed = self.note(flushed);
        if let Some((kind, message)) = self.error {
            return Err(anyhow::Error::new(std::io::Error::new(
                kind,
                format!("cannot write `{}`: {message}", path.display()),
            )));
        }
        written.map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
        flushed?;
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for Recording<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            *IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

/// Remove staging folders left by runs that were killed (their process no longer exists).
fn sweep_stale(staging_root: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(staging_root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let path = entry.path();
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without /proc, never guess: keep the folder.
        true
    }
}
