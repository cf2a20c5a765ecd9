//! One tiny fixture per reason code, each producing exactly that code with its file, line,
//! column and raw values; the order in which reasons win; the duplicate tie-breaks.

use crate::util::*;
use equity_gap::canonical::Table;
use equity_gap::validate::Validated;
use std::fs;

const SCHOOLS: &str =
    "school_id,school_name,level,supervisor\n101,Alder Elementary,elementary,Ana Rivera\n";
const STUDENTS: &str = "student_id,school_year,school_id,grade,gender,race_ethnicity,el_status,swd,sed\n\
1001,2024-25,101,3,F,HI,EL,N,Y\n1002,2024-25,101,3,M,WH,EO,N,N\n";
const HEADER: &str =
    "student_id,school_year,window,assessment,subject,grade,scale_score,school_id,test_date\n";
const GOOD: &str = "1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n";

fn district(students: &str, assessments_body: &str, survey: Option<(&str, &str)>) -> Validated {
    let dir = tempdir();
    let d = dir.path();
    fs::write(d.join("schools.csv"), SCHOOLS).unwrap();
    fs::write(d.join("students.csv"), students).unwrap();
    fs::write(
        d.join("assessments.csv"),
        format!("{HEADER}{assessments_body}"),
    )
    .unwrap();
    let mut text = String::from(
        "name = \"fixture\"\n[inputs.schools]\npath = \"schools.csv\"\n[inputs.students]\npath = \"students.csv\"\n[inputs.assessments]\npath = \"assessments.csv\"\n",
    );
    if let Some((items, responses)) = survey {
        fs::write(d.join("items.csv"), items).unwrap();
        fs::write(d.join("responses.csv"), responses).unwrap();
        text.push_str("[inputs.survey_items]\npath = \"items.csv\"\n[inputs.survey_responses]\npath = \"responses.csv\"\n[survey]\nconstructs = [{ id = \"belonging\" }]\n");
    }
    text.push_str(WINDOWS_AND_SCALES);
    fs::write(d.join("pipeline.toml"), text).unwrap();
    validate_file(&d.join("pipeline.toml"))
}

/// (table, line, reason, column) of every quarantined row, in file order.
fn quarantined(v: &Validated) -> Vec<(String, i64, String, Option<String>)> {
    let q = &v.quarantine;
    let s = |c: &str| q.column(c).unwrap().str().unwrap().clone();
    let (t, r, c) = (s("table"), s("reason"), s("column"));
    let l = q.column("line").unwrap().i64().unwrap().clone();
    (0..q.height())
        .map(|i| {
            (
                t.get(i).unwrap().to_string(),
                l.get(i).unwrap(),
                r.get(i).unwrap().to_string(),
                c.get(i).map(str::to_string),
            )
        })
        .collect()
}

fn one(v: &Validated) -> (String, i64, String, Option<String>) {
    let q = quarantined(v);
    assert_eq!(q.len(), 1, "{}", v.quarantine);
    q.into_iter().next().unwrap()
}

fn counts(v: &Validated, table: Table) -> (usize, usize, usize) {
    let q = v
        .quality
        .tables
        .iter()
        .find(|q| q.table == table.name())
        .unwrap();
    (q.read, q.accepted, q.quarantined)
}

fn assessment(row: &str) -> (String, i64, String, Option<String>) {
    let v = district(STUDENTS, &format!("{GOOD}{row}\n"), None);
    assert_eq!(counts(&v, Table::Assessments), (2, 1, 1));
    let (t, line, reason, column) = one(&v);
    assert_eq!((t.as_str(), line), ("assessments", 3));
    (t, line, reason, column)
}

#[test]
fn missing_required() {
    let (.., reason, column) = assessment("1002,2024-25,spring,sbac,ela,3,,101,2025-05-01");
    assert_eq!(
        (reason.as_str(), column.as_deref()),
        ("missing_required", Some("scale_score"))
    );
}

#[test]
fn bad_type() {
    for (row, col) in [
        (
            "1002,2024-25,spring,sbac,ela,3,NS,101,2025-05-01",
            "scale_score",
        ),
        (
            "1002,2024-25,spring,sbac,ela,3,2410.5,101,2025-05-01",
            "scale_score",
        ),
        (
            "1002,2025,spring,sbac,ela,3,2410,101,2025-05-01",
            "school_year",
        ),
        (
            "1002,2024-25,spring,sbac,ela,3,2410,101,2025-13-45",
            "test_date",
        ),
        (
            "1002,2024-25,spring,sbac,ela,third,2410,101,2025-05-01",
            "grade",
        ),
    ] {
        let (.., reason, column) = assessment(row);
        assert_eq!(
            (reason.as_str(), column.as_deref()),
            ("bad_type", Some(col)),
            "{row}"
        );
    }
}

