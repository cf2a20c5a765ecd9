//! The metrics stage end to end: planted effects of a generated district recovered within
//! tolerances derived from the generator's design, the district roll-up equal to a
//! recomputation from student rows (property test), duplicates resolved before computing,
//! and the published tables' columns and order as METRICS.md states them.

use crate::util::*;
use equity_gap::canonical::Table;
use equity_gap::metrics::{self, Metrics};
use equity_gap::pipeline::{self, Plan};
use equity_gap::sample::model::SurveyVolume;
use equity_gap::sample::{self, District, model};
use polars::prelude::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

fn sample_plan() -> Plan {
    let toml = sample::pipeline_toml("t", "", "parquet", None, SurveyVolume::Light);
    pipeline::from_text(&toml, Path::new("/t/pipeline.toml"), String::new()).unwrap()
}

/// The value of `column` in the one row matching `filters`.
fn value(df: &DataFrame, filters: &[(&str, &str)], column: &str) -> Option<f64> {
    let mut lf = df.clone().lazy();
    for (c, v) in filters {
        lf = lf.filter(col(*c).eq(lit(*v)));
    }
    let hit = lf.collect().unwrap();
    assert_eq!(hit.height(), 1, "one row for {filters:?}:\n{hit}");
    hit.column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
}

struct Recovery {
    district: District,
    metrics: Metrics,
}

/// One generated 20,000-student district, shared by the recovery tests.
fn recovery() -> &'static Recovery {
    static DISTRICT: std::sync::OnceLock<Recovery> = std::sync::OnceLock::new();
    DISTRICT.get_or_init(|| {
        let district = sample::generate(20_000, 24, 3, 5, SurveyVolume::Light);
        let tables = sample::typed_tables(&district).unwrap();
        let metrics = metrics::compute(&sample_plan(), &tables).unwrap();
        Recovery { district, metrics }
    })
}

