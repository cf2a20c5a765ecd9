//! The previous run of the same pipeline (the one `LATEST` names), as far as a new run can
//! reuse it. A packet is addressed by a key over everything it is made from; when the previous
//! run published a packet with the same key, the new run hard-links its files instead of
//! rendering them again. Any other file the new run wrote with the same bytes as the previous
//! run's file at the same path is replaced by a hard link to it. Either way the run folders stay
//! whole and independent to read: a hard link is the same file under a second name, so an
//! unchanged night costs no new copy on disk. Where the file system cannot link (another
//! device, or one without hard links), the file is copied.

use super::Written;
use fs_err as fs;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a run records about each packet, in `manifest.json` under `packets`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PacketRecord {
    pub school: String,
    pub window: String,
    /// Hex blake3 of everything the packet is made from (see `render::packet_key`).
    pub key: String,
    /// `rendered` in this run, or `reused` from the run named in `manifest.reuse.from_run`.
    pub action: Action,
    /// The packet's files, relative to the run folder.
    pub files: Vec<String>,
    /// Its key numbers (the school's values at a glance), to tell the next version of the
    /// packet what changed since this one.
    #[serde(default)]
    pub numbers: Vec<Number>,
    /// The run that first published these numbers for the packet.
    #[serde(default)]
    pub first_published: String,
    /// What the packet showed as changed since its version before.
    #[serde(default)]
    pub since: Option<crate::render::model::Since>,
}

/// One key number of a packet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Number {
    pub subject: String,
    pub measure: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Rendered,
    Reused,
}

/// What a run took from the previous one, in `manifest.json` under `reuse`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reuse {
    /// The run files were linked from, if any.
    pub from_run: Option<String>,
    pub packets_rendered: usize,
    pub packets_reused: usize,
    /// Files that are hard links to (or, across devices, copies of) the previous run's.
    pub files_linked: usize,
    pub bytes_linked: u64,
    /// Files written anew.
    pub files_written: usize,
    pub bytes_written: u64,
}

#[derive(Deserialize)]
struct Recorded {
    #[serde(default)]
    run_key: String,
    #[serde(default)]
    inputs: Vec<serde_json::Value>,
    #[serde(default)]
    outputs: Vec<RecordedFile>,
    #[serde(default)]
    packets: Vec<PacketRecord>,
}

#[derive(Deserialize)]
struct RecordedFile {
    path: String,
    #[serde(default)]
    rows: Option<usize>,
    bytes: u64,
}

/// The previous run: its folder, its files' sizes and its packets by key.
pub struct Previous {
    pub run_id: String,
    /// Its [`run_key`]: equal to a new run's, the new run would publish the same files.
    pub run_key: String,
    /// Its files, with their rows, in its manifest's order.
    files: Vec<Written>,
    /// Its manifest, for a run that changes nothing to copy.
    manifest: serde_json::Value,
    /// The input files it read, as its manifest lists them (with their headers).
    pub inputs: Vec<serde_json::Value>,
    dir: PathBuf,
    sizes: HashMap<String, u64>,
    packets: HashMap<String, PacketRecord>,
    by_packet: HashMap<(String, String), PacketRecord>,
}

impl Previous {
    /// The run `LATEST` names under `root` (the pipeline's folder of runs), when it has a
    /// readable manifest.
    pub fn latest(root: &Path) -> Option<Previous> {
        let run_id = std::fs::read_to_string(root.join("LATEST")).ok()?;
        let run_id = run_id.trim().to_string();
        let dir = root.join(&run_id);
        let bytes = std::fs::read(dir.join("manifest.json")).ok()?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let recorded: Recorded = serde_json::from_value(manifest.clone()).ok()?;
        Some(Previous {
            run_key: recorded.run_key,
            files: recorded
                .outputs
                .iter()
                .map(|f| Written {
                    path: f.path.clone(),
                    rows: f.rows,
                    bytes: f.bytes,
                })
                .collect(),
            manifest,
            run_id,
            inputs: recorded.inputs,
            dir,
            sizes: recorded
                .outputs
                .into_iter()
                .map(|f| (f.path, f.bytes))
                .collect(),
            by_packet: recorded
                .packets
                .iter()
                .map(|p| ((p.school.clone(), p.window.clone()), p.clone()))
                .collect(),
            packets: recorded
                .packets
                .into_iter()
                .map(|p| (p.key.clone(), p))
                .collect(),
        })
    }

    /// The previous run's record of the packet of `school` at `window`.
    pub fn packet(&self, school: &str, window: &str) -> Option<&PacketRecord> {
        self.by_packet
            .get(&(school.to_string(), window.to_string()))
    }

