//! Writing the synthetic district the way district systems export it: vendor column names and
//! codes in the students and assessments extracts (mapped back by the pipeline definition),
//! a pipe-delimited item list, Parquet for the large tables, plus `pipeline.toml` and
//! `truth.json`.

use super::faults::Faults;
use super::model::SurveyVolume;
use super::{
    District, Item, Pattern, SURVEY_WINDOWS, School, ScoreRow, SurveyRow, TrueMean, model,
};
use crate::cli::SampleArgs;
use fs_err as fs;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What was planted, for tests and for anyone checking the metrics.
#[derive(Debug, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub students: usize,
    pub schools: usize,
    pub years: Vec<String>,
    /// Rows written per table (faulty rows included).
    pub rows: BTreeMap<String, usize>,
    pub effects: Effects,
    /// School id -> planted gap pattern for English learners vs everyone else.
    pub patterns: BTreeMap<String, Pattern>,
    /// Each planted trend: which group moves, how much a year, in which years, at a school of
    /// what size, and the flag it should raise.
    pub trends: Vec<super::PlantedTrend>,
    /// Planted yearly change in DFS points behind each pattern.
    pub pattern_shift: f64,
    /// year -> subject -> group -> true spring DFS (no measurement noise) of tested students.
    pub true_spring_dfs: BTreeMap<String, BTreeMap<String, BTreeMap<String, TrueMean>>>,
    /// year -> subject -> grade -> mean true growth since last spring (scale points), for
    /// students tested in both springs.
    pub true_growth: BTreeMap<String, BTreeMap<String, BTreeMap<i32, TrueMean>>>,
    /// Faults planted by `--dirty`.
    pub faults: Option<Faults>,
}

