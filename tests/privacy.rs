//! Privacy you can prove: complementary suppression leaves nothing a reader can work out, and
//! `equity-gap audit` finds what a run without it leaks. Districts of several shapes are
//! generated, bent where the risk is (a school with 3 nonbinary students beside 12 girls, a
//! school where 98% are socioeconomically disadvantaged, tiny schools, groups added on one
//! column), run with and without complementary suppression, and audited; recovered values are
//! checked against a run of the same data with `min_n_display = 1`.

use crate::util::{root, run_in, sample_run, stderr, stdout, tempdir};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// Write a generated district (CSV) into `dir`, and return its pipeline file.
fn district(dir: &Path, students: usize, schools: usize, seed: u64) -> PathBuf {
    let o = run_in(
        &root(),
        &[
            "sample",
            "--students",
            &students.to_string(),
            "--schools",
            &schools.to_string(),
            "--years",
            "2",
            "--seed",
            &seed.to_string(),
            "--csv",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    dir.join("pipeline.toml")
}

/// Rewrite the students extract: `f(school, index within the school and year, row)` may change
/// a row's columns (by vendor name).
fn bend_students(dir: &Path, f: impl Fn(&str, usize, &mut Vec<(String, String)>)) {
    let path = dir.join("students.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let school_at = header.iter().position(|h| h == "SchoolCode").unwrap();
    let year_at = header.iter().position(|h| h == "SchoolYear").unwrap();
    let mut seen: std::collections::BTreeMap<(String, String), usize> = Default::default();
    let mut out = vec![header.join(",")];
    for line in lines {
        let values: Vec<String> = line.split(',').map(str::to_string).collect();
        let key = (values[school_at].clone(), values[year_at].clone());
        let i = *seen.entry(key).and_modify(|n| *n += 1).or_insert(0);
        let mut row: Vec<(String, String)> = header.iter().cloned().zip(values).collect();
        f(&row[school_at].1.clone(), i, &mut row);
        out.push(
            row.into_iter()
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

fn set(row: &mut [(String, String)], column: &str, value: &str) {
    let cell = row.iter_mut().find(|(c, _)| c == column).unwrap();
    cell.1 = value.to_string();
}

/// A copy of the pipeline with `extra` TOML appended (packets off), named `name`.
fn variant(pipeline: &Path, name: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(pipeline).unwrap();
    let text = text.replace("name = \"", &format!("name = \"{name}-"));
    let path = pipeline.with_file_name(format!("{name}.toml"));
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path
}

/// Run a pipeline and return its run folder.
fn run(pipeline: &Path, out: &Path) -> PathBuf {
    let o = run_in(
        &root(),
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    PathBuf::from(stdout(&o).trim())
}

/// `equity-gap audit --json` on a run: (exit code, findings).
fn audit(run: &Path, open: Option<&Path>) -> (i32, Vec<serde_json::Value>) {
    let mut args = vec!["audit", run.to_str().unwrap(), "--json"];
    if let Some(open) = open {
        args.extend(["--open-run", open.to_str().unwrap()]);
    }
    let o = run_in(&root(), &args);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    assert!(
        report["mismatches"].as_array().unwrap().is_empty(),
        "recovered values differ from the open run: {}",
        report["mismatches"]
    );
    (
        o.status.code().unwrap(),
        report["findings"].as_array().unwrap().clone(),
    )
}

const PACKETS_OFF: &str = "[outputs]\nformats = []\n";

/// One shape, run three ways: as shipped (complementary on), without complementary
/// suppression, and open (`min_n_display = 1`). Returns the findings of the run without.
fn check_shape(pipeline: &Path, tag: &str) -> Vec<serde_json::Value> {
    let out = pipeline.parent().unwrap().join("reports");
    let on = run(&variant(pipeline, &format!("{tag}-on"), PACKETS_OFF), &out);
    let off = run(
        &variant(
            pipeline,
            &format!("{tag}-off"),
            &format!("{PACKETS_OFF}[privacy]\ncomplementary = false\n"),
        ),
        &out,
    );
    let open = run(
        &variant(
            pipeline,
            &format!("{tag}-open"),
            &format!("{PACKETS_OFF}[privacy]\nmin_n_display = 1\n"),
        ),
        &out,
    );
    // With complementary suppression nothing can be worked out, even by an insider who knows
    // which unpublished parts are empty.
    let (code, findings) = audit(&on, None);
    assert_eq!((code, findings.len()), (0, 0), "{tag}: {findings:#?}");
    let (code, findings) = audit(&on, Some(&open));
    assert_eq!((code, findings.len()), (0, 0), "{tag}: {findings:#?}");
    // Without it the audit finds leaks, and every value it recovers is the true one.
    let (code, findings) = audit(&off, Some(&open));
    assert_eq!(code, 1, "{tag}: the audit can fail");
    assert!(!findings.is_empty());
    findings
}

fn count(findings: &[serde_json::Value], table: &str, what: &str) -> usize {
    findings
        .iter()
        .filter(|f| f["table"] == table && f["what"].as_str().unwrap().contains(what))
        .count()
}

#[test]
fn the_sample_run_leaks_nothing() {
    let (code, findings) = audit(sample_run(), None);
    assert_eq!((code, findings.len()), (0, 0), "{findings:#?}");
    // The manifest says what each rule hid.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample_run().join("manifest.json")).unwrap())
            .unwrap();
    for table in ["baselines", "growth", "survey"] {
        let rules = &manifest["suppression"][table];
        assert!(rules["primary"].as_u64().unwrap() > 0, "{table}: {rules}");
    }
    assert!(
        manifest["suppression"]["baselines"]["partition"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn a_school_with_three_nonbinary_students_and_twelve_girls() {
    let dir = tempdir().keep();
    let pipeline = district(&dir, 3000, 5, 31);
    bend_students(&dir, |school, i, row| {
        if school == "101" {
            let g = if i < 12 {
                "F"
            } else if i < 15 {
                "X"
            } else {
                "M"
            };
            set(row, "Gender", g);
        }
    });
    let findings = check_shape(&pipeline, "gender");
    assert!(
        count(&findings, "baselines", "Nonbinary") > 0,
        "{findings:#?}"
    );
}

#[test]
fn a_school_where_nearly_everyone_is_disadvantaged() {
    let dir = tempdir().keep();
    let pipeline = district(&dir, 3000, 5, 32);
    bend_students(&dir, |school, i, row| {
        if school == "101" {
            set(
                row,
                "SocioEconDisadv",
                if i % 50 == 7 { "No" } else { "Yes" },
            );
        }
    });
    let findings = check_shape(&pipeline, "sed");
    // all − sed reveals the few others, at school 101.
    assert!(
        findings.iter().any(|f| f["what"]
            .as_str()
            .unwrap()
            .contains("not in socioeconomically")
            || f["what"]
                .as_str()
                .unwrap()
                .contains("not in Socioeconomically")),
        "{findings:#?}"
    );
}

#[test]
fn tiny_schools_and_groups_added_on_one_column() {
    let dir = tempdir().keep();
    let pipeline = district(&dir, 900, 9, 33);
    let pipeline = variant(
        &pipeline,
        "added",
        r#"
[groups.add.not_reported]
label = "Race not reported"
column = "race_ethnicity"
values = ["NR"]

[groups.add.el_ever]
label = "Ever English learners"
column = "el_status"
values = ["EL", "RFEP"]

[groups.add.grade_5]
label = "Grade 5"
column = "grade"
values = ["5"]
"#,
    );
    check_shape(&pipeline, "tiny");
}

/// What the audit prints for people: each leak with the relations and published rows it
/// follows from.
#[test]
fn the_audit_says_what_leaked_and_from_what() {
    let dir = tempdir().keep();
    let pipeline = district(&dir, 1500, 3, 34);
    let off = variant(
        &pipeline,
        "off",
        &format!("{PACKETS_OFF}[privacy]\ncomplementary = false\n"),
    );
    let run_dir = run(&off, &dir.join("reports"));
    let o = run_in(&root(), &["audit", run_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("can be worked out from published rows"),
        "{text}"
    );
    assert!(text.contains("    recovered: n = "), "{text}");
    assert!(text.contains("    by: -1 × (district "), "{text}");
    assert!(text.contains("    from published rows: "), "{text}");
    assert!(stderr(&o).contains("error: "), "{}", stderr(&o));
    // The pipeline folder stands for its newest run.
    let o = run_in(
        &root(),
        &["audit", run_dir.parent().unwrap().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    // Not a run: exit 2, naming the folder.
    let o = run_in(&root(), &["audit", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a published run"),
        "{}",
        stderr(&o)
    );
}

/// Small random districts: whatever the sizes and seed, nothing leaks.
#[test]
fn random_small_districts_leak_nothing() {
    use proptest::prelude::*;
    let config = ProptestConfig {
        cases: std::env::var("EQUITY_GAP_PRIVACY_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(students in 300usize..1500, schools in 3usize..6, seed in 0u64..1000)| {
        let dir = tempdir().keep();
        let pipeline = district(&dir, students.max(schools * 60), schools, seed);
        let on = run(&variant(&pipeline, "on", PACKETS_OFF), &dir.join("reports"));
        let (code, findings) = audit(&on, None);
        prop_assert_eq!((code, findings.len()), (0, 0), "{:#?}", findings);
    });
}

#[test]
fn suppressed_rows_keep_keys_and_hide_values_and_counts() {
    let file = std::fs::File::open(sample_run().join("metrics/baselines.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let hidden = df.lazy().filter(col("suppressed")).collect().unwrap();
    assert!(hidden.height() > 100);
    for c in ["school_id", "group", "window"] {
        assert_eq!(hidden.column(c).unwrap().null_count(), 0);
    }
    for c in ["n", "mean_dfs", "pct_met_standard", "sd_dfs"] {
        assert_eq!(
            hidden.column(c).unwrap().null_count(),
            hidden.height(),
            "{c}"
        );
    }
}
