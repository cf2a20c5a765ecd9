//! Publishing: a run lands whole under `<out>/<pipeline>/<run id>/` with its manifest, or not
//! at all; a killed or interrupted run leaves no partial folder and earlier runs intact.

use crate::util::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The small format fixture district with `pipeline.toml` (name `district`).
fn district() -> tempfile::TempDir {
    format_district("")
}

/// Visible entries of a folder, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn published(dir: &Path) -> PathBuf {
    let o = run_in(dir, &["run", "pipeline.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    PathBuf::from(stdout(&o).trim())
}

#[test]
fn a_run_publishes_tables_quarantine_and_manifest() {
    let dir = district();
    let run = dir.path().join(published(dir.path()));
    let mut files: Vec<String> = Vec::new();
    for e in walk(&run) {
        files.push(e.strip_prefix(&run).unwrap().display().to_string());
    }
    files.sort();
    // Packets exist only for the windows a school has scores in, and a packet has only the
    // charts its data allows (no gap charts without a year earlier).
    assert_eq!(
        files,
        [
            "index.html",
            "manifest.json",
            "metrics/baselines.parquet",
            "metrics/cohort_change.parquet",
            "metrics/cohort_gaps.parquet",
            "metrics/flags.parquet",
            "metrics/gaps.parquet",
            "metrics/growth.parquet",
            "metrics/student_growth.parquet",
            "quality.html",
            "quarantine.csv",
            "quarantine.parquet",
            "schools/101/fall/charts/ela-bands.svg",
            "schools/101/fall/charts/ela-mean-dfs.svg",
            "schools/101/fall/packet.html",
            "schools/101/fall/packet.pdf",
            "schools/101/spring/charts/ela-bands.svg",
            "schools/101/spring/charts/ela-gap-change.svg",
            "schools/101/spring/charts/ela-gap-paths.svg",
            "schools/101/spring/charts/ela-gaps.svg",
            "schools/101/spring/charts/ela-mean-dfs.svg",
            "schools/101/spring/packet.html",
            "schools/101/spring/packet.pdf",
            "schools/601/winter/charts/math-bands.svg",
            "schools/601/winter/charts/math-mean-dfs.svg",
            "schools/601/winter/packet.html",
            "schools/601/winter/packet.pdf",
            "tables/assessments.parquet",
            "tables/schools.parquet",
            "tables/students.parquet",
        ]
    );
    let run_id = run.file_name().unwrap().to_string_lossy().to_string();
    let latest = fs::read_to_string(dir.path().join("reports/district/LATEST")).unwrap();
    assert_eq!(latest.trim(), run_id);

    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["run_id"], run_id.as_str());
    assert_eq!(m["tool"], "equity-gap");
    assert_eq!(m["pipeline"]["name"], "district");
    let pipeline_sha = hex(&Sha256::digest(
        fs::read(dir.path().join("pipeline.toml")).unwrap(),
    ));
    assert_eq!(m["pipeline"]["sha256"], pipeline_sha.as_str());
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3);
    for (input, (file, rows)) in inputs.iter().zip([
        ("schools.csv", 3),
        ("students.csv", 7),
        ("assessments.csv", 9),
    ]) {
        assert_eq!(input["path"], file);
        assert_eq!(input["rows"], rows);
        let sha = hex(&Sha256::digest(fs::read(dir.path().join(file)).unwrap()));
        assert_eq!(input["sha256"], sha.as_str());
    }
    let stages: Vec<&str> = m["timings_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "load", "ingest", "validate", "metrics", "tables", "render", "link"
        ]
    );
    assert_eq!(m["rows"]["tables"][2]["accepted"], 9);
    assert_eq!(m["config"]["privacy"]["min_n_display"], 11);
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"tables/assessments.parquet"));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Start a run that pauses before committing; return it once its staging folder is written.
// The child is returned to the caller, which waits on it.
#[allow(clippy::zombie_processes)]
fn start_paused_run(dir: &Path) -> std::process::Child {
    let mut child = bin()
        .current_dir(dir)
        .args(["run", "pipeline.toml"])
        .env("EQUITY_GAP_TEST_PAUSE_BEFORE_COMMIT_MS", "30000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staging = dir.join("reports/district/.staging");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written = fs::read_dir(&staging)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.path().join("quarantine.parquet").exists())
            })
            .unwrap_or(false);
        if written {
            return child;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never reached its staging folder");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_run_leaves_no_partial_folder_and_the_previous_run_intact() {
    let dir = district();
    let first = dir.path().join(published(dir.path()));
    let manifest_before = fs::read(first.join("manifest.json")).unwrap();
    let root = dir.path().join("reports/district");
    let before = entries(&root);

    let mut child = start_paused_run(dir.path());
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    assert_eq!(entries(&root), before, "no new visible folder after a kill");
    assert_eq!(
        fs::read(first.join("manifest.json")).unwrap(),
        manifest_before
    );
    let latest = fs::read_to_string(root.join("LATEST")).unwrap();
    assert_eq!(latest.trim(), first.file_name().unwrap().to_string_lossy());
    assert_eq!(
        entries(&root.join(".staging")).len(),
        1,
        "the killed run's staging folder is hidden"
    );

    // The next run sweeps the leftover and publishes normally.
    std::thread::sleep(Duration::from_millis(1100));
    let second = dir.path().join(published(dir.path()));
    assert_ne!(second, first);
    assert_eq!(entries(&root.join(".staging")), Vec::<String>::new());
    assert_eq!(
        fs::read(first.join("manifest.json")).unwrap(),
        manifest_before
    );
}

#[test]
fn an_interrupted_run_removes_its_staging_folder() {
    let dir = district();
    let child = start_paused_run(dir.path());
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let root = dir.path().join("reports/district");
    assert_eq!(entries(&root), Vec::<String>::new());
    assert_eq!(entries(&root.join(".staging")), Vec::<String>::new());
}

#[test]
fn too_many_rejected_rows_fail_the_run_and_publish_nothing() {
    let dir = district();
    let csv = fs::read_to_string(dir.path().join("assessments.csv")).unwrap();
    fs::write(
        dir.path().join("assessments.csv"),
        csv.replace(",2410,", ",NS,"),
    )
    .unwrap();
    let o = run_in(dir.path(), &["run", "pipeline.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("error: more than 5% of rows were quarantined in assessments (11.1%); nothing was published"),
        "{err}"
    );
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn schools_option_limits_what_is_published() {
    let dir = district();
    let o = run_in(dir.path(), &["run", "pipeline.toml", "--schools", "101"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join(stdout(&o).trim());
    use polars::prelude::SerReader;
    let students = polars::prelude::ParquetReader::new(
        fs::File::open(run.join("tables/students.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    let schools = strs(&students, "school_id");
    assert_eq!(schools, ["101"; 4]);
    // Metric tables keep the chosen school and the district roll-up.
    let baselines = polars::prelude::ParquetReader::new(
        fs::File::open(run.join("metrics/baselines.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    let mut ids = strs(&baselines, "school_id");
    ids.dedup();
    assert_eq!(ids, ["101", "district"]);

    let o = run_in(dir.path(), &["run", "pipeline.toml", "--schools", "102"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("error: `--schools`: no school `102` in the schools extract"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `101`?"), "{err}");
}
