//! The synthetic district: realistic shapes, reproducible from its seed, and with `--dirty`
//! exactly the planted faults in quarantine (rows read = accepted + quarantined).

use crate::util::*;
use equity_gap::canonical::Table;
use equity_gap::cli::SampleArgs;
use equity_gap::sample::model::SurveyVolume;
use polars::prelude::*;
use std::path::Path;

fn sample(
    out: &Path,
    students: usize,
    schools: usize,
    years: usize,
    dirty: bool,
) -> serde_json::Value {
    equity_gap::sample::write(&SampleArgs {
        students,
        schools,
        years,
        seed: 11,
        out: out.to_path_buf(),
        dirty,
        csv: true,
        survey: SurveyVolume::Light,
    })
    .unwrap();
    serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap()
}

#[test]
fn dirty_district_quarantines_exactly_the_planted_faults() {
    let dir = tempdir();
    let truth = sample(dir.path(), 4000, 12, 2, true);
    let v = validate_file(&dir.path().join("pipeline.toml"));
    let faults = &truth["faults"];
    for q in &v.quality.tables {
        assert_eq!(q.read, q.accepted + q.quarantined, "{}", q.table);
        assert_eq!(
            q.read as u64,
            truth["rows"][&q.table].as_u64().unwrap(),
            "rows read in {}",
            q.table
        );
        let planted: std::collections::BTreeMap<String, usize> = faults["quarantined"]
            .get(&q.table)
            .map(|m| serde_json::from_value(m.clone()).unwrap())
            .unwrap_or_default();
        assert_eq!(q.by_reason, planted, "quarantine reasons in {}", q.table);
    }
    for reason in [
        "missing_required",
        "bad_type",
        "unknown_code",
        "out_of_range",
        "duplicate_superseded",
    ] {
        assert!(
            v.quality
                .tables
                .iter()
                .any(|t| t.by_reason.contains_key(reason)),
            "the dirty district plants {reason}"
        );
    }
    assert_eq!(
        v.quality.students_without_demographics as u64,
        faults["students_without_demographics"].as_u64().unwrap()
    );
    assert_eq!(
        v.quality.scores_without_demographics as u64,
        faults["scores_without_demographics"].as_u64().unwrap()
    );
    assert!(v.quality.students_without_demographics > 0);
}

