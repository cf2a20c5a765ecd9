//! The sample district written in the layouts districts really download: the CAASPP Student
//! Score Data File (caret, Windows-1252, one of the state's yearly headers), the CERS interim
//! export, and a header-less positional students file. Test fixtures and the shipped example
//! pipelines are written from these, so each real layout is checked to read back to the
//! canonical tables the sample's own files give.
//!
//! Ids take the real forms: a student's SSID is the sample id zero-padded to 10 digits, a
//! school's code the 14-digit CDS code `1964733` + the sample id zero-padded to 7 digits.

use polars::prelude::*;
use std::collections::HashMap;

/// The district part of every CDS code the sample writes (county 19, district 64733).
pub const DISTRICT_CODE: &str = "1964733";

/// A sample student id as a 10-digit SSID.
pub fn ssid(id: &str) -> String {
    format!("{id:0>10}")
}

/// A sample school id as a 14-digit CDS code.
pub fn cds(school: &str) -> String {
    format!("{DISTRICT_CODE}{school:0>7}")
}

/// The schools extract with each school by its CDS code (comma-delimited, a header row).
pub fn schools_csv(schools: &DataFrame) -> PolarsResult<String> {
    let cols = ["school_id", "school_name", "level", "supervisor", "triad"];
    let r = Rows::of(schools, &cols)?;
    let mut out = cols.join(",") + "\n";
    for i in 0..schools.height() {
        let get = |c: &str| r.get(c, i).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            cds(get("school_id")),
            get("school_name"),
            get("level"),
            get("supervisor"),
            get("triad")
        ));
    }
    Ok(out)
}

/// Reporting ethnicity codes of the CAASPP file (its 2021-22 layout, field 47).
fn reporting_ethnicity(race: &str) -> &'static str {
    match race {
        "AI" => "100",
        "AS" => "200",
        "PI" => "300",
        "FI" => "400",
        "HI" => "500",
        "AA" => "600",
        "WH" => "700",
        // Two or more races, or none reported in CALPADS.
        _ => "800",
    }
}

/// The yes/no flag columns of race, in the CAASPP file's spelling.
const CAASPP_FLAGS: [(&str, &str); 8] = [
    ("HI", "HispanicorLatino"),
    ("AI", "AmericanIndianorAlaskaNative"),
    ("AS", "Asian"),
    ("PI", "HawaiianOrOtherPacificIslander"),
    ("FI", "Filipino"),
    ("AA", "BlackorAfricanAmerican"),
    ("WH", "White"),
    ("MR", "TwoorMoreRaces"),
];

/// The same flags in the CERS export's spelling.
const CERS_FLAGS: [(&str, &str); 8] = [
    ("HI", "HispanicOrLatinoEthnicity"),
    ("AI", "AmericanIndianOrAlaskaNative"),
    ("AS", "Asian"),
    ("PI", "NativeHawaiianOrOtherPacificIslander"),
    ("FI", "Filipino"),
    ("AA", "BlackOrAfricanAmerican"),
    ("WH", "White"),
    ("MR", "TwoOrMoreRaces"),
];

/// The flags a student of a canonical race code carries: their race, and for two or more
/// races two of them; Hispanic students also carry a race flag, which the state's precedence
/// (Hispanic first) must see past.
fn race_flags(race: &str, n: usize) -> Vec<&'static str> {
    match race {
        "MR" => vec!["AS", "WH"],
        "HI" if n.is_multiple_of(3) => vec!["HI", "WH"],
        "NR" => Vec::new(),
        r => CAASPP_FLAGS
            .iter()
            .find(|(c, _)| *c == r)
            .map(|(c, _)| vec![*c])
            .unwrap_or_default(),
    }
}

fn yes_no(v: Option<&str>) -> &'static str {
    if v == Some("Y") { "Yes" } else { "No" }
}

