//! Nightly reruns: unchanged packets are linked from the previous run, not rendered again; the
//! same inputs give the same bytes; a frozen window keeps its published numbers until it is
//! restated, and its packets then say what changed and why.

use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};

/// The small format fixture district, every group shown (`min_n_display = 1`) so a changed
/// score changes published values; `extra` is added to the pipeline.
fn district(extra: &str) -> tempfile::TempDir {
    format_district(&format!("\n[privacy]\nmin_n_display = 1\n{extra}"))
}

/// Run `args` in `dir`; the published run folder and stderr.
fn run(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    let o = run_in(dir, args);
    assert!(o.status.success(), "{}", stderr(&o));
    (dir.join(stdout(&o).trim()), stderr(&o))
}

fn manifest(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(run.join("manifest.json")).unwrap()).unwrap()
}

/// (school, window, action) of every packet of a run.
fn packets(run: &Path) -> Vec<(String, String, String)> {
    manifest(run)["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (s("school"), s("window"), s("action"))
        })
        .collect()
}

fn rel_files(run: &Path) -> Vec<String> {
    let mut files: Vec<String> = walk(run)
        .iter()
        .map(|p| p.strip_prefix(run).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (x, y) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
    x.dev() == y.dev() && x.ino() == y.ino()
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {}", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn an_unchanged_rerun_renders_nothing_and_links_every_unchanged_file() {
    let dir = district("");
    let (first, _) = run(dir.path(), &["run", "pipeline.toml"]);
    let (second, err) = run(dir.path(), &["run", "pipeline.toml"]);
    let expected = |action: &str| {
        vec![
            ("101".to_string(), "fall".to_string(), action.to_string()),
            ("101".into(), "spring".into(), action.into()),
            ("601".into(), "winter".into(), action.into()),
        ]
    };
    assert_eq!(packets(&first), expected("rendered"));
    assert_eq!(packets(&second), expected("reused"));
    let first_id = first.file_name().unwrap().to_string_lossy().to_string();
    // Nothing it is made from changed: nothing is validated, computed or rendered again.
    assert!(
        err.contains(&format!(
            "nothing changed since run {first_id} (the same program, pipeline file, input files and frozen windows): 3 packets"
        )),
        "{err}"
    );
    assert!(!err.contains("metrics "), "{err}");
    let reuse = &manifest(&second)["reuse"];
    assert_eq!(reuse["from_run"], first_id.as_str());
    assert_eq!(reuse["packets_rendered"], 0);
    assert_eq!(reuse["packets_reused"], 3);

    // Every file but the three that name the run is the first run's file, linked.
    let files = rel_files(&second);
    assert_eq!(files, rel_files(&first));
    let named = ["index.html", "manifest.json", "quality.html"];
    for f in &files {
        let linked = same_inode(&first.join(f), &second.join(f));
        assert_eq!(linked, !named.contains(&f.as_str()), "{f} linked: {linked}");
    }
    assert_eq!(
        reuse["files_linked"].as_u64().unwrap() as usize,
        files.len() - named.len()
    );

    // `--rerender` renders every packet again, to the same bytes.
    let (third, _) = run(dir.path(), &["run", "pipeline.toml", "--rerender"]);
    assert_eq!(packets(&third), expected("rendered"));
}

/// The same inputs and tool give the same bytes in every file, but for the run id (in the
/// manifest, the index and the quality page) and the manifest's times and reuse record.
#[test]
fn reruns_are_byte_identical_but_for_the_run_id_and_times() {
    let dir = district("[outputs]\nformats = [\"pdf\", \"html\", \"svg\", \"png\"]\n");
    let (first, _) = run(dir.path(), &["run", "pipeline.toml"]);
    let (second, _) = run(dir.path(), &["run", "pipeline.toml", "--rerender"]);
    assert_eq!(
        manifest(&second)["reuse"]["packets_rendered"],
        3,
        "every packet typeset again"
    );
    let id = |r: &Path| r.file_name().unwrap().to_string_lossy().to_string();
    let files = rel_files(&first);
    assert_eq!(files, rel_files(&second));
    assert!(files.iter().any(|f| f.ends_with(".pdf")));
    assert!(files.iter().any(|f| f.ends_with(".png")));
    for f in &files {
        let (a, b) = (
            fs::read(first.join(f)).unwrap(),
            fs::read(second.join(f)).unwrap(),
        );
        match f.as_str() {
            "manifest.json" => {
                let strip = |bytes: &[u8]| {
                    let mut m: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                    let o = m.as_object_mut().unwrap();
                    // Listed exceptions: the run's id and times, and what it reused.
                    for k in [
                        "run_id",
                        "started_at",
                        "finished_at",
                        "timings_ms",
                        "metrics_ms",
                        "reuse",
                    ] {
                        assert!(o.remove(k).is_some(), "{k} in the manifest");
                    }
                    for p in o["packets"].as_array_mut().unwrap() {
                        p.as_object_mut().unwrap().remove("action");
                    }
                    // The index and the quality page print the run id, so their sizes
                    // follow its length: two runs in one second are `<id>` and `<id>-2`.
                    // Their text is compared below, with the id replaced.
                    for out in o["outputs"].as_array_mut().unwrap() {
                        if ["index.html", "quality.html"].contains(&out["path"].as_str().unwrap()) {
                            out.as_object_mut().unwrap().remove("bytes");
                        }
                    }
                    m
                };
                assert_eq!(strip(&a), strip(&b), "manifest.json");
            }
            "index.html" | "quality.html" => {
                let text = |bytes: Vec<u8>, run: &Path| {
                    String::from_utf8(bytes).unwrap().replace(&id(run), "RUN")
                };
                assert_eq!(text(a, &first), text(b, &second), "{f}");
            }
            _ => assert!(a == b, "{f} differs between two runs of the same inputs"),
        }
    }
    // The PDF's dates are the data's, not the clock's.
    let info = String::from_utf8(
        std::process::Command::new("pdfinfo")
            .arg(first.join("schools/101/spring/packet.pdf"))
            .output()
            .expect("pdfinfo runs (poppler-utils is installed by .ci/run)")
            .stdout,
    )
    .unwrap();
    assert!(info.contains("May  4"), "{info}");
    assert!(info.contains("2026"), "{info}");
}

#[test]
fn a_changed_school_rerenders_only_its_packets() {
    let dir = district("");
    let (first, _) = run(dir.path(), &["run", "pipeline.toml"]);
    // 601's winter math score: no other school tests in winter, so no other packet changes.
    replace_in(
        &dir.path().join("assessments.csv"),
        ",2577,601,",
        ",2590,601,",
    );
    let (second, err) = run(dir.path(), &["run", "pipeline.toml"]);
    assert_eq!(
        packets(&second),
        vec![
            ("101".to_string(), "fall".to_string(), "reused".to_string()),
            ("101".into(), "spring".into(), "reused".into()),
            ("601".into(), "winter".into(), "rendered".into()),
        ]
    );
    assert!(err.contains("1 rendered, 2 unchanged and reused"), "{err}");
    for f in [
        "schools/101/spring/packet.pdf",
        "schools/101/fall/packet.html",
    ] {
        assert!(same_inode(&first.join(f), &second.join(f)), "{f}");
    }
    let f = "schools/601/winter/packet.html";
    assert!(!same_inode(&first.join(f), &second.join(f)));
    assert_ne!(
        fs::read(first.join(f)).unwrap(),
        fs::read(second.join(f)).unwrap()
    );
}

/// 601's only winter score (grade 8 math, met at 2586) moves from 2577 (−9) to 2590 (+4): the
/// next version of its packet says so, and keeps saying so while nothing else changes.
#[test]
fn a_packet_says_what_changed_since_its_previous_version() {
    let dir = district("");
    let (first, _) = run(dir.path(), &["run", "pipeline.toml"]);
    let winter = "schools/601/winter/packet.html";
    assert!(
        !fs::read_to_string(first.join(winter))
            .unwrap()
            .contains("Since the packet")
    );
    replace_in(
        &dir.path().join("assessments.csv"),
        ",2577,601,",
        ",2590,601,",
    );
    let (second, _) = run(dir.path(), &["run", "pipeline.toml"]);
    let html = fs::read_to_string(second.join(winter)).unwrap();
    let since = html
        .split("Since the packet of ")
        .nth(1)
        .expect("a since table");
    let date = &first.file_name().unwrap().to_string_lossy()[..8];
    let date = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]);
    assert!(since.starts_with(&date), "{since}");
    let table = since.split("</table>").next().unwrap();
    assert!(
        table.ends_with(
            "<tbody><tr><td>Mathematics</td><td>Average distance from standard (points)</td><td>−9.0</td><td>+4.0</td></tr><tr><td>Mathematics</td><td>Met or exceeded standard</td><td>0.0%</td><td>100.0%</td></tr></tbody>"
        ),
        "{table}"
    );
    // The other schools' packets and the unchanged rerun show no such table, or the same one.
    assert!(
        !fs::read_to_string(second.join("schools/101/spring/packet.html"))
            .unwrap()
            .contains("Since the packet")
    );
    let (third, _) = run(dir.path(), &["run", "pipeline.toml"]);
    assert!(same_inode(&second.join(winter), &third.join(winter)));
}