#[test]
fn unknown_code() {
    for (row, col) in [
        (
            "1002,2024-25,summer,sbac,ela,3,2410,101,2025-05-01",
            "window",
        ),
        (
            "1002,2024-25,spring,sbac,science,3,2410,101,2025-05-01",
            "subject",
        ),
        (
            "1002,2024-25,spring,iready,ela,3,2410,101,2025-05-01",
            "assessment",
        ),
        (
            "1002,2024-25,spring,sbac,ela,3,2410,999,2025-05-01",
            "school_id",
        ),
    ] {
        let (.., reason, column) = assessment(row);
        assert_eq!(
            (reason.as_str(), column.as_deref()),
            ("unknown_code", Some(col)),
            "{row}"
        );
    }
    // A students row with an unknown code is quarantined whole.
    let students = format!("{STUDENTS}1003,2024-25,101,3,F,Martian,EO,N,N\n");
    let v = district(&students, GOOD, None);
    assert_eq!(counts(&v, Table::Students), (3, 2, 1));
    assert_eq!(
        one(&v),
        (
            "students".into(),
            4,
            "unknown_code".into(),
            Some("race_ethnicity".into())
        )
    );
}

#[test]
fn out_of_range() {
    for (row, col) in [
        // Below ELA grade 3's lowest obtainable score (2115).
        (
            "1002,2024-25,spring,sbac,ela,3,2000,101,2025-05-01",
            "scale_score",
        ),
        // Above math grade 3's highest (2660).
        (
            "1002,2024-25,spring,sbac,math,3,2661,101,2025-05-01",
            "scale_score",
        ),
        // No cut scores for grade 9.
        (
            "1002,2024-25,spring,sbac,ela,9,2500,101,2025-05-01",
            "grade",
        ),
    ] {
        let (.., reason, column) = assessment(row);
        assert_eq!(
            (reason.as_str(), column.as_deref()),
            ("out_of_range", Some(col)),
            "{row}"
        );
    }
    let students = format!("{STUDENTS}1003,2024-25,101,13,F,HI,EO,N,N\n");
    let v = district(&students, GOOD, None);
    assert_eq!(
        one(&v),
        (
            "students".into(),
            4,
            "out_of_range".into(),
            Some("grade".into())
        )
    );
}

#[test]
fn the_lowest_and_highest_scores_are_accepted() {
    let v = district(
        STUDENTS,
        "1001,2024-25,spring,sbac,ela,3,2115,101,\n1002,2024-25,spring,sbac,ela,3,2650,101,\n",
        None,
    );
    assert_eq!(counts(&v, Table::Assessments), (2, 2, 0));
}

#[test]
fn first_failing_reason_wins() {
    // Blank id (missing_required) beats an out-of-range score and an unknown window.
    let (.., reason, column) = assessment(",2024-25,summer,sbac,ela,3,9999,101,2025-05-01");
    assert_eq!(
        (reason.as_str(), column.as_deref()),
        ("missing_required", Some("student_id"))
    );
    // A bad type beats an unknown code.
    let (.., reason, _) = assessment("1002,2024-25,summer,sbac,ela,3,NS,101,2025-05-01");
    assert_eq!(reason, "bad_type");
    // An unknown code beats out of range.
    let (.., reason, _) = assessment("1002,2024-25,summer,sbac,ela,3,9999,101,2025-05-01");
    assert_eq!(reason, "unknown_code");
}

#[test]
fn duplicates_keep_later_date_then_higher_score_then_first_row() {
    let cases = [
        // (rows, line of the superseded row)
        (
            "1001,2024-25,spring,sbac,ela,3,2500,101,2025-05-03\n1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n",
            3,
        ),
        // A missing date is the earliest.
        (
            "1001,2024-25,spring,sbac,ela,3,2600,101,\n1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n",
            2,
        ),
        // Same date: the higher score stays.
        (
            "1001,2024-25,spring,sbac,ela,3,2400,101,2025-05-01\n1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n",
            2,
        ),
        // Same date and score: the first in the file stays.
        (
            "1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n",
            3,
        ),
    ];
    for (rows, line) in cases {
        let v = district(STUDENTS, rows, None);
        assert_eq!(
            one(&v),
            (
                "assessments".into(),
                line,
                "duplicate_superseded".into(),
                None
            ),
            "{rows}"
        );
        assert_eq!(counts(&v, Table::Assessments), (2, 1, 1));
    }
}

#[test]
fn only_valid_rows_compete_as_duplicates() {
    // The later-dated copy is invalid, so the earlier valid one is kept, not superseded.
    let v = district(
        STUDENTS,
        "1001,2024-25,spring,sbac,ela,3,2410,101,2025-05-01\n1001,2024-25,spring,sbac,ela,3,9999,101,2025-05-09\n",
        None,
    );
    assert_eq!(
        one(&v),
        (
            "assessments".into(),
            3,
            "out_of_range".into(),
            Some("scale_score".into())
        )
    );
}