#[test]
fn clean_district_is_realistic_and_fully_valid() {
    let dir = tempdir();
    let truth = sample(dir.path(), 6000, 15, 3, false);
    let v = validate_file(&dir.path().join("pipeline.toml"));
    assert_eq!(v.quarantine.height(), 0, "{}", v.quarantine);
    assert_eq!(v.quality.students_without_demographics, 0);

    let students = &v.text_table(Table::Students).unwrap().unwrap();
    let first = students
        .clone()
        .lazy()
        .filter(col("school_year").eq(lit("2023-24")))
        .collect()
        .unwrap();
    assert_eq!(first.height(), 6000);
    let share = |expr: Expr| -> f64 {
        let df = first
            .clone()
            .lazy()
            .select([expr.cast(DataType::Float64).mean()])
            .collect()
            .unwrap();
        df.column(df.get_column_names()[0].as_str())
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap()
    };
    // PRODUCT.md's district: 57% Latino, 13% African American, 13% White, 7% Asian,
    // 20% English learners, 69% socioeconomically disadvantaged, 12.5% with disabilities.
    let checks = [
        (
            "hispanic",
            share(col("race_ethnicity").eq(lit("HI"))),
            0.57,
            0.04,
        ),
        (
            "african american",
            share(col("race_ethnicity").eq(lit("AA"))),
            0.13,
            0.03,
        ),
        (
            "white",
            share(col("race_ethnicity").eq(lit("WH"))),
            0.13,
            0.03,
        ),
        (
            "asian",
            share(col("race_ethnicity").eq(lit("AS"))),
            0.07,
            0.02,
        ),
        (
            "english learners",
            share(col("el_status").eq(lit("EL"))),
            0.20,
            0.04,
        ),
        ("sed", share(col("sed")), 0.69, 0.05),
        ("swd", share(col("swd")), 0.125, 0.02),
    ];
    for (what, got, want, tol) in checks {
        assert!((got - want).abs() <= tol, "{what}: {got:.3} vs {want}");
    }

    // Students are followed across years and advance a grade.
    let joined = students
        .clone()
        .lazy()
        .filter(
            col("school_year")
                .eq(lit("2023-24"))
                .and(col("grade").eq(lit("4"))),
        )
        .join(
            students
                .clone()
                .lazy()
                .filter(col("school_year").eq(lit("2024-25"))),
            [col("student_id")],
            [col("student_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .collect()
        .unwrap();
    let next = strs(&joined, "grade_right");
    assert!(
        next.len() > 300,
        "most fourth graders return: {}",
        next.len()
    );
    assert!(next.iter().all(|g| *g == "5"));

    // Three windows of ELA and math in tested grades, summative only in spring.
    let scores = &v.text_table(Table::Assessments).unwrap().unwrap();
    let by = scores
        .clone()
        .lazy()
        .group_by([col("window"), col("assessment")])
        .agg([len().alias("n")])
        .sort(["window"], Default::default())
        .collect()
        .unwrap();
    let windows = strs(&by, "window");
    let assessments = strs(&by, "assessment");
    assert_eq!(windows, ["fall", "spring", "winter"]);
    assert_eq!(
        assessments,
        ["sbac_interim", "sbac_summative", "sbac_interim"]
    );
    let grades: Vec<i32> = scores
        .column("grade")
        .unwrap()
        .unique_stable()
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .flatten()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(grades, [3, 4, 5, 6, 7, 8, 11]);
    assert_eq!(truth["patterns"].as_object().unwrap().len(), 3);
}

#[test]
fn the_same_seed_writes_the_same_district() {
    let (a, b) = (tempdir(), tempdir());
    sample(a.path(), 500, 5, 2, true);
    sample(b.path(), 500, 5, 2, true);
    for f in [
        "schools.csv",
        "students.csv",
        "assessments.csv",
        "survey_responses.csv",
        "truth.json",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn the_cli_writes_a_district_its_pipeline_runs_on() {
    let dir = tempdir();
    let out = dir.path().join("district");
    let o = run_in(
        dir.path(),
        &[
            "sample",
            "--students",
            "600",
            "--schools",
            "6",
            "--years",
            "2",
            "--out",
            "district",
            "--dirty",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("assessments.parquet").exists());
    let o = run_in(
        dir.path(),
        &["run", "district/pipeline.toml", "--out", "published"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("duplicate_superseded"), "{err}");
    assert!(
        err.contains("students have scores but no students row"),
        "{err}"
    );
}

#[test]
fn the_shipped_sample_data_is_what_its_readme_command_writes() {
    // sample_data/README.md: --students 74000 --schools 85 --years 4 --seed 2026 --dirty
    // --survey light
    let dir = tempdir();
    equity_gap::sample::write(&SampleArgs {
        students: 74_000,
        schools: 85,
        years: 4,
        seed: 2026,
        out: dir.path().to_path_buf(),
        dirty: true,
        csv: false,
        survey: SurveyVolume::Light,
    })
    .unwrap();
    let shipped = root().join("sample_data");
    for f in ["schools.csv", "survey_items.csv", "truth.json"] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(shipped.join(f)).unwrap(),
            "{f}"
        );
    }
    for f in [
        "students.parquet",
        "assessments.parquet",
        "survey_responses.parquet",
    ] {
        let read = |p: std::path::PathBuf| {
            ParquetReader::new(std::fs::File::open(p).unwrap())
                .finish()
                .unwrap()
        };
        assert!(
            read(dir.path().join(f)).equals_missing(&read(shipped.join(f))),
            "{f}"
        );
    }
}
