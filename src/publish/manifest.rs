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
    pub pipeline: PipelineRef<'a>,
    pub started_at: String,
    pub finished_at: String,
    pub inputs: &'a [FileRead],
    pub rows: &'a Quality,
    pub outputs: &'a [Written],
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
