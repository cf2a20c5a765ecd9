//! Real extracts: the sample district written in the layouts districts download (the CAASPP
//! Student Score Data File in two years' headers, the CERS interim export, a header-less
//! positional file) reads back to the canonical tables the sample's own tables give, with the
//! rows the files mark as not counted excluded and counted; layout drift is reported exactly.

use crate::util::*;
use equity_gap::canonical::Table;
use equity_gap::sample::layouts::{self, cds, ssid};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// A small clean sample district's canonical tables: six schools, two school years.
fn district() -> &'static BTreeMap<Table, DataFrame> {
    static D: OnceLock<BTreeMap<Table, DataFrame>> = OnceLock::new();
    D.get_or_init(|| {
        let d = equity_gap::sample::generate(
            1_500,
            6,
            2,
            41,
            equity_gap::sample::model::SurveyVolume::Light,
        );
        equity_gap::sample::typed_tables(&d).unwrap()
    })
}

/// The last school year of the district, by the year it starts.
fn last_year() -> i32 {
    district()[&Table::Students]
        .column("school_year")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(|y| y[..4].parse::<i32>().unwrap())
        .max()
        .unwrap()
}

fn header(year: &str) -> Vec<String> {
    fs::read_to_string(fixture(&format!(
        "layouts/caaspp_student_score_{year}.header"
    )))
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect()
}

/// The schools extract with CDS codes.
fn write_schools(dir: &Path) {
    let csv = layouts::schools_csv(&district()[&Table::Schools]).unwrap();
    fs::write(dir.join("schools.csv"), csv).unwrap();
}

const TAIL: &str = r#"
[[windows]]
id = "fall"
share_of_year = 0.2

[[windows]]
id = "winter"
share_of_year = 0.55

[[windows]]
id = "spring"
share_of_year = 1.0

[scales.sbac]
preset = "smarter_balanced"

[assessments.sbac_summative]
scale = "sbac"
windows = ["spring"]

[assessments.sbac_interim]
scale = "sbac"
windows = ["fall", "winter"]
"#;

/// Every column as text (yes/no as Y/N, dates as YYYY-MM-DD), rows sorted, so frames from
/// the sample and from a real layout compare value by value.
fn canonical_text(df: &DataFrame, columns: &[&str]) -> DataFrame {
    let exprs: Vec<Expr> = columns
        .iter()
        .map(|c| {
            let dtype = df.column(c).unwrap().dtype().clone();
            if dtype == DataType::Boolean {
                when(col(*c)).then(lit("Y")).otherwise(lit("N")).alias(*c)
            } else {
                col(*c).cast(DataType::String).alias(*c)
            }
        })
        .collect();
    df.clone()
        .lazy()
        .select(exprs)
        .sort(columns.to_vec(), SortMultipleOptions::default())
        .collect()
        .unwrap()
}

/// The sample's rows of `year` and `assessment` whose student has a students row at the
/// same school that year (what the layouts write), ids as the layouts write them.
fn expected_scores(year: i32, assessment: &str) -> (DataFrame, DataFrame) {
    let y = equity_gap::canonical::SchoolYear(year).to_string();
    let d = district();
    let students = d[&Table::Students]
        .clone()
        .lazy()
        .filter(col("school_year").eq(lit(y.clone())));
    let scores = d[&Table::Assessments]
        .clone()
        .lazy()
        .filter(
            col("school_year")
                .eq(lit(y))
                .and(col("assessment").eq(lit(assessment))),
        )
        .join(
            students
                .clone()
                .select([col("student_id"), col("school_id")]),
            [col("student_id"), col("school_id")],
            [col("student_id"), col("school_id")],
            JoinArgs::new(JoinType::Semi),
        );
    let tested = students.join(
        scores.clone(),
        [col("student_id"), col("school_id")],
        [col("student_id"), col("school_id")],
        JoinArgs::new(JoinType::Semi),
    );
    (
        real_ids(scores.collect().unwrap()),
        real_ids(tested.collect().unwrap()),
    )
}

/// Student and school ids as the layouts write them (10-digit SSIDs, 14-digit CDS codes).
fn real_ids(mut df: DataFrame) -> DataFrame {
    for (name, f) in [
        ("student_id", ssid as fn(&str) -> String),
        ("school_id", cds),
    ] {
        let mapped: StringChunked = df
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(f))
            .collect();
        df.with_column(mapped.with_name(name.into()).into_column())
            .unwrap();
    }
    df
}

