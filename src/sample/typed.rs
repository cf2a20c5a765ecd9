//! The synthetic district as the validated, canonical tables validation would accept from
//! it (canonical codes, typed columns, file order), without writing and reading extracts.
//! Schools and survey responses are written in canonical form already and share their frames
//! with `write`.
//! `bench` times the metrics stage on these; a test checks they equal what validation
//! makes of the written files.

use super::{District, write};
use crate::canonical::{SchoolYear, Table};
use crate::validate::survey_codes::SurveyCodes;
use polars::prelude::*;
use std::collections::BTreeMap;

fn assessment_id(vendor: &str) -> &'static str {
    if vendor == "SBAC Summative" {
        "sbac_summative"
    } else {
        "sbac_interim"
    }
}

/// Every canonical table of a clean (fault-free) district.
pub fn typed_tables(d: &District) -> PolarsResult<BTreeMap<Table, DataFrame>> {
    let schools = write::schools_frame(d)?;
    let st = &d.students;
    let students = df![
        "student_id" => st.iter().map(|s| s.student_id.as_str()).collect::<Vec<_>>(),
        "school_year" => st.iter().map(|s| SchoolYear(s.year).to_string()).collect::<Vec<_>>(),
        "school_id" => st.iter().map(|s| s.school_id.as_str()).collect::<Vec<_>>(),
        "grade" => st.iter().map(|s| s.grade).collect::<Vec<_>>(),
        "gender" => st.iter().map(|s| s.gender).collect::<Vec<_>>(),
        "race_ethnicity" => st.iter().map(|s| s.race).collect::<Vec<_>>(),
        "el_status" => st.iter().map(|s| s.el).collect::<Vec<_>>(),
        "swd" => st.iter().map(|s| s.swd).collect::<Vec<_>>(),
        "sed" => st.iter().map(|s| s.sed).collect::<Vec<_>>(),
        "foster" => st.iter().map(|s| s.foster).collect::<Vec<_>>(),
        "homeless" => st.iter().map(|s| s.homeless).collect::<Vec<_>>(),
    ]?;
    let sc = &d.scores;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let mut assessments = df![
        "student_id" => sc.iter().map(|r| r.student_id.as_str()).collect::<Vec<_>>(),
        "school_year" => sc.iter().map(|r| SchoolYear(r.year).to_string()).collect::<Vec<_>>(),
        "window" => sc.iter().map(|r| r.window).collect::<Vec<_>>(),
        "assessment" => sc.iter().map(|r| assessment_id(r.assessment)).collect::<Vec<_>>(),
        "subject" => sc.iter().map(|r| r.subject.to_lowercase()).collect::<Vec<_>>(),
        "grade" => sc.iter().map(|r| r.grade).collect::<Vec<_>>(),
        "scale_score" => sc.iter().map(|r| r.score.parse::<i32>().ok()).collect::<Vec<_>>(),
        "school_id" => sc.iter().map(|r| r.school_id.as_str()).collect::<Vec<_>>(),
        "test_date" => sc.iter().map(|r| (r.test_date - epoch).num_days() as i32).collect::<Vec<_>>(),
    ]?;
    assessments.apply("test_date", |c| {
        c.cast(&DataType::Date)
            .expect("days since 1970 cast to dates")
    })?;
    let items = df![
        "item_id" => d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        "construct" => d.items.iter().map(|i| i.construct).collect::<Vec<_>>(),
        "respondent_type" => d.items.iter().map(|i| i.respondent_type).collect::<Vec<_>>(),
        "scale_min" => vec![1i32; d.items.len()],
        "scale_max" => vec![5i32; d.items.len()],
        "favorable_min" => vec![4i32; d.items.len()],
        "reversed" => d.items.iter().map(|i| i.reversed).collect::<Vec<_>>(),
        "text" => d.items.iter().map(|i| i.text.as_str()).collect::<Vec<_>>(),
    ]?;
    let survey = write::survey_frame(d, &d.survey)?;
    let mut tables = BTreeMap::from([
        (Table::Schools, schools),
        (Table::Students, students),
        // In the order validation leaves them.
        (
            Table::Assessments,
            crate::validate::in_score_order(assessments, &Default::default())?,
        ),
        (Table::SurveyItems, items),
    ]);
    // Kept coded, as validation keeps them, with the sample pipeline's windows.
    let windows = super::model::WINDOWS.map(|(w, _)| w.to_string()).to_vec();
    let students = crate::validate::Ids::of(&tables, Default::default())?.students;
    let mut codes = SurveyCodes::with_windows(windows, &tables, &students)?;
    tables.insert(Table::SurveyResponses, codes.encode_frame(survey)?);
    Ok(tables)
}