    /// The previous run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Link the files of the previous run's packet with `key` into `dir` (the new run's
    /// staging folder), when it has one and all its files are still there.
    pub fn reuse_packet(&self, key: &str, dir: &Path) -> std::io::Result<Option<Vec<Written>>> {
        let Some(record) = self.packets.get(key) else {
            return Ok(None);
        };
        if !record.files.iter().all(|f| self.dir.join(f).is_file()) {
            return Ok(None);
        }
        let _open = super::writing();
        let mut out = Vec::with_capacity(record.files.len());
        for f in &record.files {
            let to = dir.join(f);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)?;
            }
            link_or_copy(&self.dir.join(f), &to)?;
            out.push(Written {
                path: f.clone(),
                rows: None,
                bytes: fs::metadata(&to)?.len(),
            });
        }
        Ok(Some(out))
    }

    /// Replace each file in `written` (under `dir`) whose bytes equal the previous run's file
    /// at the same path by a link to that file. Returns the files and bytes now shared.
    pub fn share_identical(
        &self,
        dir: &Path,
        written: &[Written],
    ) -> std::io::Result<(usize, u64)> {
        let _open = super::writing();
        let mut shared = (0, 0);
        for w in written {
            if self.sizes.get(&w.path) != Some(&w.bytes) {
                continue;
            }
            let new = dir.join(&w.path);
            let old = self.dir.join(&w.path);
            if same_file(&new, &old) {
                shared.0 += 1;
                shared.1 += w.bytes;
                continue;
            }
            let Ok(old_bytes) = std::fs::read(&old) else {
                continue;
            };
            if old_bytes.len() as u64 == w.bytes && std::fs::read(&new)? == old_bytes {
                let tmp = new.with_extension("linking");
                link_or_copy(&old, &tmp)?;
                fs::rename(&tmp, &new)?;
                shared.0 += 1;
                shared.1 += w.bytes;
            }
        }
        Ok(shared)
    }
}

/// A key over everything a run's outputs are made from: the program, the pipeline file, every
/// input file's content, the `--schools` choice and the frozen windows' records. Two runs with
/// the same key publish the same files (but for the run id on the index and quality page).
pub fn run_key(
    tool: &str,
    pipeline_sha256: &str,
    inputs: &[crate::ingest::FileRead],
    schools: Option<&[String]>,
    root: &Path,
) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update(tool.as_bytes());
    h.update(pipeline_sha256.as_bytes());
    for f in inputs {
        for part in [f.table.as_str(), &f.path.display().to_string(), &f.sha256] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
    }
    h.update(format!("{schools:?}").as_bytes());
    // The frozen windows' records change when a window is frozen or restated.
    let frozen = root.join(super::frozen::FOLDER);
    if frozen.is_dir() {
        let mut records: Vec<PathBuf> = Vec::new();
        for year in fs::read_dir(&frozen)? {
            let year = year?.path();
            if year.is_dir() {
                for w in fs::read_dir(&year)? {
                    records.push(w?.path().join("record.json"));
                }
            }
        }
        records.sort();
        for r in records.iter().filter(|r| r.is_file()) {
            h.update(r.display().to_string().as_bytes());
            h.update(&fs::read(r)?);
        }
    }
    Ok(h.finalize().to_hex().to_string())
}

impl Previous {
    /// Publish into `dir` (a new run's staging folder, run `run_id`) what this run published,
    /// when nothing it was made from has changed: every file linked, but the index and the
    /// quality page, which name the run, and the manifest. Returns the manifest to write, with
    /// this run's id, times and reuse (the caller adds its timings).
    pub fn relink_all(
        &self,
        dir: &Path,
        run_id: &str,
        times: (&str, &str),
    ) -> std::io::Result<(Vec<Written>, serde_json::Value)> {
        let _open = super::writing();
        let mut written = Vec::new();
        let mut linked = (0, 0);
        for f in self.files.iter().filter(|f| f.path != "manifest.json") {
            let to = dir.join(&f.path);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)?;
            }
            let from = self.dir.join(&f.path);
            if f.path == "index.html" || f.path == "quality.html" {
                let text = fs::read_to_string(&from)?
                    .replace(&format!("run {}", self.run_id), &format!("run {run_id}"));
                fs::write(&to, &text)?;
                written.push(Written {
                    path: f.path.clone(),
                    rows: f.rows,
                    bytes: text.len() as u64,
                });
            } else {
                link_or_copy(&from, &to)?;
                linked.0 += 1;
                linked.1 += f.bytes;
                written.push(f.clone());
            }
        }
        let mut m = self.manifest.clone();
        m["run_id"] = run_id.into();
        m["started_at"] = times.0.into();
        m["finished_at"] = times.1.into();
        m["header_changes"] = serde_json::json!([]);
        m["metrics_ms"] = serde_json::json!([]);
        m["outputs"] = serde_json::to_value(&written)?;
        let packets = m["packets"].as_array().map_or(0, Vec::len);
        if let Some(list) = m["packets"].as_array_mut() {
            for p in list {
                p["action"] = "reused".into();
            }
        }
        let new_bytes: u64 = written.iter().map(|w| w.bytes).sum::<u64>() - linked.1;
        m["reuse"] = serde_json::to_value(Reuse {
            from_run: Some(self.run_id.clone()),
            packets_rendered: 0,
            packets_reused: packets,
            files_linked: linked.0,
            bytes_linked: linked.1,
            files_written: written.len() - linked.0,
            bytes_written: new_bytes,
        })?;
        Ok((written, m))
    }
}

/// Whether two paths name the same file (one is a hard link to the other).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Hard-link `from` at `to`, or copy it where the file system cannot link.
pub fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).map(|_| ())
}