/// District spring means and gaps against the noise-free truth.
///
/// A measured group mean differs from its true mean by (a) the 4% of students who missed the
/// test and (b) measurement noise. With s the group's measured SD of DFS (true spread plus
/// noise, so an upper bound on the true spread), n of N students tested and SEM = 22:
/// SE ≤ sqrt(s²·(1/n − 1/N) + (SEM² + 1/12)/n), the 1/12 for rounding scores to whole
/// points. Every check allows 4 SE (a two-sided 6-in-100,000 chance for each).
#[test]
fn planted_district_gaps_are_recovered() {
    let r = recovery();
    let baselines = r.metrics.table("baselines").unwrap();
    let gaps = r.metrics.table("gaps").unwrap();
    let sem2 = model::SEM * model::SEM + 1.0 / 12.0;
    let mut checked = 0;
    for (year, subjects) in &r.district.true_means {
        for (subject, groups) in subjects {
            let cell = |group: &str| {
                let key = [
                    ("school_id", "district"),
                    ("school_year", year.as_str()),
                    ("window", "spring"),
                    ("subject", subject.as_str()),
                    ("group", group),
                ];
                let mean = value(baselines, &key, "mean_dfs").unwrap();
                let sd = value(baselines, &key, "sd_dfs").unwrap();
                let n = value(baselines, &key, "n").unwrap();
                (mean, sd, n)
            };
            let se =
                |sd: f64, n: f64, big_n: f64| (sd * sd * (1.0 / n - 1.0 / big_n) + sem2 / n).sqrt();
            for group in [
                "all",
                "english_learner",
                "african_american",
                "white",
                "swd",
                "sed",
            ] {
                let truth = &groups[group];
                let (mean, sd, n) = cell(group);
                assert!(n <= truth.n as f64 && n > 0.9 * truth.n as f64);
                let tolerance = 4.0 * se(sd, n, truth.n as f64);
                assert!(
                    (mean - truth.mean_dfs).abs() <= tolerance,
                    "{year} {subject} {group}: measured {mean:.2}, planted {:.2}, tolerance {tolerance:.2}",
                    truth.mean_dfs
                );
                checked += 1;
            }
            // EL vs rest: the truth's `not_english_learner` is exactly `rest`.
            let gap_row = [
                ("school_id", "district"),
                ("school_year", year.as_str()),
                ("window", "spring"),
                ("subject", subject.as_str()),
                ("metric", "mean_dfs"),
                ("focal_group", "english_learner"),
            ];
            let gap = value(gaps, &gap_row, "gap").unwrap();
            let (el, rest) = (&groups["english_learner"], &groups["not_english_learner"]);
            let true_gap = rest.mean_dfs - el.mean_dfs;
            let (_, sd_el, n_el) = cell("english_learner");
            let n_rest = value(gaps, &gap_row, "n_reference").unwrap();
            // The rest's spread is at most the whole district's.
            let (_, sd_all, _) = cell("all");
            let tolerance = 4.0
                * (se(sd_el, n_el, el.n as f64).powi(2)
                    + se(sd_all, n_rest, rest.n as f64).powi(2))
                .sqrt();
            assert!(
                (gap - true_gap).abs() <= tolerance,
                "{year} {subject} EL gap: measured {gap:.2}, planted {true_gap:.2}, tolerance {tolerance:.2}"
            );
            // The planted EL effect is large: the gap is far from zero and distinguishable.
            assert!(gap > 30.0, "{year} {subject} EL gap {gap:.1}");
            assert_eq!(value(gaps, &gap_row, "distinguishable"), Some(1.0));
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * 2 * 7);
}

/// District spring growth against the truth's mean true growth of students tested in both
/// springs (grades 4–8). The measured mean covers the ~92% tested both times; each growth
/// carries the noise of two scores (2·SEM²). True growth varies by grade (keep-pace steps of
/// 15–41 points), by student (GROWTH_SD = 15) and by planted pattern (±15 at a few schools):
/// its SD is below 25. SE ≤ sqrt(25²·(1/n − 1/N) + 2·(SEM² + 1/12)/n); tolerance 4 SE.
#[test]
fn planted_growth_is_recovered() {
    let r = recovery();
    let growth = r.metrics.table("growth").unwrap();
    let noise = 2.0 * (model::SEM * model::SEM + 1.0 / 12.0);
    let mut checked = 0;
    for (year, subjects) in &r.district.true_growth {
        for (subject, grades) in subjects {
            let big_n: usize = grades.values().map(|g| g.n).sum();
            if big_n == 0 {
                continue;
            }
            let truth = grades
                .values()
                .map(|g| g.n as f64 * g.mean_dfs)
                .sum::<f64>()
                / big_n as f64;
            let key = [
                ("school_id", "district"),
                ("school_year", year.as_str()),
                ("window", "spring"),
                ("subject", subject.as_str()),
                ("group", "all"),
            ];
            let n = value(growth, &key, "n_with_baseline").unwrap();
            let mean = value(growth, &key, "mean_growth").unwrap();
            assert!(
                n <= big_n as f64 && n > 0.85 * big_n as f64,
                "{year} {subject}: n {n}"
            );
            let se = (25.0f64.powi(2) * (1.0 / n - 1.0 / big_n as f64) + noise / n).sqrt();
            assert!(
                (mean - truth).abs() <= 4.0 * se,
                "{year} {subject}: measured growth {mean:.2}, planted {truth:.2}, tolerance {:.2}",
                4.0 * se
            );
            // Winter sits 0.55 of the way: its mean growth since last spring is about 0.55 of
            // the year's (the same students, give or take participation).
            let winter = value(
                growth,
                &[
                    ("school_id", "district"),
                    ("school_year", year.as_str()),
                    ("window", "winter"),
                    ("subject", subject.as_str()),
                    ("group", "all"),
                ],
                "mean_growth",
            )
            .unwrap();
            assert!(
                (winter - 0.55 * truth).abs() <= 4.0 * se + 2.0,
                "{year} {subject}: winter growth {winter:.2} vs 0.55 × {truth:.2}"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        2 * 2,
        "two years have a baseline, two subjects each"
    );
}

/// The planted belonging effect for English learners (−0.4 on the logit) shows as a lower
/// share of favorable answers than the whole district's.
#[test]
fn planted_survey_effect_is_recovered() {
    let r = recovery();
    let survey = r.metrics.table("survey").unwrap();
    for year in ["2024-25", "2025-26"] {
        let pct = |group: &str| {
            value(
                survey,
                &[
                    ("school_id", "district"),
                    ("school_year", year),
                    ("window", "spring"),
                    ("respondent_type", "student"),
                    ("construct", "sense_of_belonging"),
                    ("group", group),
                ],
                "pct_favorable",
            )
            .unwrap()
        };
        assert!(
            pct("english_learner") < pct("all") - 3.0,
            "{year}: EL {:.1} vs all {:.1}",
            pct("english_learner"),
            pct("all")
        );
    }
}

/// What validation makes of a written clean district is exactly `typed_tables`, so `bench`
/// measures the metrics stage on the tables a real run would give it.
#[test]
fn typed_tables_equal_what_validation_accepts() {
    let dir = tempdir();
    let args = equity_gap::cli::SampleArgs {
        students: 1500,
        schools: 6,
        years: 2,
        seed: 3,
        out: dir.path().to_path_buf(),
        dirty: false,
        csv: false,
        survey: SurveyVolume::Light,
    };
    equity_gap::sample::write(&args).unwrap();
    let validated = validate_file(&dir.path().join("pipeline.toml"));
    let typed =
        sample::typed_tables(&sample::generate(1500, 6, 2, 3, SurveyVolume::Light)).unwrap();
    for (table, df) in &typed {
        let v = match table {
            Table::SurveyResponses => {
                let survey = validated.survey.clone().unwrap();
                assert_eq!(survey.parts.len(), 1);
                survey.parts.into_frame().unwrap()
            }
            _ => validated.text_table(*table).unwrap().unwrap(),
        };
        assert!(v.equals_missing(df), "{table}:\n{v}\n{df}");
    }
    // Every table but the state's published results, which the sample does not write.
    assert_eq!(typed.len(), Table::ALL.len() - 1);
    assert!(!typed.contains_key(&Table::StateResults));
}

/// Duplicate scores are resolved before computing: the later test date wins.
#[test]
fn metrics_use_the_winning_duplicate() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("schools.csv"),
        "school_id,school_name,level,supervisor\nS1,One,elementary,Lee\n",
    )
    .unwrap();
    let mut students = String::from(
        "student_id,school_year,school_id,grade,gender,race_ethnicity,el_status,swd,sed\n",
    );
    let mut scores = String::from(
        "student_id,school_year,window,assessment,subject,grade,scale_score,school_id,test_date\n",
    );
    for i in 0..12 {
        students.push_str(&format!("s{i},2025-26,S1,5,F,HI,EO,N,N\n"));
        scores.push_str(&format!(
            "s{i},2025-26,spring,sbac,ela,5,2502,S1,2026-04-20\n"
        ));
    }
    // s0 retested: the later date (2520) wins over the earlier (2600) and the earlier-listed.
    scores.push_str("s0,2025-26,spring,sbac,ela,5,2600,S1,2026-04-10\n");
    scores.push_str("s0,2025-26,spring,sbac,ela,5,2520,S1,2026-05-01\n");
    std::fs::write(d.join("students.csv"), students).unwrap();
    std::fs::write(d.join("assessments.csv"), scores).unwrap();
    std::fs::write(
        d.join("pipeline.toml"),
        format!(
            "name = \"dup\"\n[inputs.schools]\npath = \"schools.csv\"\n[inputs.students]\npath = \"students.csv\"\n[inputs.assessments]\npath = \"assessments.csv\"\n{WINDOWS_AND_SCALES}\n[validation]\nmax_reject_pct = 50\n"
        ),
    )
    .unwrap();
    let out = run_in(d, &["run", "pipeline.toml", "--out", "reports"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = d.join(stdout(&out).trim());
    let baselines = read_parquet(&run.join("metrics/baselines.parquet"));
    let key = [("school_id", "S1"), ("group", "all")];
    assert_eq!(value(&baselines, &key, "n"), Some(12.0));
    // Eleven at dfs 0 and s0 at +18.
    assert_eq!(value(&baselines, &key, "mean_dfs"), Some(18.0 / 12.0));
    assert!(
        stderr(&out).contains("baselines"),
        "the summary lists table sizes"
    );
}

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().unwrap()
}

/// The contract's columns, copied from METRICS.md.
const CONTRACT: [(&str, &str); 7] = [
    (
        "baselines",
        "school_id, school_year, window, assessment, subject, group, n, mean_scale_score, mean_dfs, sd_dfs, pct_below, pct_near, pct_at, pct_above, pct_met_standard, suppressed",
    ),
    (
        "student_growth",
        "student_id, school_id, school_year, window, assessment, subject, grade, baseline_score, annual_target, window_target, scale_score, growth, met_target",
    ),
    (
        "growth",
        "school_id, school_year, window, assessment, subject, group, n_with_baseline, n_without_baseline, mean_growth, median_growth, pct_met_growth_target, suppressed",
    ),
    (
        "gaps",
        "school_id, school_year, window, assessment, subject, metric, focal_group, reference_group, n_focal, n_reference, focal_value, reference_value, gap, se, ci_low, ci_high, distinguishable, gap_sd, baseline_gap, gap_change, change_se, change_distinguishable, closure_pct, focal_change, reference_change, target_gap, on_track, suppressed",
    ),
    (
        "survey",
        "school_id, school_year, window, respondent_type, construct, group, n_respondents, n_responses, pct_favorable, suppressed",
    ),
    (
        "dashboard",
        "school_id, school_year, assessment, subject, group, n, prior_n, status, prior_status, change, status_level, change_level, color, suppressed",
    ),
    (
        "flags",
        "school_id, school_year, window, subject, flag, focal_group, reference_group, value, reason",
    ),
];

/// The shipped sample publishes every table with the contract's columns, sorted by its keys
/// in text order, and no unsuppressed row below min_n_display.
#[test]
fn sample_run_publishes_the_contract_tables() {
    let run = crate::util::sample_run();
    for (table, columns) in CONTRACT {
        let df = read_parquet(&run.join(format!("metrics/{table}.parquet")));
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(names.join(", "), columns, "{table} columns");
        assert!(df.height() > 0, "{table} has rows");
        let keys = metrics::keys(table);
        let sorted = df
            .sort(
                keys.to_vec(),
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .unwrap();
        assert!(sorted.equals_missing(&df), "{table} is sorted by {keys:?}");
        // Text order: fall < spring < winter.
        if ["baselines", "growth", "gaps"].contains(&table) {
            let first_school_year = df
                .clone()
                .lazy()
                .filter(
                    col("school_id")
                        .eq(lit(strs(&df, "school_id")[0].as_str()))
                        .and(col("school_year").eq(lit(strs(&df, "school_year")[0].as_str()))),
                )
                .collect()
                .unwrap();
            let mut windows = strs(&first_school_year, "window");
            windows.dedup();
            assert_eq!(windows, ["fall", "spring", "winter"], "{table}");
        }
    }
    // Nothing unsuppressed comes from fewer than 11 students.
    for (table, n) in [
        ("baselines", "n"),
        ("growth", "n_with_baseline"),
        ("survey", "n_respondents"),
        ("dashboard", "n"),
        ("gaps", "n_focal"),
        ("gaps", "n_reference"),
    ] {
        let df = read_parquet(&run.join(format!("metrics/{table}.parquet")));
        let small = df
            .lazy()
            .filter(col("suppressed").not().and(col(n).lt(lit(11))))
            .collect()
            .unwrap();
        assert_eq!(small.height(), 0, "{table}.{n}:\n{small}");
    }
}

/// A random small district: students in two years at up to three schools, some without a
/// students row, scores in two windows.
#[derive(Debug, Clone)]
struct Tiny {
    /// (student, year index, school, gender F?, hispanic?, english learner?, has a row)
    students: Vec<(usize, usize, usize, bool, bool, bool, bool)>,
    /// (student, year index, window index, school, score)
    scores: Vec<(usize, usize, usize, usize, i32)>,
}

fn tiny() -> impl Strategy<Value = Tiny> {
    let person = (
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.85),
    );
    let sitting = prop::option::weighted(0.8, 2300i32..2700);
    prop::collection::vec(
        (
            person,
            [sitting.clone(), sitting.clone(), sitting.clone(), sitting],
        ),
        1..30,
    )
    .prop_map(|people| {
        let mut t = Tiny {
            students: Vec::new(),
            scores: Vec::new(),
        };
        for (id, ((school, female, hispanic, el, has_row), sittings)) in
            people.into_iter().enumerate()
        {
            for year in 0..2 {
                // A few students move school between years.
                let school = (school + year * usize::from(id % 5 == 0)) % 3;
                t.students
                    .push((id, year, school, female, hispanic, el, has_row || year == 0));
                for window in 0..2 {
                    if let Some(score) = sittings[year * 2 + window] {
                        t.scores.push((id, year, window, school, score));
                    }
                }
            }
        }
        t
    })
}

const YEARS: [&str; 2] = ["2024-25", "2025-26"];
const WINDOWS: [&str; 2] = ["fall", "spring"];

fn tiny_tables(t: &Tiny) -> BTreeMap<Table, DataFrame> {
    let rows: Vec<_> = t.students.iter().filter(|s| s.6).collect();
    let students = df![
        "student_id" => rows.iter().map(|s| format!("p{}", s.0)).collect::<Vec<_>>(),
        "school_year" => rows.iter().map(|s| YEARS[s.1]).collect::<Vec<_>>(),
        "school_id" => rows.iter().map(|s| format!("S{}", s.2)).collect::<Vec<_>>(),
        "grade" => vec!["5"; rows.len()],
        "gender" => rows.iter().map(|s| if s.3 { "F" } else { "M" }).collect::<Vec<_>>(),
        "race_ethnicity" => rows.iter().map(|s| if s.4 { "HI" } else { "WH" }).collect::<Vec<_>>(),
        "el_status" => rows.iter().map(|s| if s.5 { "EL" } else { "EO" }).collect::<Vec<_>>(),
        "swd" => vec![false; rows.len()],
        "sed" => vec![false; rows.len()],
        "foster" => vec![false; rows.len()],
        "homeless" => vec![false; rows.len()],
    ]
    .unwrap();
    let sc = &t.scores;
    let scores = df![
        "student_id" => sc.iter().map(|s| format!("p{}", s.0)).collect::<Vec<_>>(),
        "school_year" => sc.iter().map(|s| YEARS[s.1]).collect::<Vec<_>>(),
        "window" => sc.iter().map(|s| WINDOWS[s.2]).collect::<Vec<_>>(),
        "assessment" => vec!["sbac"; sc.len()],
        "subject" => vec!["ela"; sc.len()],
        "grade" => vec![5i32; sc.len()],
        "scale_score" => sc.iter().map(|s| s.4).collect::<Vec<_>>(),
        "school_id" => sc.iter().map(|s| format!("S{}", s.3)).collect::<Vec<_>>(),
    ]
    .unwrap();
    BTreeMap::from([(Table::Students, students), (Table::Assessments, scores)])
}

/// The district row of one group, recomputed from student rows.
#[derive(Debug, PartialEq)]
struct Expected {
    n: usize,
    mean_dfs: f64,
    sd_dfs: Option<f64>,
    pct_met_standard: f64,
    n_with_baseline: usize,
    mean_growth: Option<f64>,
    median_growth: Option<f64>,
    pct_met_growth_target: Option<f64>,
}

fn recompute(t: &Tiny, year: usize, window: usize, group: &str) -> Option<Expected> {
    // ELA grade 5: at 2502; grade 4 baseline → keep-pace 29; catch-up over 2 years.
    let (at, g, k) = (2502.0, 29.0, 2.0);
    let share = [0.2, 1.0][window];
    let member = |id: usize| {
        let row = t.students.iter().find(|s| s.0 == id && s.1 == year && s.6);
        match (group, row) {
            ("all", _) => true,
            (_, None) => false,
            ("female", Some(s)) => s.3,
            ("hispanic", Some(s)) => s.4,
            ("english_learner", Some(s)) => s.5,
            _ => unreachable!(),
        }
    };
    let mut dfs = Vec::new();
    let mut growth = Vec::new();
    let mut met = Vec::new();
    for s in t
        .scores
        .iter()
        .filter(|s| s.1 == year && s.2 == window && member(s.0))
    {
        let score = f64::from(s.4);
        dfs.push(score - at);
        let baseline = (year > 0)
            .then(|| {
                t.scores
                    .iter()
                    .find(|b| b.0 == s.0 && b.1 == year - 1 && b.2 == 1)
            })
            .flatten();
        if let Some(b) = baseline {
            let b = f64::from(b.4);
            growth.push(score - b);
            // The baseline is grade 5 too (at 2502): its dfs decides catch-up.
            let catch_up = if b - at < 0.0 { (at - b) / k } else { 0.0 };
            let target = b + share * (g + catch_up);
            met.push(score >= target - 1e-6);
        }
    }
    if dfs.is_empty() {
        return None;
    }
    let n = dfs.len() as f64;
    let mean = dfs.iter().sum::<f64>() / n;
    let sd = (dfs.len() > 1)
        .then(|| (dfs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    growth.sort_by(f64::total_cmp);
    let median = (!growth.is_empty()).then(|| {
        let m = growth.len() / 2;
        if growth.len() % 2 == 1 {
            growth[m]
        } else {
            (growth[m - 1] + growth[m]) / 2.0
        }
    });
    Some(Expected {
        n: dfs.len(),
        mean_dfs: mean,
        sd_dfs: sd,
        pct_met_standard: 100.0 * dfs.iter().filter(|d| **d >= 0.0).count() as f64 / n,
        n_with_baseline: growth.len(),
        mean_growth: (!growth.is_empty()).then(|| growth.iter().sum::<f64>() / growth.len() as f64),
        median_growth: median,
        pct_met_growth_target: (!met.is_empty())
            .then(|| 100.0 * met.iter().filter(|m| **m).count() as f64 / met.len() as f64),
    })
}

fn near(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn district_roll_up_equals_a_recomputation_from_student_rows(t in tiny()) {
        // Everyone stays in grade 5, so keep-pace growth is G[5] = at[5] − at[4] = 29 and a
        // baseline's dfs is against at[5] = 2502.
        let toml = format!(
            "name = \"tiny\"\n[inputs.schools]\npath = \"s.csv\"\n[inputs.students]\npath = \"st.csv\"\n[inputs.assessments]\npath = \"a.csv\"\n{WINDOWS_AND_SCALES}\n[growth]\nyears_to_standard = 2\n[privacy]\nmin_n_display = 1\n"
        );
        let plan = pipeline::from_text(&toml, Path::new("/t/p.toml"), String::new()).unwrap();
        let m = metrics::compute(&plan, &tiny_tables(&t)).unwrap();
        let baselines = m.table("baselines").unwrap();
        let growth = m.table("growth").unwrap();
        for (year, year_text) in YEARS.into_iter().enumerate() {
            for (window, window_text) in WINDOWS.into_iter().enumerate() {
                for group in ["all", "female", "hispanic", "english_learner"] {
                    let key = [
                        ("school_id", "district"),
                        ("school_year", year_text),
                        ("window", window_text),
                        ("group", group),
                    ];
                    let rows = {
                        let mut lf = baselines.clone().lazy();
                        for (c, v) in key { lf = lf.filter(col(c).eq(lit(v))); }
                        lf.collect().unwrap().height()
                    };
                    let Some(e) = recompute(&t, year, window, group) else {
                        prop_assert_eq!(rows, 0, "no row without scores: {:?}", key);
                        continue;
                    };
                    prop_assert_eq!(value(baselines, &key, "n"), Some(e.n as f64));
                    prop_assert!(near(value(baselines, &key, "mean_dfs"), Some(e.mean_dfs)));
                    prop_assert!(near(value(baselines, &key, "sd_dfs"), e.sd_dfs), "{:?} {:?}", key, e);
                    prop_assert!(near(value(baselines, &key, "pct_met_standard"), Some(e.pct_met_standard)));
                    if e.n_with_baseline == 0 {
                        // Below min_n_display (1): the growth row says only "fewer than 1".
                        prop_assert_eq!(value(growth, &key, "suppressed"), Some(1.0));
                        prop_assert_eq!(value(growth, &key, "n_with_baseline"), None);
                        continue;
                    }
                    prop_assert_eq!(value(growth, &key, "n_with_baseline"), Some(e.n_with_baseline as f64));
                    prop_assert!(near(value(growth, &key, "mean_growth"), e.mean_growth));
                    prop_assert!(near(value(growth, &key, "median_growth"), e.median_growth));
                    prop_assert!(near(value(growth, &key, "pct_met_growth_target"), e.pct_met_growth_target), "{:?} {:?}", key, e);
                }
            }
        }
    }
}

/// `bench` generates a district on disk once, times whole runs of it, and reports the
/// input's size, each stage and the peak memory.
#[test]
fn bench_times_whole_runs_from_files() {
    let cache = tempdir();
    let bench = || {
        bin()
            .args([
                "bench",
                "--students",
                "1500",
                "--schools",
                "5",
                "--repeat",
                "2",
            ])
            .args(["--format", "parquet", "--data"])
            .arg(cache.path())
            .output()
            .unwrap()
    };
    let first = bench();
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(
        text.starts_with("district: 1,500 students in 5 schools over 3 years, Parquet"),
        "{text}"
    );
    // The district's folder is named by the generator's version and the arguments.
    let district = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .ends_with("-1500s-5sch-3y-seed2026-parquet")
            })
        })
        .expect("the district is cached under its arguments");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(district.join("truth.json")).unwrap())
            .unwrap();
    let responses = truth["rows"]["survey_responses"].as_u64().unwrap() as usize;
    assert!(
        text.contains(&format!(
            "{:<17} {:>12} rows",
            "survey_responses",
            equity_gap::thousands(responses)
        )),
        "{text}"
    );
    assert!(
        text.contains("2 runs of `equity-gap run` with packets off"),
        "{text}"
    );
    for stage in [
        "wall",
        "peak memory",
        "ingest",
        "validate",
        "metrics",
        "tables",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(stage)),
            "{stage}: {text}"
        );
    }
    assert!(stderr(&first).contains("generating a district"));
    // The second bench with the same arguments reuses the district.
    let second = bench();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("reusing the district"),
        "{}",
        stderr(&second)
    );
    // The runs' own folders are gone; only the district is kept.
    let kept: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1);
}