#[test]
fn quarantined_rows_keep_file_line_and_raw_values() {
    let v = district(
        STUDENTS,
        &format!("{GOOD}1002,2024-25,spring,sbac,ela,3,NS,101,2025-05-01\n"),
        None,
    );
    let q = &v.quarantine;
    let file = strs(q, "source_file")[0].clone();
    assert!(file.ends_with("assessments.csv"), "{file}");
    let raw: serde_json::Value = serde_json::from_str(&strs(q, "raw")[0]).unwrap();
    assert_eq!(raw["scale_score"], "NS");
    assert_eq!(raw["student_id"], "1002");
    assert_eq!(raw["test_date"], "2025-05-01");
    let detail = strs(q, "detail")[0].clone();
    assert_eq!(detail, "`scale_score` value `NS` is not a whole number");
}

#[test]
fn survey_rows_are_checked_against_their_item() {
    let items = "item_id,construct,respondent_type,scale_min,scale_max,favorable_min,reversed\nB1,belonging,student,1,5,4,N\nB2,belonging,student,1,5,4,Y\n";
    let responses = "respondent_id,respondent_type,school_id,school_year,window,item_id,response\n\
1001,student,101,2024-25,spring,B1,4\n\
1001,student,101,2024-25,spring,B2,6\n\
1002,student,101,2024-25,spring,B9,3\n\
1002,staff,101,2024-25,spring,B1,3\n\
1002,student,101,2024-25,spring,B1,2\n\
1002,student,101,2024-25,spring,B1,5\n";
    let v = district(STUDENTS, GOOD, Some((items, responses)));
    let got: Vec<(i64, String, Option<String>)> = quarantined(&v)
        .into_iter()
        .map(|(_, l, r, c)| (l, r, c))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "out_of_range".into(), Some("response".into())),
            (4, "unknown_code".into(), Some("item_id".into())),
            (5, "unknown_code".into(), Some("item_id".into())),
            // Survey duplicates keep the later row in the file.
            (6, "duplicate_superseded".into(), None),
        ]
    );
    assert_eq!(counts(&v, Table::SurveyResponses), (6, 2, 4));
    let kept = v.survey.clone().unwrap().parts.into_frame().unwrap();
    let responses: Vec<i32> = kept
        .column("response")
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(responses, [4, 5]);
}

#[test]
fn codebooks_and_case_map_vendor_codes() {
    let dir = tempdir();
    let d = dir.path();
    fs::write(d.join("schools.csv"), SCHOOLS).unwrap();
    fs::write(
        d.join("students.csv"),
        "SSID;Year;School;Gr;Sex;Eth;ELA Status;IEP;SED\n\
         1001;2024-2025;101;KN;f;Hispanic or Latino;el;Yes;1\n\
         1002;2024-25;101;05;M;White;RFEP;No;false\n",
    )
    .unwrap();
    fs::write(d.join("assessments.csv"), format!("{HEADER}{GOOD}")).unwrap();
    let text = format!(
        r#"name = "codes"
[inputs.schools]
path = "schools.csv"
[inputs.students]
path = "students.csv"
delimiter = ";"
columns = {{ student_id = "SSID", school_year = "Year", school_id = "School", grade = "Gr", gender = "Sex", race_ethnicity = "Eth", el_status = "ELA Status", swd = "IEP", sed = "SED" }}
[inputs.assessments]
path = "assessments.csv"
[codebook.race_ethnicity]
"Hispanic or Latino" = "HI"
"White" = "WH"
[codebook.grade]
KN = "K"
{WINDOWS_AND_SCALES}"#
    );
    fs::write(d.join("pipeline.toml"), text).unwrap();
    let v = validate_file(&d.join("pipeline.toml"));
    assert_eq!(v.quarantine.height(), 0, "{}", v.quarantine);
    let s = &v.text_table(Table::Students).unwrap().unwrap();
    let col_str = |c: &str| strs(s, c);
    assert_eq!(col_str("school_year"), ["2024-25", "2024-25"]);
    assert_eq!(col_str("grade"), ["K", "5"]);
    assert_eq!(col_str("gender"), ["F", "M"]);
    assert_eq!(col_str("race_ethnicity"), ["HI", "WH"]);
    assert_eq!(col_str("el_status"), ["EL", "RFEP"]);
    let swd: Vec<bool> = s
        .column("swd")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let sed: Vec<bool> = s
        .column("sed")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!((swd, sed), (vec![true, false], vec![true, false]));
    assert_eq!(
        s.column("foster").unwrap().null_count(),
        2,
        "an absent optional column is null"
    );
}