/// A canonical grade as CALPADS writes it: `KN`, `01`–`12`.
fn calpads_grade(g: &str) -> String {
    match g {
        "K" => "KN".into(),
        "TK" => "TK".into(),
        g => format!("{g:0>2}"),
    }
}

/// Text columns of a frame by name, for row-wise writing.
struct Rows<'a> {
    cols: HashMap<&'a str, &'a StringChunked>,
}

impl<'a> Rows<'a> {
    fn of(df: &'a DataFrame, names: &[&'a str]) -> PolarsResult<Rows<'a>> {
        let mut cols = HashMap::new();
        for n in names {
            cols.insert(*n, df.column(n)?.str()?);
        }
        Ok(Rows { cols })
    }
    fn get(&self, name: &str, i: usize) -> Option<&'a str> {
        self.cols.get(name).and_then(|c| c.get(i))
    }
}

/// One record of a layout: its header's columns, blank unless set.
struct Record<'h> {
    header: &'h [String],
    at: HashMap<String, usize>,
    values: Vec<String>,
}

impl<'h> Record<'h> {
    fn new(header: &'h [String]) -> Record<'h> {
        Record {
            header,
            at: header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.to_lowercase(), i))
                .collect(),
            values: vec![String::new(); header.len()],
        }
    }
    /// Set a column if the header has it (years differ in which they have).
    fn set(&mut self, name: &str, value: impl Into<String>) {
        if let Some(&i) = self.at.get(&name.to_lowercase()) {
            self.values[i] = value.into();
        }
    }
    fn clear(&mut self) {
        self.values.iter_mut().for_each(String::clear);
    }
    fn line(&self, delimiter: char) -> String {
        let _ = self.header;
        let quote = |v: &String| {
            if v.contains(delimiter) || v.contains('"') {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.clone()
            }
        };
        self.values
            .iter()
            .map(quote)
            .collect::<Vec<_>>()
            .join(&delimiter.to_string())
    }
}

/// What a CAASPP score file written from the sample holds beyond its scores.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Planted {
    /// Rows a preset's filters exclude (other tests, results not counted).
    pub excluded: usize,
    /// Students whose tests disagree on a demographic (the earlier test's EL status differs).
    pub disagreeing: usize,
}