#[test]
fn with_no_formats_the_summary_says_no_packet_was_written() {
    let dir = district("[outputs]\nformats = []\n");
    let (run_dir, err) = run(dir.path(), &["run", "pipeline.toml"]);
    assert!(
        err.contains("no packets or charts (`outputs.formats` is empty)"),
        "{err}"
    );
    assert!(!err.contains("rendered"), "{err}");
    assert!(!run_dir.join("schools").exists());
    assert!(packets(&run_dir).is_empty());
}

/// The mean distance from standard of 101's students in ELA at spring 2025-26: 1001 scored
/// 2468 in grade 4 (met at 2473: −5) and 1002 2540 in grade 5 (met at 2502: +38), so 16.5;
/// with 1002's late-corrected 2600 (+98), 46.5.
#[test]
fn a_frozen_window_keeps_its_numbers_until_restated_and_then_says_why() {
    let dir = district("");
    let d = dir.path();
    let (first, _) = run(d, &["run", "pipeline.toml"]);
    let o = run_in(d, &["freeze", first.to_str().unwrap(), "spring"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frozen = d.join("reports/district/frozen/2025-26/spring");
    assert!(frozen.join("baselines.parquet").is_file());
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(frozen.join("record.json")).unwrap()).unwrap();
    assert_eq!(
        record["from_run"],
        first.file_name().unwrap().to_string_lossy().as_ref()
    );
    // Freezing it again is refused.
    let again = run_in(d, &["freeze", first.to_str().unwrap(), "spring"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("was frozen on"),
        "{}",
        stderr(&again)
    );

    // A late correction: the run keeps the published value, lists the would-be change, exits 0.
    replace_in(&d.join("assessments.csv"), ",2540,101,", ",2600,101,");
    let (held, err) = run(d, &["run", "pipeline.toml"]);
    assert!(
        err.contains("would change; kept at the published value"),
        "{err}"
    );
    let m = manifest(&held);
    let would = m["frozen"]["would_change"].as_array().unwrap();
    let all_dfs = |c: &&serde_json::Value| {
        c["table"] == "baselines"
            && c["key"] == "school_id=101, assessment=sbac, subject=ela, group=all"
            && c["column"] == "mean_dfs"
    };
    let change = would
        .iter()
        .find(all_dfs)
        .expect("the mean's change is listed");
    assert_eq!(
        (&change["old"], &change["new"]),
        (&"16.5".into(), &"46.5".into())
    );
    // The district roll-up of the same cell is the same students.
    assert!(would.iter().any(|c| c["key"]
        == "school_id=district, assessment=sbac, subject=ela, group=all"
        && c["column"] == "mean_dfs"));
    let quality = fs::read_to_string(held.join("quality.html")).unwrap();
    assert!(quality.contains("Values kept at their published value"));
    assert!(quality.contains("<td>16.5</td><td>46.5</td>"), "{quality}");
    // The spring packet is the published one, unchanged.
    let spring = "schools/101/spring/packet.html";
    assert!(same_inode(&first.join(spring), &held.join(spring)));
    assert!(packets(&held).iter().all(|p| p.2 == "reused"));

    // Restating publishes the new value, with the reason, in the PDF and the HTML.
    let reason = "Late-corrected spring scores for one student.";
    let (restated, err) = run(
        d,
        &["restate", "pipeline.toml", "spring", "--reason", reason],
    );
    assert!(err.contains("restate  spring 2025-26: publishing"), "{err}");
    let today = chrono_free_today();
    let html = fs::read_to_string(restated.join(spring)).unwrap();
    for text in [
        format!("Restated on {today}"),
        reason.to_string(),
        "English language arts · All students: average distance from standard 16.5 → 46.5"
            .to_string(),
    ] {
        assert!(html.contains(&text), "{text} in the HTML");
    }
    let pdf = String::from_utf8(
        std::process::Command::new("pdftotext")
            .args([
                restated
                    .join("schools/101/spring/packet.pdf")
                    .to_str()
                    .unwrap(),
                "-",
            ])
            .output()
            .expect("pdftotext runs (poppler-utils is installed by .ci/run)")
            .stdout,
    )
    .unwrap();
    let flat = pdf.split_whitespace().collect::<Vec<_>>().join(" ");
    for text in [
        format!("Restated on {today}"),
        reason.to_string(),
        "average distance from standard 16.5 → 46.5".to_string(),
    ] {
        assert!(flat.contains(&text), "{text} in the PDF: {flat}");
    }
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(frozen.join("record.json")).unwrap()).unwrap();
    let r = &record["restatements"][0];
    assert_eq!(r["reason"], reason);
    assert_eq!(
        r["run"],
        restated.file_name().unwrap().to_string_lossy().as_ref()
    );
    assert!(r["changes"].as_array().unwrap().iter().any(|c| all_dfs(&c)));

    // From then on the new value is the frozen one, and the note stays.
    let (later, err) = run(d, &["run", "pipeline.toml"]);
    assert!(!err.contains("would change"), "{err}");
    assert!(
        fs::read_to_string(later.join(spring))
            .unwrap()
            .contains(reason)
    );
    // The fall packet never carried a note.
    assert!(
        !fs::read_to_string(later.join("schools/101/fall/packet.html"))
            .unwrap()
            .contains("Restated on")
    );
}

#[test]
fn a_closed_window_is_frozen_by_the_first_run_that_finds_it_closed() {
    let dir = district("");
    let d = dir.path();
    replace_in(
        &d.join("pipeline.toml"),
        "id = \"spring\"\n",
        "id = \"spring\"\nclosed = true\n",
    );
    let (first, err) = run(d, &["run", "pipeline.toml"]);
    assert!(err.contains("freeze   spring 2025-26 is closed"), "{err}");
    let record: serde_json::Value = serde_json::from_slice(
        &fs::read(d.join("reports/district/frozen/2025-26/spring/record.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["from_run"],
        first.file_name().unwrap().to_string_lossy().as_ref()
    );
    replace_in(&d.join("assessments.csv"), ",2540,101,", ",2600,101,");
    let (_, err) = run(d, &["run", "pipeline.toml"]);
    assert!(err.contains("would change"), "{err}");
    assert!(!err.contains("is closed: this run's values"), "{err}");

    // Restating a window that is not frozen is refused, and publishes nothing.
    let o = run_in(d, &["restate", "pipeline.toml", "fall", "--reason", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not frozen"), "{}", stderr(&o));
}

/// Today's date in UTC, `YYYY-MM-DD`, from `date` (the tests have no date crate).
fn chrono_free_today() -> String {
    let o = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}
