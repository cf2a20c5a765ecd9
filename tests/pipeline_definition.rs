//! Pipeline definitions: every problem reported at once, with key, line and column; the
//! exact messages users see are pinned as snapshots.

use crate::util::*;
use std::fs;

fn district_files(dir: &std::path::Path) {
    for f in ["schools.csv", "students.csv", "assessments.csv"] {
        fs::copy(fixture(&format!("formats/{f}")), dir.join(f)).unwrap();
    }
}

fn pipeline(extra_inputs: &str, rest: &str) -> String {
    format!(
        r#"name = "district"

[inputs.schools]
path = "schools.csv"

[inputs.students]
path = "students.csv"
{extra_inputs}
[inputs.assessments]
path = "assessments.csv"
{WINDOWS_AND_SCALES}
{rest}"#
    )
}

/// Run `equity-gap ARGS` in a folder holding `pipeline.toml` = `text`; (exit code, stderr).
fn run_with(text: &str, setup: impl Fn(&std::path::Path), args: &[&str]) -> (i32, String) {
    let dir = tempdir();
    district_files(dir.path());
    setup(dir.path());
    fs::write(dir.path().join("pipeline.toml"), text).unwrap();
    let out = run_in(dir.path(), args);
    assert!(
        !dir.path().join("reports").exists(),
        "a failed run publishes nothing"
    );
    (out.status.code().unwrap_or(-1), stderr(&out))
}

#[test]
fn a_good_definition_checks() {
    let (code, err) = run_with(&pipeline("", ""), |_| {}, &["check", "pipeline.toml"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unknown_key_names_line_column_and_suggestion() {
    let text = pipeline("colums = { student_id = \"SSID\" }\n", "");
    let (code, err) = run_with(&text, |_| {}, &["check", "pipeline.toml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("unknown_key", err);
}

#[test]
fn two_problems_are_reported_together() {
    let text = pipeline("", "[privacy]\nmin_n_dispaly = 5\n").replace(
        "id = \"spring\"\nshare_of_year = 1.0",
        "id = \"spring\"\nshare_of_year = 1.5",
    );
    let (code, err) = run_with(&text, |_| {}, &["check", "pipeline.toml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("two_problems", err);
}

#[test]
fn cross_references_are_checked() {
    let text = pipeline(
        "",
        r#"[gaps]
pairs = [{ focal = "english_lerner", reference = "rest" }, { focal = "swd", reference = "everyone" }]

[groups.add.newcomers]
label = "Newcomers"
column = "el_status"
values = ["NEW"]

[growth]
baseline_window = "summer"
"#,
    );
    let (code, err) = run_with(&text, |_| {}, &["check", "pipeline.toml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("cross_references", err);
}

#[test]
fn missing_input_file() {
    let (code, err) = run_with(
        &pipeline("", ""),
        |d| fs::remove_file(d.join("students.csv")).unwrap(),
        &["check", "pipeline.toml"],
    );
    assert_eq!(code, 2);
    insta::assert_snapshot!("missing_input_file", err);
}

#[test]
fn missing_required_column() {
    let text = pipeline("", "");
    let (code, err) = run_with(
        &text,
        |d| {
            let csv = fs::read_to_string(d.join("students.csv")).unwrap();
            let without: String = csv
                .lines()
                .map(|l| {
                    let mut f: Vec<&str> = l.split(',').collect();
                    f.remove(4); // gender
                    f.join(",") + "\n"
                })
                .collect();
            fs::write(
                d.join("students.csv"),
                without.replace("race_ethnicity", "RaceEth"),
            )
            .unwrap();
        },
        &["run", "pipeline.toml"],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("missing_required_column", without_banner(&err));
}

#[test]
fn undecodable_file() {
    let (code, err) = run_with(
        &pipeline("", ""),
        |d| {
            let mut bytes = fs::read(d.join("schools.csv")).unwrap();
            // "Élan" as Windows-1252 would write it.
            let at = bytes.windows(2).position(|w| w == "É".as_bytes()).unwrap();
            bytes.splice(at..at + 2, [0xC9]);
            fs::write(d.join("schools.csv"), bytes).unwrap();
        },
        &["run", "pipeline.toml"],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("undecodable_file", without_banner(&err));
}

#[test]
fn not_toml_at_all() {
    let (code, err) = run_with(
        "name = \"x\"\n[inputs\n",
        |_| {},
        &["check", "pipeline.toml"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("pipeline.toml:2:"), "{err}");
    assert!(err.contains("not valid TOML"), "{err}");
}

/// The first line of `run` names the tool version; the rest is what is pinned.
fn without_banner(err: &str) -> String {
    err.lines()
        .filter(|l| !l.starts_with("equity-gap "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_reference_page_documents_every_key() {
    let spec = fs::read_to_string(root().join("src/pipeline/spec.rs")).unwrap();
    let reference = fs::read_to_string(root().join("pipelines/REFERENCE.md")).unwrap();
    let mut missing = Vec::new();
    for line in spec.lines() {
        let Some(rest) = line.trim().strip_prefix("pub ") else {
            continue;
        };
        let Some((field, _)) = rest.split_once(':') else {
            continue;
        };
        if field.contains(' ') || field.contains('(') {
            continue;
        }
        let documented = [
            format!("`{field}`"),
            format!("[{field}"),
            format!("`{field}."),
        ]
        .iter()
        .any(|needle| reference.contains(needle.as_str()));
        if !documented {
            missing.push(field.to_string());
        }
    }
    assert!(missing.is_empty(), "REFERENCE.md lacks {missing:?}");
}
