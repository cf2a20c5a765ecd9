//! `manifest.json`: what a run read, counted, wrote and took, so that any number in a report
//! can be traced to its inputs and settings.

use super::Written;
use crate::ingest::FileRead;
use crate::pipeline::Plan;
use crate::validate::Quality;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    pub tool: &'static str,
    pub version: &'static str,
    pub run_id: &'a str,
    /// Everything the run's outputs are made from, hashed (see `previous::run_key`).
    pub run_key: &'a str,
    pub pipeline: PipelineRef<'a>,
    pub started_at: String,
    pub finished_at: String,
    pub inputs: &'a [FileRead],
    /// Input headers that differ from the previous run's of the same pipeline.
    pub header_changes: &'a [String],
    pub rows: &'a Quality,
    pub outputs: &'a [Written],
    /// Every packet: its key, whether it was rendered or reused, and its files.
    pub packets: &'a [super::previous::PacketRecord],
    /// What the run linked from the previous run and what it wrote anew.
    pub reuse: &'a super::previous::Reuse,
    /// The frozen windows held at their published values, and each value recomputation
    /// would have changed.
    pub frozen: &'a super::frozen::Outcome,
    /// Milliseconds per stage, in the order the stages ran.
    pub timings_ms: Vec<Timing>,
    /// Milliseconds per part of the metrics stage (scores, sums per cell, suppression, each
    /// table, the survey), in the order they ran.
    pub metrics_ms: Vec<Timing>,
    /// Rows hidden per metric table and suppression rule (`primary`, `partition`,
    /// `group_and_rest`, `district`, `combination`).
    pub suppression: BTreeMap<String, BTreeMap<String, usize>>,
    /// The resolved pipeline definition the run used.
    pub config: &'a Plan,
}

#[derive(Debug, Serialize)]
pub struct PipelineRef<'a> {
    pub name: &'a str,
    pub file: String,
    pub sha256: &'a str,
}

impl<'a> PipelineRef<'a> {
    pub fn of(plan: &'a Plan) -> Self {
        PipelineRef {
            name: &plan.name,
            file: plan.source.display().to_string(),
            sha256: &plan.source_sha256,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub stage: &'static str,
    pub ms: u128,
}

/// How each input file's header differs from the one the previous run of the pipeline read
/// (see `previous::Previous`): a file is matched by table and file name, else by table when each
/// run read one file for it.
pub fn header_changes(
    previous: Option<&super::previous::Previous>,
    inputs: &[FileRead],
) -> Vec<String> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let (run, before) = (&previous.run_id, &previous.inputs);
    let name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map_or(p.to_string(), |n| n.to_string_lossy().into_owned())
    };
    let mut out = Vec::new();
    for f in inputs {
        let file = name(&f.path.display().to_string());
        let same_table: Vec<&serde_json::Value> = before
            .iter()
            .filter(|b| b["table"].as_str() == Some(f.table.as_str()))
            .collect();
        let now_in_table = inputs.iter().filter(|i| i.table == f.table).count();
        let Some(b) = same_table
            .iter()
            .find(|b| b["path"].as_str().map(name).as_deref() == Some(file.as_str()))
            .or_else(|| (same_table.len() == 1 && now_in_table == 1).then(|| &same_table[0]))
        else {
            continue;
        };
        let Some(old) = b["header"].as_array() else {
            continue;
        };
        let old: Vec<&str> = old.iter().filter_map(|v| v.as_str()).collect();
        if old == f.header.iter().map(String::as_str).collect::<Vec<_>>() {
            continue;
        }
        let added: Vec<String> = f
            .header
            .iter()
            .filter(|h| !old.contains(&h.as_str()))
            .map(|h| format!("`{h}`"))
            .collect();
        let removed: Vec<String> = old
            .iter()
            .filter(|o| !f.header.iter().any(|h| h == *o))
            .map(|o| format!("`{o}`"))
            .collect();
        let mut what = Vec::new();
        if !added.is_empty() {
            what.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            what.push(format!("removed {}", removed.join(", ")));
        }
        if what.is_empty() {
            what.push("the same columns in another order".to_string());
        }
        out.push(format!(
            "{} `{file}`: the header differs from the one run {run} read ({} columns, now {}): {}",
            f.table,
            old.len(),
            f.header.len(),
            what.join("; ")
        ));
    }
    out
}