const SCORE_COLUMNS: [&str; 9] = [
    "student_id",
    "school_year",
    "window",
    "assessment",
    "subject",
    "grade",
    "scale_score",
    "school_id",
    "test_date",
];
const STUDENT_COLUMNS: [&str; 11] = [
    "student_id",
    "school_year",
    "school_id",
    "grade",
    "gender",
    "race_ethnicity",
    "el_status",
    "swd",
    "sed",
    "foster",
    "homeless",
];

/// A pipeline reading CAASPP score files; the students at testing named, or (`implied`) left
/// for the preset to build.
fn caaspp_pipeline(files: &[&str]) -> String {
    caaspp_pipeline_with(files, false)
}

fn caaspp_pipeline_with(files: &[&str], implied: bool) -> String {
    let students = if implied {
        ""
    } else {
        "[inputs.students]\npreset = \"caaspp_student_score_file\"\n"
    };
    format!(
        r#"name = "caaspp"

[inputs.schools]
path = "schools.csv"

{students}
[inputs.assessments]
preset = "caaspp_student_score_file"
path = [{}]
{TAIL}"#,
        files
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The CAASPP file in the 2022-23 (363 columns) and 2024-25 (401 columns) headers reads back
/// to the sample's spring scores and, at testing, its students (race "not reported" is two or
/// more races in the state's reporting ethnicity, the one thing the layout cannot carry).
#[test]
fn caaspp_score_files_read_back_to_the_sample() {
    for layout in ["2023", "2025"] {
        let dir = tempdir();
        let year = last_year();
        write_schools(dir.path());
        let (bytes, planted) = layouts::caaspp_score_file(
            &header(layout),
            year,
            &district()[&Table::Students],
            &district()[&Table::Assessments],
        )
        .unwrap();
        // Windows-1252, as TOMS writes it: `ñ` is the byte 0xF1.
        assert!(bytes.contains(&0xF1));
        assert!(
            planted.excluded > 0 && planted.disagreeing > 0,
            "{planted:?}"
        );
        let name = "19647330000000_CAASPP_Student_Score_Data_File_TestedStudentScoreData.csv";
        fs::write(dir.path().join(name), &bytes).unwrap();
        // The 2024-25 file's pipeline leaves the students out: the preset builds them.
        fs::write(
            dir.path().join("pipeline.toml"),
            caaspp_pipeline_with(&[name], layout == "2025"),
        )
        .unwrap();
        let v = validate_file(&dir.path().join("pipeline.toml"));

        let (scores, students) = expected_scores(year, "sbac_summative");
        let got = v.text_table(Table::Assessments).unwrap().unwrap();
        assert_eq!(got.height(), scores.height(), "{layout}");
        assert!(
            canonical_text(&got, &SCORE_COLUMNS)
                .equals_missing(&canonical_text(&scores, &SCORE_COLUMNS)),
            "{layout}: scores differ"
        );
        let students = students
            .lazy()
            .with_column(
                when(col("race_ethnicity").eq(lit("NR")))
                    .then(lit("MR"))
                    .otherwise(col("race_ethnicity"))
                    .alias("race_ethnicity"),
            )
            .collect()
            .unwrap();
        let got = v.text_table(Table::Students).unwrap().unwrap();
        assert_eq!(got.height(), students.height(), "{layout}");
        assert!(
            canonical_text(&got, &STUDENT_COLUMNS)
                .equals_missing(&canonical_text(&students, &STUDENT_COLUMNS)),
            "{layout}: students at testing differ"
        );

        // Rows in = accepted + quarantined + excluded, the excluded ones with their reasons.
        let q = v
            .quality
            .tables
            .iter()
            .find(|t| t.table == "assessments")
            .unwrap();
        assert_eq!(q.excluded, planted.excluded);
        assert_eq!(q.quarantined, 0);
        assert_eq!(q.read, q.accepted + q.quarantined + q.excluded);
        assert_eq!(q.excluded_by.values().sum::<usize>(), planted.excluded);
        assert!(
            q.excluded_by
                .keys()
                .any(|k| k.starts_with("IncludeIndicator is not Y"))
        );
        let notes = v.quality.layout_notes.join("\n");
        assert!(
            notes.contains(&format!(
                "for {} of them the tests disagree",
                planted.disagreeing
            )),
            "{notes}"
        );
        let label = if layout == "2023" {
            "2022-23, 363 columns"
        } else {
            "2024-25, 401 columns"
        };
        assert!(notes.contains(label), "{notes}");
    }
}

/// The CERS interim export reads back to the sample's interim scores (windows from the month
/// the test was submitted; IABs and partial tests excluded), and a header-less positional
/// students file in Windows-1252 reads back to the sample's students.
#[test]
fn interim_export_and_positional_students_read_back_to_the_sample() {
    let dir = tempdir();
    let year = last_year();
    write_schools(dir.path());
    let cers: Vec<String> = fs::read_to_string(fixture("layouts/cers_interim_export_64.header"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let (bytes, planted) = layouts::cers_export(
        &cers,
        year,
        &district()[&Table::Students],
        &district()[&Table::Assessments],
    )
    .unwrap();
    fs::write(dir.path().join("interim.csv"), bytes).unwrap();
    fs::write(
        dir.path().join("students.txt"),
        layouts::positional_students(&district()[&Table::Students], year).unwrap(),
    )
    .unwrap();
    fs::write(
        dir.path().join("pipeline.toml"),
        format!(
            "name = \"interim\"\n\n[inputs.schools]\npath = \"schools.csv\"\n{}\n[inputs.assessments]\npreset = \"cers_interim_export\"\npath = \"interim.csv\"\n{TAIL}",
            POSITIONAL_STUDENTS
        ),
    )
    .unwrap();
    let v = validate_file(&dir.path().join("pipeline.toml"));
    let (scores, _) = expected_scores(year, "sbac_interim");
    let scores = scores.drop("test_date").unwrap();
    let cols = &SCORE_COLUMNS[..8];
    let got = v.text_table(Table::Assessments).unwrap().unwrap();
    assert_eq!(got.height(), scores.height());
    assert!(canonical_text(&got, cols).equals_missing(&canonical_text(&scores, cols)));
    let q = v
        .quality
        .tables
        .iter()
        .find(|t| t.table == "assessments")
        .unwrap();
    assert_eq!((q.excluded, q.quarantined), (planted.excluded, 0));

    // The positional file carries every students column but foster and homeless.
    let y = equity_gap::canonical::SchoolYear(year).to_string();
    let students = real_ids(
        district()[&Table::Students]
            .clone()
            .lazy()
            .filter(col("school_year").eq(lit(y)))
            .collect()
            .unwrap(),
    );
    let cols = &STUDENT_COLUMNS[..9];
    let got = v.text_table(Table::Students).unwrap().unwrap();
    assert!(canonical_text(&got, cols).equals_missing(&canonical_text(&students, cols)));
}

/// The students of the example positional layout (`layouts::POSITIONAL_STUDENTS`).
const POSITIONAL_STUDENTS: &str = r#"
[inputs.students]
path = "students.txt"
header = false
delimiter = "^"
encoding = "windows-1252"

[inputs.students.columns]
school_year = 2
school_id = 4
student_id = 5
grade = 6
gender = 7
race_ethnicity = 8
el_status = 9
swd = 10
sed = 11

[inputs.students.codes.race_ethnicity]
"Hispanic or Latino" = "HI"
"Black or African American" = "AA"
"White" = "WH"
"Asian" = "AS"
"Filipino" = "FI"
"Two or More Races" = "MR"
"Native Hawaiian or Pacific Islander" = "PI"
"American Indian or Alaska Native" = "AI"
"Not Reported" = "NR"

[inputs.students.codes.grade]
KN = "K"

[[inputs.students.keep]]
column = 1
values = ["SINF"]
reason = "not a student information record"
"#;

/// Race from yes/blank flag columns, as the state reports it: Hispanic first, then two or
/// more flags are two or more races, then the one flag; no flag is not reported.
#[test]
fn race_from_flags_follows_the_states_precedence() {
    let dir = tempdir();
    fs::write(
        dir.path().join("schools.csv"),
        "school_id,school_name,level,supervisor,triad\n101,A,elementary,S,T\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("tests.csv"),
        "Id,Hisp,Asian,White,Black,Multi,Sed,Score\n\
         1,Yes,,Yes,,,No,2400\n\
         2,,Yes,Yes,,,No,2400\n\
         3,,,,Yes,,No,2400\n\
         4,,,,,,No,2400\n\
         5,,,,,Yes,No,2400\n\
         6,yes,,,,,No,2400\n",
    )
    .unwrap();
    let common = r#"school_year = { value = "2024-25" }
school_id = { value = "101" }
student_id = "Id"
"#;
    fs::write(
        dir.path().join("pipeline.toml"),
        format!(
            r#"name = "flags"
[inputs.schools]
path = "schools.csv"

[inputs.students]
demographics = "at_testing"

[inputs.students.columns]
{common}grade = {{ value = "5" }}
gender = {{ value = "F" }}
race_ethnicity = {{ flags = {{ HI = "Hisp", AS = "Asian", WH = "White", AA = "Black", MR = "Multi" }} }}
el_status = {{ value = "EO" }}
swd = {{ value = "N" }}
sed = "Sed"

[inputs.assessments]
path = "tests.csv"

[inputs.assessments.columns]
{common}window = {{ value = "spring" }}
assessment = {{ value = "sbac_summative" }}
subject = {{ value = "ela" }}
grade = {{ value = "5" }}
scale_score = "Score"
{TAIL}"#
        ),
    )
    .unwrap();
    let v = validate_file(&dir.path().join("pipeline.toml"));
    let s = canonical_text(
        &v.text_table(Table::Students).unwrap().unwrap(),
        &["student_id", "race_ethnicity"],
    );
    assert_eq!(
        strs(&s, "race_ethnicity"),
        ["HI", "MR", "AA", "NR", "MR", "HI"]
    );
}

/// A CAASPP header with a renamed, a missing and an added column: the run stops before
/// anything is computed, naming the missing columns with what they were probably renamed to
/// and the columns no known header has. An added column alone is only noted.
#[test]
fn layout_drift_is_reported_exactly() {
    let dir = tempdir();
    let year = last_year();
    write_schools(dir.path());
    let (bytes, _) = layouts::caaspp_score_file(
        &header("2025"),
        year,
        &district()[&Table::Students],
        &district()[&Table::Assessments],
    )
    .unwrap();
    let text = encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned();
    let (head, body) = text.split_once("\r\n").unwrap();
    let drifted = |f: &Reshape| {
        let names: Vec<String> = head.split('^').map(str::to_string).collect();
        let rows: Vec<Vec<String>> = body
            .lines()
            .map(|l| l.split('^').map(str::to_string).collect())
            .collect();
        let (names, rows) = f(names, rows);
        let mut out = names.join("^") + "\r\n";
        for r in rows {
            out.push_str(&(r.join("^") + "\r\n"));
        }
        encoding_rs::WINDOWS_1252.encode(&out).0.into_owned()
    };
    let name = "scores.csv";
    fs::write(dir.path().join("pipeline.toml"), caaspp_pipeline(&[name])).unwrap();

    // Renamed (`SSID` → `StudentSSID`), missing (`ScaleScore`) and added (`TestLanguage`).
    let bytes = drifted(&|mut names, mut rows| {
        let at = names.iter().position(|n| n == "ScaleScore").unwrap();
        names.remove(at);
        rows.iter_mut().for_each(|r| {
            r.remove(at);
        });
        let ssid = names.iter().position(|n| n == "SSID").unwrap();
        names[ssid] = "StudentSSID".into();
        names.push("TestLanguage".into());
        rows.iter_mut().for_each(|r| r.push("ENG".into()));
        (names, rows)
    });
    fs::write(dir.path().join(name), bytes).unwrap();
    let o = run_in(dir.path(), &["run", "pipeline.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.path().join("reports").exists(), "nothing is published");
    let err: String = stderr(&o)
        .lines()
        .filter(|l| !l.starts_with("equity-gap "))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!("caaspp_header_drift", err);

    // The file as TOMS wrote it, then with an added column: the second run goes on, names
    // the column on the quality page, and says in its output and manifest how the header
    // differs from the one the first run read.
    fs::write(dir.path().join(name), drifted(&|names, rows| (names, rows))).unwrap();
    let o = run_in(dir.path(), &["run", "pipeline.toml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("header differs"), "{}", stderr(&o));
    let bytes = drifted(&|mut names, mut rows| {
        names.push("TestLanguage".into());
        rows.iter_mut().for_each(|r| r.push("ENG".into()));
        (names, rows)
    });
    fs::write(dir.path().join(name), bytes).unwrap();
    let o = run_in(dir.path(), &["run", "pipeline.toml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("assessments `scores.csv`: the header differs from the one run ")
            && said.contains("(401 columns, now 402): added `TestLanguage`"),
        "{said}"
    );
    let run = dir.path().join(stdout(&o).trim());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["header_changes"].as_array().unwrap().len(), 1);
    let quality = fs::read_to_string(run.join("quality.html")).unwrap();
    assert!(
        quality.contains("column no known header has: `TestLanguage`"),
        "{quality}"
    );
    assert!(quality.contains("Excluded by the file"));
}

/// A change to a header and its rows.
type Reshape = dyn Fn(Vec<String>, Vec<Vec<String>>) -> (Vec<String>, Vec<Vec<String>>);

/// A survey item several respondent types answer (or any): one item id, one construct.
#[test]
fn a_survey_item_can_be_shared_by_respondent_types() {
    let dir = tempdir();
    for f in ["schools.csv", "students.csv", "assessments.csv"] {
        fs::copy(fixture(&format!("formats/{f}")), dir.path().join(f)).unwrap();
    }
    fs::write(
        dir.path().join("items.csv"),
        "item_id,construct,respondent_type,scale_min,scale_max,favorable_min\n\
         safe1,safety,student;staff;parent,1,5,4\n\
         safe2,safety,,1,5,4\n\
         belong1,safety,student,1,5,4\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("responses.csv"),
        "respondent_id,respondent_type,school_id,school_year,window,item_id,response\n\
         1001,student,101,2024-25,spring,safe1,5\n\
         T1,staff,101,2024-25,spring,safe1,4\n\
         P1,parent,101,2024-25,spring,safe1,2\n\
         T1,staff,101,2024-25,spring,safe2,3\n\
         P1,parent,101,2024-25,spring,belong1,3\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("pipeline.toml"),
        format!(
            r#"name = "shared"
[inputs.schools]
path = "schools.csv"
[inputs.students]
path = "students.csv"
[inputs.assessments]
path = "assessments.csv"
[inputs.survey_items]
path = "items.csv"
[inputs.survey_responses]
path = "responses.csv"
[survey]
constructs = [{{ id = "safety" }}]
{WINDOWS_AND_SCALES}"#
        ),
    )
    .unwrap();
    let v = validate_file(&dir.path().join("pipeline.toml"));
    let q = v
        .quality
        .tables
        .iter()
        .find(|t| t.table == "survey_responses")
        .unwrap();
    // The parent's answer to a student-only item is the one row refused.
    assert_eq!((q.read, q.accepted, q.quarantined), (5, 4, 1));
    let detail = strs(&v.quarantine, "detail").join("\n");
    assert!(
        detail.contains("item `belong1` belongs to the student survey, not the parent survey"),
        "{detail}"
    );
}

/// The example extracts shipped for the layout presets' example pipelines
/// (`pipelines/caaspp_score_file.toml`, `pipelines/cers_interim.toml`): a small sample district
/// written by `sample::layouts`. This test writes them again and compares every byte, so the
/// shipped files are what the writers make; `EQUITY_GAP_BLESS=1` rewrites them.
#[test]
fn shipped_layout_examples_are_written_from_the_sample() {
    let d = equity_gap::sample::generate(
        400,
        3,
        2,
        2027,
        equity_gap::sample::model::SurveyVolume::Light,
    );
    let t = equity_gap::sample::typed_tables(&d).unwrap();
    let (students, scores) = (&t[&Table::Students], &t[&Table::Assessments]);
    let years: Vec<i32> = {
        let mut y: Vec<i32> = strs(students, "school_year")
            .iter()
            .map(|y| y[..4].parse().unwrap())
            .collect();
        y.sort();
        y.dedup();
        y
    };
    let (first, last) = (years[0], *years.last().unwrap());
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (year, layout) in [(first, "2024"), (last, "2025")] {
        let (bytes, _) =
            layouts::caaspp_score_file(&header(layout), year, students, scores).unwrap();
        files.push((
            format!(
                "19647330000000_CAASPP_Student_Score_Data_File_TestedStudentScoreData_{}.csv",
                year + 1
            ),
            bytes,
        ));
    }
    let cers: Vec<String> = fs::read_to_string(fixture("layouts/cers_interim_export_64.header"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for year in [first, last] {
        let (bytes, _) = layouts::cers_export(&cers, year, students, scores).unwrap();
        files.push((format!("cers_interim_export_{}.csv", year + 1), bytes));
        files.push((
            format!("calpads_students_{}.txt", year + 1),
            layouts::positional_students(students, year).unwrap(),
        ));
    }
    let schools = layouts::schools_csv(&t[&Table::Schools]).unwrap();
    files.push(("schools.csv".into(), schools.into_bytes()));
    let dir = root().join("sample_data/real_layouts");
    let bless = std::env::var("EQUITY_GAP_BLESS").is_ok_and(|v| v == "1");
    if bless {
        fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytes) in files {
        let path = dir.join(&name);
        if bless {
            fs::write(&path, &bytes).unwrap();
        }
        let shipped = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            shipped == bytes,
            "{name} differs from what the writer makes"
        );
    }
}

/// The CAASPP research file beside the school: the state's and the county's all-grades rows
/// of the groups reported are read (`*` is no value, not an error), every other row is
/// excluded with its reason, and the packet and the index show the state's and the county's
/// % met beside the school's and the district's, labelled with the source and year.
#[test]
fn the_states_results_stand_beside_the_schools() {
    let o = run_in(
        &root(),
        &[
            "run",
            "pipelines/caaspp_score_file.toml",
            "--out",
            tempdir().keep().to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = std::path::PathBuf::from(stdout(&o).trim());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(run.join("manifest.json")).unwrap()).unwrap();
    let t = manifest["rows"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "state_results")
        .unwrap();
    // 108 rows: per test, 17 groups for the state, county 19 and county 01, a grade-5 row, a
    // district row and an unreported group; county 01 is another county (filtered by the
    // pipeline), and the last three by the preset.
    assert_eq!(
        (t["read"].as_u64(), t["accepted"].as_u64()),
        (Some(108), Some(68))
    );
    assert_eq!(
        (t["quarantined"].as_u64(), t["excluded"].as_u64()),
        (Some(0), Some(40))
    );
    let why = &t["excluded_by"];
    assert_eq!(why["another county"].as_u64(), Some(34));
    assert_eq!(
        why["one grade's row (the all-grades row, grade 13, is the one compared)"].as_u64(),
        Some(2)
    );
    assert_eq!(
        why["a student group equity-gap does not report"].as_u64(),
        Some(2)
    );

    let packet = fs::read_to_string(run.join("schools/19647330000101/spring/packet.html")).unwrap();
    let at = packet
        .find("Beside the district, the county and the state")
        .unwrap();
    let section = &packet[at..at + 3000];
    assert!(
        section.contains("CAASPP published results, 2025-26"),
        "{section}"
    );
    assert!(section.contains("<th scope=\"col\">County 19</th>"));
    // All students, ELA: the county's 36.0% and the state's 47.12% (shown to one decimal).
    assert!(
        section.contains("<td>36.0%</td><td>47.1%</td></tr>"),
        "{section}"
    );
    // American Indian students: the state suppressed both (`*`), shown as dashes.
    if section.contains("American Indian") {
        assert!(section.contains("<td>–</td><td>–</td>"));
    }
    let index = fs::read_to_string(run.join("index.html")).unwrap();
    let at = index
        .find("<h2>Beside the county and the state</h2>")
        .unwrap();
    let beside = &index[at..];
    assert!(
        beside.contains("<h3>English language arts</h3>"),
        "{beside}"
    );
    assert!(
        beside.contains("<td>36.0%</td><td>47.1%</td></tr>"),
        "{beside}"
    );
    // The PDF says the same.
    let pdf = run.join("schools/19647330000101/spring/packet.pdf");
    let text = std::process::Command::new("pdftotext")
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Beside the district, the county and the state"),
        "{text}"
    );
}
