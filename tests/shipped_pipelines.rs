//! Every shipped pipeline is documentation that runs: `check` passes and `run` publishes. The
//! sample pipeline's quarantine equals the faults its truth file records.

use crate::util::*;
use std::path::PathBuf;

fn shipped() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

#[test]
fn every_shipped_pipeline_checks_and_runs() {
    for p in shipped() {
        let o = run_in(&root(), &["check", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
        assert!(stdout(&o).starts_with("ok: pipeline"), "{}", stdout(&o));
        if p.ends_with("sample.toml") {
            // Shared with the other tests that read the sample's outputs.
            assert!(sample_run().join("manifest.json").exists());
            assert!(sample_run().join("index.html").exists());
            continue;
        }
        let out = tempdir();
        let o = run_in(
            &root(),
            &[
                "run",
                p.to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
        let run = PathBuf::from(stdout(&o).trim());
        assert!(run.join("manifest.json").exists());
        assert!(run.starts_with(out.path()));
    }
}

#[test]
fn sample_quarantine_matches_its_truth_file() {
    let v = validate_file(&root().join("pipelines/sample.toml"));
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("sample_data/truth.json")).unwrap())
            .unwrap();
    for q in &v.quality.tables {
        assert_eq!(
            q.read as u64,
            truth["rows"][&q.table].as_u64().unwrap(),
            "{}",
            q.table
        );
        let planted: std::collections::BTreeMap<String, usize> = truth["faults"]["quarantined"]
            .get(&q.table)
            .map(|m| serde_json::from_value(m.clone()).unwrap())
            .unwrap_or_default();
        assert_eq!(q.by_reason, planted, "{}", q.table);
    }
    assert_eq!(
        v.quality.students_without_demographics as u64,
        truth["faults"]["students_without_demographics"]
            .as_u64()
            .unwrap()
    );
}