#[derive(Debug, Serialize)]
pub struct Effects {
    pub subjects: [&'static str; 2],
    pub intercept: [f64; 2],
    pub english_learner: [f64; 2],
    pub reclassified: [f64; 2],
    pub swd: [f64; 2],
    pub sed: [f64; 2],
    pub female: [f64; 2],
    pub race: BTreeMap<&'static str, [f64; 2]>,
    pub school_sd: f64,
    pub student_sd: f64,
    pub sem: f64,
    pub growth_sd: f64,
    pub belonging_logit_english_learner: f64,
    pub belonging_logit_african_american: f64,
}

fn race_label(code: &str) -> &str {
    match code {
        "HI" => "Hispanic or Latino",
        "AA" => "Black or African American",
        "WH" => "White",
        "AS" => "Asian",
        "FI" => "Filipino",
        "MR" => "Two or More Races",
        "PI" => "Native Hawaiian or Pacific Islander",
        "AI" => "American Indian or Alaska Native",
        "NR" => "Not Reported",
        other => other,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

/// The schools extract, already in canonical columns and codes.
pub(super) fn schools_frame(d: &District) -> PolarsResult<DataFrame> {
    df![
        "school_id" => d.schools.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "school_name" => d.schools.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        "level" => d.schools.iter().map(|s| s.level).collect::<Vec<_>>(),
        "supervisor" => d.schools.iter().map(|s| s.supervisor.as_str()).collect::<Vec<_>>(),
        "triad" => d.schools.iter().map(|s| s.triad.as_str()).collect::<Vec<_>>(),
    ]
}

/// The survey responses extract, already in canonical columns and codes.
pub(super) fn survey_frame(d: &District, rows: &[SurveyRow]) -> PolarsResult<DataFrame> {
    survey_rows(&d.schools, &d.items, rows)
}

fn survey_rows(schools: &[School], items: &[Item], rows: &[SurveyRow]) -> PolarsResult<DataFrame> {
    let mut years: BTreeMap<i32, String> = BTreeMap::new();
    for r in rows {
        years
            .entry(r.year)
            .or_insert_with(|| crate::canonical::SchoolYear(r.year).to_string());
    }
    df![
        "respondent_id" => rows.iter().map(|r| r.respondent_id(schools)).collect::<Vec<_>>(),
        "respondent_type" => rows.iter().map(|r| r.kind.code()).collect::<Vec<_>>(),
        "school_id" => rows.iter().map(|r| schools[r.school as usize].id.as_str()).collect::<Vec<_>>(),
        "school_year" => rows.iter().map(|r| years[&r.year].as_str()).collect::<Vec<_>>(),
        "window" => rows.iter().map(|r| SURVEY_WINDOWS[r.window as usize]).collect::<Vec<_>>(),
        "item_id" => rows.iter().map(|r| r.item_id(items)).collect::<Vec<_>>(),
        "response" => rows.iter().map(|r| i32::from(r.response)).collect::<Vec<_>>(),
    ]
}

/// An extract written a batch of rows at a time as they are made (CSV or Parquet).
pub struct StreamFile {
    path: PathBuf,
    csv: bool,
    writer: Option<StreamWriter>,
    rows: usize,
    failed: Option<anyhow::Error>,
}

enum StreamWriter {
    Csv(polars::io::csv::write::BatchedWriter<std::io::BufWriter<fs::File>>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<std::io::BufWriter<fs::File>>>),
}

impl StreamFile {
    /// `<name>.csv` or `<name>.parquet` in `dir`.
    pub fn new(dir: &Path, name: &str, csv: bool) -> StreamFile {
        let ext = if csv { "csv" } else { "parquet" };
        StreamFile {
            path: dir.join(format!("{name}.{ext}")),
            csv,
            writer: None,
            rows: 0,
            failed: None,
        }
    }

    /// Survey responses.
    pub fn survey(&mut self, schools: &[School], items: &[Item], rows: &[SurveyRow]) {
        if !rows.is_empty() {
            self.write(|| survey_rows(schools, items, rows));
        }
    }

    /// Assessment scores.
    pub fn scores(&mut self, rows: &[ScoreRow]) {
        if !rows.is_empty() {
            self.write(|| scores_frame(rows));
        }
    }

    /// Add the rows `frame` makes; a failure is kept and reported by [`StreamFile::finish`].
    fn write(&mut self, frame: impl FnOnce() -> PolarsResult<DataFrame>) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.try_write(frame) {
            self.failed = Some(e);
        }
    }

    fn try_write(&mut self, frame: impl FnOnce() -> PolarsResult<DataFrame>) -> anyhow::Result<()> {
        let fail = |e: PolarsError| anyhow::anyhow!("cannot write `{}`: {e}", self.path.display());
        let frame = frame().map_err(fail)?;
        if self.writer.is_none() {
            let file = std::io::BufWriter::new(fs::File::create(&self.path)?);
            let schema = frame.schema().clone();
            self.writer = Some(if self.csv {
                StreamWriter::Csv(
                    CsvWriter::new(file)
                        .include_header(true)
                        .batched(&schema)
                        .map_err(fail)?,
                )
            } else {
                StreamWriter::Parquet(Box::new(
                    ParquetWriter::new(file)
                        .with_compression(ParquetCompression::Zstd(None))
                        .batched(&schema)
                        .map_err(fail)?,
                ))
            });
        }
        match self.writer.as_mut().expect("opened above") {
            StreamWriter::Csv(w) => w.write_batch(&frame),
            StreamWriter::Parquet(w) => w.write_batch(&frame),
        }
        .map_err(fail)?;
        self.rows += frame.height();
        Ok(())
    }

    /// Close the file: the rows written.
    pub fn finish(self) -> anyhow::Result<usize> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let fail = |e: PolarsError| anyhow::anyhow!("cannot write `{}`: {e}", self.path.display());
        match self.writer {
            Some(StreamWriter::Csv(mut w)) => w.finish().map_err(fail)?,
            Some(StreamWriter::Parquet(w)) => {
                w.finish().map_err(fail)?;
            }
            None => anyhow::bail!("no rows to write to `{}`", self.path.display()),
        }
        Ok(self.rows)
    }
}

/// Rows of the extracts written as they were made: (survey responses, scores).
pub struct Streamed {
    pub survey: usize,
    pub scores: usize,
}

/// The assessments extract, in the vendor's columns.
fn scores_frame(sc: &[ScoreRow]) -> PolarsResult<DataFrame> {
    df![
        "SSID" => sc.iter().map(|r| r.student_id.as_str()).collect::<Vec<_>>(),
        "AcademicYear" => sc.iter().map(|r| crate::canonical::SchoolYear(r.year).to_string()).collect::<Vec<_>>(),
        "TestWindow" => sc.iter().map(|r| r.window).collect::<Vec<_>>(),
        "TestName" => sc.iter().map(|r| r.assessment).collect::<Vec<_>>(),
        "Subject" => sc.iter().map(|r| r.subject).collect::<Vec<_>>(),
        "GradeTested" => sc.iter().map(|r| r.grade).collect::<Vec<_>>(),
        "ScaleScore" => sc.iter().map(|r| r.score.as_str()).collect::<Vec<_>>(),
        "SchoolCode" => sc.iter().map(|r| r.school_id.as_str()).collect::<Vec<_>>(),
        "TestDate" => sc.iter().map(|r| r.test_date.format("%m/%d/%Y").to_string()).collect::<Vec<_>>(),
    ]
}

/// Write every extract of `d`, the survey responses and scores too unless they were written as
/// they were made (`streamed`).
pub fn write_all(
    d: &District,
    faults: Option<Faults>,
    args: &SampleArgs,
    streamed: Option<Streamed>,
) -> anyhow::Result<Truth> {
    let out = &args.out;
    fs::create_dir_all(out)?;
    let ext = if args.csv { "csv" } else { "parquet" };

    let mut schools = schools_frame(d)?;
    write_csv(&out.join("schools.csv"), &mut schools, b',')?;

    let st = &d.students;
    let mut students = df![
        "StudentID" => st.iter().map(|s| s.student_id.as_str()).collect::<Vec<_>>(),
        "SchoolYear" => st.iter().map(|s| format!("{}-{}", s.year, s.year + 1)).collect::<Vec<_>>(),
        "SchoolCode" => st.iter().map(|s| s.school_id.as_str()).collect::<Vec<_>>(),
        "Grade" => st.iter().map(|s| if s.grade == "K" { "KN" } else { s.grade }).collect::<Vec<_>>(),
        "Gender" => st.iter().map(|s| s.gender).collect::<Vec<_>>(),
        "Ethnicity" => st.iter().map(|s| race_label(s.race)).collect::<Vec<_>>(),
        "ELStatus" => st.iter().map(|s| s.el).collect::<Vec<_>>(),
        "SpecialEd" => st.iter().map(|s| yes_no(s.swd)).collect::<Vec<_>>(),
        "SocioEconDisadv" => st.iter().map(|s| yes_no(s.sed)).collect::<Vec<_>>(),
        "FosterYouth" => st.iter().map(|s| yes_no(s.foster)).collect::<Vec<_>>(),
        "Homeless" => st.iter().map(|s| yes_no(s.homeless)).collect::<Vec<_>>(),
    ]?;
    write_table(
        &out.join(format!("students.{ext}")),
        &mut students,
        args.csv,
    )?;

    let scores_rows = match &streamed {
        Some(streamed) => streamed.scores,
        None => {
            let mut scores = scores_frame(&d.scores)?;
            write_table(
                &out.join(format!("assessments.{ext}")),
                &mut scores,
                args.csv,
            )?;
            scores.height()
        }
    };

    let mut items = df![
        "item_id" => d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        "construct" => d.items.iter().map(|i| i.construct).collect::<Vec<_>>(),
        "respondent_type" => d.items.iter().map(|i| i.respondent_type).collect::<Vec<_>>(),
        "scale_min" => vec![1i32; d.items.len()],
        "scale_max" => vec![5i32; d.items.len()],
        "favorable_min" => vec![4i32; d.items.len()],
        "reversed" => d.items.iter().map(|i| if i.reversed { "Y" } else { "N" }).collect::<Vec<_>>(),
        "text" => d.items.iter().map(|i| i.text.as_str()).collect::<Vec<_>>(),
    ]?;
    write_csv(&out.join("survey_items.csv"), &mut items, b'|')?;

    let survey_rows = match &streamed {
        Some(streamed) => streamed.survey,
        None => {
            // A chunk of rows turned into text at a time: a district of a million students
            // answers over a hundred million, more than fits in memory as text.
            let mut file = StreamFile::new(out, "survey_responses", args.csv);
            for rows in d.survey.chunks(4_000_000) {
                file.survey(&d.schools, &d.items, rows);
            }
            file.finish()?
        }
    };

    let toml = pipeline_toml("sample", "", ext, None, d.survey_volume);
    fs::write(out.join("pipeline.toml"), toml)?;

    let truth = Truth {
        seed: args.seed,
        students: d.enrolled_first_year,
        schools: d.schools.len(),
        years: d
            .years
            .iter()
            .map(|y| crate::canonical::SchoolYear(*y).to_string())
            .collect(),
        rows: BTreeMap::from([
            ("schools".to_string(), schools.height()),
            ("students".to_string(), students.height()),
            ("assessments".to_string(), scores_rows),
            ("survey_items".to_string(), items.height()),
            ("survey_responses".to_string(), survey_rows),
        ]),
        effects: Effects {
            subjects: ["ela", "math"],
            intercept: model::INTERCEPT,
            english_learner: model::EFFECT_EL,
            reclassified: model::EFFECT_RFEP,
            swd: model::EFFECT_SWD,
            sed: model::EFFECT_SED,
            female: model::EFFECT_FEMALE,
            race: ["AA", "AI", "AS", "FI", "HI", "PI", "WH", "MR", "NR"]
                .into_iter()
                .map(|r| (r, model::race_effect(r)))
                .collect(),
            school_sd: model::SCHOOL_SD,
            student_sd: model::STUDENT_SD,
            sem: model::SEM,
            growth_sd: model::GROWTH_SD,
            belonging_logit_english_learner: model::BELONGING_EFFECT_EL,
            belonging_logit_african_american: model::BELONGING_EFFECT_AA,
        },
        patterns: d
            .schools
            .iter()
            .filter_map(|s| s.pattern.map(|p| (s.id.clone(), p)))
            .collect(),
        trends: super::planted_trends(d),
        pattern_shift: model::PLANTED_SHIFT,
        true_spring_dfs: d.true_means.clone(),
        true_growth: d.true_growth.clone(),
        faults,
    };
    fs::write(out.join("truth.json"), serde_json::to_vec_pretty(&truth)?)?;
    Ok(truth)
}

fn write_table(path: &Path, df: &mut DataFrame, csv: bool) -> anyhow::Result<()> {
    if csv {
        write_csv(path, df, b',')
    } else {
        let file = fs::File::create(path)?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
        Ok(())
    }
}

fn write_csv(path: &Path, df: &mut DataFrame, sep: u8) -> anyhow::Result<()> {
    let mut file = fs::File::create(path)?;
    CsvWriter::new(&mut file)
        .include_header(true)
        .with_separator(sep)
        .finish(df)
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
    Ok(())
}

/// The pipeline definition that reads a sample district written with extension `ext` from
/// `data_dir` (relative to the pipeline file; empty for the same folder).
pub fn pipeline_toml(
    name: &str,
    data_dir: &str,
    ext: &str,
    out_dir: Option<&str>,
    survey: SurveyVolume,
) -> String {
    let out = out_dir.map_or(String::new(), |d| {
        format!(
            "\n[outputs]\n# Runs publish under this folder, relative to this file.\ndir = \"{d}\"\n"
        )
    });
    let constructs: String = survey
        .constructs()
        .iter()
        .map(|c| (c.id, c.label))
        .map(|(id, label)| format!("  {{ id = \"{id}\", label = \"{label}\" }},\n"))
        .collect();
    format!(
        r#"# A synthetic large urban district written by `equity-gap sample`. It reads the extracts
# the way a district exports them: vendor column names and codes, mapped below.
name = "{name}"
district = "Bayview Unified School District (synthetic)"

[inputs.schools]
path = "{data_dir}schools.csv"

[inputs.students]
path = "{data_dir}students.{ext}"

[inputs.students.columns]
student_id = "StudentID"
school_year = "SchoolYear"
school_id = "SchoolCode"
grade = "Grade"
gender = "Gender"
race_ethnicity = "Ethnicity"
el_status = "ELStatus"
swd = "SpecialEd"
sed = "SocioEconDisadv"
foster = "FosterYouth"
homeless = "Homeless"

[inputs.assessments]
path = "{data_dir}assessments.{ext}"

[inputs.assessments.columns]
student_id = "SSID"
school_year = "AcademicYear"
window = "TestWindow"
assessment = "TestName"
subject = "Subject"
grade = "GradeTested"
scale_score = "ScaleScore"
school_id = "SchoolCode"
test_date = "TestDate"

[inputs.survey_items]
path = "{data_dir}survey_items.csv"
delimiter = "|"

[inputs.survey_responses]
path = "{data_dir}survey_responses.{ext}"

[codebook.race_ethnicity]
"Hispanic or Latino" = "HI"
"Black or African American" = "AA"
"White" = "WH"
"Asian" = "AS"
"Filipino" = "FI"
"Two or More Races" = "MR"
"Native Hawaiian or Pacific Islander" = "PI"
"American Indian or Alaska Native" = "AI"
"Not Reported" = "NR"

[codebook.grade]
KN = "K"

[codebook.assessment]
"SBAC Interim" = "sbac_interim"
"SBAC Summative" = "sbac_summative"

[[windows]]
id = "fall"
label = "Fall"
share_of_year = 0.2

[[windows]]
id = "winter"
label = "Winter"
share_of_year = 0.55

[[windows]]
id = "spring"
label = "Spring"
share_of_year = 1.0

[scales.sbac]
label = "Smarter Balanced"
preset = "smarter_balanced"

[assessments.sbac_interim]
scale = "sbac"
label = "Smarter Balanced Interim"
windows = ["fall", "winter"]

[assessments.sbac_summative]
scale = "sbac"
label = "Smarter Balanced Summative (CAASPP)"
windows = ["spring"]

[growth]
years_to_standard = 4

[gaps]
target = {{ fraction = 0.5, years = 3 }}
pairs = [
  {{ focal = "english_learner", reference = "rest" }},
  {{ focal = "swd", reference = "rest" }},
  {{ focal = "sed", reference = "rest" }},
  {{ focal = "african_american", reference = "white" }},
  {{ focal = "hispanic", reference = "white" }},
  {{ focal = "female", reference = "male", target = {{ points = 2 }} }},
]

[survey]
constructs = [
{constructs}]

[dashboard]
enabled = true
{out}"#
    )
}