/// The CAASPP Student Score Data File of one school year (`year` is the year it starts) in
/// the layout `header`: a row per spring summative score whose student has a students row
/// at the same school that year, with that row's demographics; a CAST row beside every 25th
/// student's scores and a not-counted row (IncludeIndicator `N`) beside every 40th, both to
/// be excluded; every 30th student with two scores has, on the earlier test, another EL
/// status. Encoded in Windows-1252 with CRLF line ends, as TOMS writes it.
pub fn caaspp_score_file(
    header: &[String],
    year: i32,
    students: &DataFrame,
    assessments: &DataFrame,
) -> PolarsResult<(Vec<u8>, Planted)> {
    let spring = joined(students, assessments, year, "sbac_summative")?;
    let r = Rows::of(
        &spring,
        &[
            "student_id",
            "school_id",
            "subject",
            "grade",
            "scale_score",
            "test_date",
            "s_grade",
            "gender",
            "race_ethnicity",
            "el_status",
            "swd",
            "sed",
            "foster",
            "homeless",
        ],
    )?;
    let mut out = vec![header.join("^")];
    let mut rec = Record::new(header);
    let mut planted = Planted::default();
    let mut student_n = 0usize;
    let n = spring.height();
    let mut i = 0;
    while i < n {
        // A student's scores are together (the frame is sorted by student, then date).
        let id = r.get("student_id", i).unwrap_or_default();
        let mut j = i;
        while j < n && r.get("student_id", j) == Some(id) {
            j += 1;
        }
        student_n += 1;
        let disagree = student_n.is_multiple_of(30) && j - i >= 2;
        if disagree {
            planted.disagreeing += 1;
        }
        for k in i..j {
            rec.clear();
            let subject = r.get("subject", k).unwrap_or_default();
            rec.set("RecordType", if subject == "ela" { "01" } else { "02" });
            caaspp_student(&mut rec, &r, k, student_n);
            if disagree && k == i {
                let el = r.get("el_status", k).unwrap_or_default();
                rec.set("ELAS", if el == "EL" { "RFEP" } else { "EL" });
            }
            rec.set(
                "GradeAssessed",
                format!("{:0>2}", r.get("grade", k).unwrap_or_default()),
            );
            rec.set(
                "FinalTestCompletedDate",
                r.get("test_date", k).unwrap_or_default(),
            );
            rec.set("IncludeIndicator", "Y");
            rec.set("Attemptedness", "Y");
            rec.set("ScaleScore", r.get("scale_score", k).unwrap_or_default());
            out.push(rec.line('^'));
        }
        if student_n.is_multiple_of(25) {
            rec.clear();
            rec.set("RecordType", "06");
            caaspp_student(&mut rec, &r, i, student_n);
            rec.set(
                "GradeAssessed",
                format!("{:0>2}", r.get("grade", i).unwrap_or_default()),
            );
            rec.set(
                "FinalTestCompletedDate",
                r.get("test_date", i).unwrap_or_default(),
            );
            rec.set("IncludeIndicator", "Y");
            rec.set("ScaleScore", "205");
            out.push(rec.line('^'));
            planted.excluded += 1;
        }
        if student_n.is_multiple_of(40) {
            rec.clear();
            rec.set("RecordType", "01");
            caaspp_student(&mut rec, &r, i, student_n);
            rec.set(
                "GradeAssessed",
                format!("{:0>2}", r.get("grade", i).unwrap_or_default()),
            );
            rec.set("IncludeIndicator", "N");
            rec.set("ConditionCode", "NT");
            out.push(rec.line('^'));
            planted.excluded += 1;
        }
        i = j;
    }
    let text = out.join("\r\n") + "\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    Ok((bytes.into_owned(), planted))
}

/// The student fields of a CAASPP record.
fn caaspp_student(rec: &mut Record<'_>, r: &Rows<'_>, k: usize, student_n: usize) {
    let id = r.get("student_id", k).unwrap_or_default();
    let school = r.get("school_id", k).unwrap_or_default();
    rec.set("SSID", ssid(id));
    // Names with letters only Windows-1252 has, now and then.
    let (first, last) = match student_n % 7 {
        0 => ("Begoña", "Muñoz"),
        1 => ("José", "Peña"),
        _ => ("Sam", "Lee"),
    };
    rec.set("StudentFirstName", first);
    rec.set("StudentLastName", last);
    rec.set("Gender", r.get("gender", k).unwrap_or_default());
    rec.set(
        "CALPADSGrade",
        calpads_grade(r.get("s_grade", k).unwrap_or_default()),
    );
    rec.set("CALPADSDistrictCode", format!("{DISTRICT_CODE}0000000"));
    rec.set("CALPADSSchoolCode", cds(school));
    rec.set("FinalTestedSchoolCode", cds(school));
    let el = r.get("el_status", k).unwrap_or_default();
    rec.set("ELStatus", if el == "EL" { "Yes" } else { "No" });
    rec.set("ELAS", el);
    let swd = yes_no(r.get("swd", k));
    for name in [
        "CALPADSIDEAIndicator",
        "IDEAIndicatorforTesting",
        "CALPADSSpecialEducation",
        "SpecialEducationforTesting",
    ] {
        rec.set(name, swd);
    }
    let sed = yes_no(r.get("sed", k));
    rec.set("EconomicDisadvantageStatus", sed);
    rec.set("EconomicDisadvantageTesting", sed);
    rec.set("FosterStatus", yes_no(r.get("foster", k)));
    rec.set("HomelessStatus", yes_no(r.get("homeless", k)));
    let race = r.get("race_ethnicity", k).unwrap_or_default();
    let flags = race_flags(race, student_n);
    for (code, name) in CAASPP_FLAGS {
        rec.set(name, if flags.contains(&code) { "Yes" } else { "No" });
    }
    rec.set("ReportingEthnicity", reporting_ethnicity(race));
}

/// Every column as text, yes/no columns as `Y`/`N` (accepted tables hold them as booleans).
fn as_text(df: &DataFrame) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = df
        .columns()
        .iter()
        .map(|c| {
            let name = c.name().clone();
            if c.dtype() == &DataType::Boolean {
                when(col(name.clone()))
                    .then(lit("Y"))
                    .otherwise(lit("N"))
                    .alias(name)
            } else {
                col(name.clone()).cast(DataType::String).alias(name)
            }
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

/// Scores of one assessment and school year joined to the student's row of that year at the
/// same school, sorted by student, test date and subject; the students' grade as `s_grade`.
fn joined(
    students: &DataFrame,
    assessments: &DataFrame,
    year: i32,
    assessment: &str,
) -> PolarsResult<DataFrame> {
    let y = crate::canonical::SchoolYear(year).to_string();
    let (students, assessments) = (&as_text(students)?, &as_text(assessments)?);
    let s = students
        .clone()
        .lazy()
        .filter(col("school_year").eq(lit(y.clone())))
        .select([
            col("student_id"),
            col("school_id"),
            col("grade").alias("s_grade"),
            col("gender"),
            col("race_ethnicity"),
            col("el_status"),
            col("swd"),
            col("sed"),
            col("foster"),
            col("homeless"),
        ]);
    assessments
        .clone()
        .lazy()
        .filter(
            col("school_year")
                .eq(lit(y))
                .and(col("assessment").eq(lit(assessment))),
        )
        .join(
            s,
            [col("student_id"), col("school_id")],
            [col("student_id"), col("school_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .sort(
            ["student_id", "test_date", "subject", "window"],
            SortMultipleOptions::default(),
        )
        .collect()
}

/// The CERS interim export of one school year in `header`'s layout: a row per interim score
/// (as an ICA) with the student's demographics that year, race as yes/blank flags; beside every
/// 20th score an IAB of the same student and every 35th a partial ICA, both to be excluded.
pub fn cers_export(
    header: &[String],
    year: i32,
    students: &DataFrame,
    assessments: &DataFrame,
) -> PolarsResult<(Vec<u8>, Planted)> {
    let interim = joined(students, assessments, year, "sbac_interim")?;
    let r = Rows::of(
        &interim,
        &[
            "student_id",
            "school_id",
            "subject",
            "grade",
            "scale_score",
            "test_date",
            "gender",
            "race_ethnicity",
            "el_status",
            "swd",
        ],
    )?;
    let mut out = vec![header.join(",")];
    let mut rec = Record::new(header);
    let mut planted = Planted::default();
    for k in 0..interim.height() {
        let mut write = |rec: &mut Record<'_>, sub_type: &str, completeness: &str| {
            rec.clear();
            let id = r.get("student_id", k).unwrap_or_default();
            let school = r.get("school_id", k).unwrap_or_default();
            rec.set("DistrictId", DISTRICT_CODE);
            rec.set("DistrictName", "Bayview Unified");
            rec.set("SchoolId", cds(school));
            rec.set("SchoolName", "Sample, School");
            rec.set("StudentIdentifier", ssid(id));
            rec.set("FirstName", "Sam");
            rec.set("LastOrSurname", "Lee");
            rec.set(
                "SubmitDateTime",
                format!("{} 10:15:00", r.get("test_date", k).unwrap_or_default()),
            );
            rec.set("SchoolYear", (year + 1).to_string());
            rec.set("AssessmentType", "Interim");
            rec.set("AssessmentSubType", sub_type);
            let subject = r.get("subject", k).unwrap_or_default();
            rec.set("Subject", if subject == "ela" { "ELA" } else { "Math" });
            rec.set(
                "AssessmentName",
                format!(
                    "Grade {} {} - Interim Comprehensive Assessment (ICA)",
                    r.get("grade", k).unwrap_or_default(),
                    if subject == "ela" { "ELA" } else { "Math" }
                ),
            );
            rec.set(
                "GradeLevelWhenAssessed",
                format!("{:0>2}", r.get("grade", k).unwrap_or_default()),
            );
            rec.set("Completeness", completeness);
            rec.set("ScaleScore", r.get("scale_score", k).unwrap_or_default());
            rec.set("Sex", r.get("gender", k).unwrap_or_default());
            rec.set("IDEAIndicator", yes_no(r.get("swd", k)));
            rec.set(
                "EnglishLanguageAcquisitionStatus",
                r.get("el_status", k).unwrap_or_default(),
            );
            let flags = race_flags(r.get("race_ethnicity", k).unwrap_or_default(), k);
            for (code, name) in CERS_FLAGS {
                // Yes or blank, never No.
                rec.set(name, if flags.contains(&code) { "Yes" } else { "" });
            }
            out.push(rec.line(','));
        };
        write(&mut rec, "ICA", "Complete");
        if k % 20 == 7 {
            write(&mut rec, "IAB", "Complete");
            planted.excluded += 1;
        }
        if k % 35 == 11 {
            write(&mut rec, "ICA", "Partial");
            planted.excluded += 1;
        }
    }
    Ok(((out.join("\r\n") + "\r\n").into_bytes(), planted))
}

/// The fields of the example positional students file, in order (a documented example of a
/// header-less extract, not a CALPADS specification).
pub const POSITIONAL_STUDENTS: [&str; 12] = [
    "record type (SINF)",
    "school year (2024-2025)",
    "district code",
    "school (CDS code)",
    "SSID",
    "grade (KN, 01-12)",
    "gender",
    "race (reporting group name)",
    "EL status",
    "students with disabilities (Y/N)",
    "socioeconomically disadvantaged (Y/N)",
    "last name",
];

/// The students of one school year as a header-less, caret-delimited Windows-1252 file with
/// CRLF line ends, fields as [`POSITIONAL_STUDENTS`].
pub fn positional_students(students: &DataFrame, year: i32) -> PolarsResult<Vec<u8>> {
    let y = crate::canonical::SchoolYear(year).to_string();
    let s = as_text(students)?
        .lazy()
        .filter(col("school_year").eq(lit(y)))
        .sort(["student_id"], SortMultipleOptions::default())
        .collect()?;
    let r = Rows::of(
        &s,
        &[
            "student_id",
            "school_id",
            "grade",
            "gender",
            "race_ethnicity",
            "el_status",
            "swd",
            "sed",
        ],
    )?;
    let mut out = Vec::new();
    for k in 0..s.height() {
        let race = match r.get("race_ethnicity", k).unwrap_or_default() {
            "HI" => "Hispanic or Latino",
            "AA" => "Black or African American",
            "WH" => "White",
            "AS" => "Asian",
            "FI" => "Filipino",
            "PI" => "Native Hawaiian or Pacific Islander",
            "AI" => "American Indian or Alaska Native",
            "MR" => "Two or More Races",
            _ => "Not Reported",
        };
        out.push(
            [
                "SINF".to_string(),
                format!("{year}-{}", year + 1),
                DISTRICT_CODE.to_string(),
                cds(r.get("school_id", k).unwrap_or_default()),
                ssid(r.get("student_id", k).unwrap_or_default()),
                calpads_grade(r.get("grade", k).unwrap_or_default()),
                r.get("gender", k).unwrap_or_default().to_string(),
                race.to_string(),
                r.get("el_status", k).unwrap_or_default().to_string(),
                r.get("swd", k).unwrap_or_default().to_string(),
                r.get("sed", k).unwrap_or_default().to_string(),
                if k % 7 == 0 { "Muñoz" } else { "Lee" }.to_string(),
            ]
            .join("^"),
        );
    }
    let text = out.join("\r\n") + "\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    Ok(bytes.into_owned())
}
