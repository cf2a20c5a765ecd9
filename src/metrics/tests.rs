//! Hand-computed checks of every metric family, starting with METRICS.md's worked example.
//! Each fixture is small enough to verify on paper; the expected values are written out.

mod cohort;

use super::{Metrics, compute};
use crate::canonical::Table;
use crate::pipeline::{self, Plan};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const HEAD: &str = r#"
name = "t"
[inputs.schools]
path = "schools.csv"
[inputs.students]
path = "students.csv"
[inputs.assessments]
path = "assessments.csv"

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
[assessments.sbac]
scale = "sbac"
"#;

fn plan(extra: &str) -> Plan {
    let text = format!("{HEAD}\n{extra}");
    pipeline::from_text(&text, Path::new("/t/pipeline.toml"), String::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// (student, year, school, gender, race, el status)
type St<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
/// (student, year, school, window, subject, grade, score)
type Sc<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, i32, i32);

fn students(rows: &[St<'_>]) -> DataFrame {
    let n = rows.len();
    df![
        "student_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "school_year" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "school_id" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "grade" => vec!["5"; n],
        "gender" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "race_ethnicity" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        "el_status" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        "swd" => vec![false; n],
        "sed" => vec![false; n],
        "foster" => vec![false; n],
        "homeless" => vec![false; n],
    ]
    .unwrap()
}

fn scores(rows: &[Sc<'_>], assessment: &str) -> DataFrame {
    let n = rows.len();
    df![
        "student_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "school_year" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "window" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "assessment" => vec![assessment; n],
        "subject" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        "grade" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        "scale_score" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
        "school_id" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    ]
    .unwrap()
}

fn run(plan: &Plan, students: DataFrame, scores: DataFrame) -> Metrics {
    let tables = BTreeMap::from([(Table::Students, students), (Table::Assessments, scores)]);
    compute(plan, &tables).expect("metrics compute")
}

/// The one row of `table` matching every (column, value).
fn row(m: &Metrics, table: &str, filters: &[(&str, &str)]) -> DataFrame {
    let mut lf = m.table(table).expect("table exists").clone().lazy();
    for (c, v) in filters {
        lf = lf.filter(col(*c).eq(lit(*v)));
    }
    let df = lf.collect().unwrap();
    assert_eq!(df.height(), 1, "one {table} row for {filters:?}:\n{df}");
    df
}

fn f(df: &DataFrame, c: &str) -> Option<f64> {
    df.column(c)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
}

fn b(df: &DataFrame, c: &str) -> Option<bool> {
    df.column(c).unwrap().bool().unwrap().get(0)
}

fn close(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, found null"));
    assert!(
        (a - expected).abs() < 1e-9,
        "expected {expected}, found {a}"
    );
}

/// METRICS.md's worked example: one school, one window, ELA grade 5 (at = 2502).
fn worked_example(year: &str, window: &str) -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let year: &'static str = Box::leak(year.to_string().into_boxed_str());
    let window: &'static str = Box::leak(window.to_string().into_boxed_str());
    let st = vec![
        ("A", year, "S1", "F", "HI", "EO"),
        ("B", year, "S1", "F", "HI", "EO"),
        ("C", year, "S1", "M", "WH", "EO"),
        ("D", year, "S1", "M", "WH", "EO"),
    ];
    let sc = vec![
        ("A", year, "S1", window, "ela", 5, 2480),
        ("B", year, "S1", window, "ela", 5, 2530),
        ("C", year, "S1", window, "ela", 5, 2560),
        ("D", year, "S1", window, "ela", 5, 2510),
    ];
    (st, sc)
}

const PAIRS: &str = r#"
[gaps]
pairs = [
  { focal = "hispanic", reference = "white" },
  { focal = "hispanic", reference = "all" },
  { focal = "hispanic", reference = "rest" },
]
"#;

#[test]
fn worked_example_is_reproduced_exactly() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (st, sc) = worked_example("2025-26", "spring");
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let cell = [
        ("school_id", "S1"),
        ("window", "spring"),
        ("subject", "ela"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = cell.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let all = row(&m, "baselines", &with(&[("group", "all")]));
    close(f(&all, "n"), 4.0);
    close(f(&all, "mean_dfs"), 18.0);
    close(f(&all, "mean_scale_score"), 2520.0);
    // A near; B, C, D at.
    close(f(&all, "pct_near"), 25.0);
    close(f(&all, "pct_at"), 75.0);
    close(f(&all, "pct_below"), 0.0);
    close(f(&all, "pct_above"), 0.0);
    close(f(&all, "pct_met_standard"), 75.0);
    // dfs −22, 28, 58, 8: sample variance = (40² + 10² + 40² + 10²)/3 = 1133.33…
    close(f(&all, "sd_dfs"), (3400.0f64 / 3.0).sqrt());
    assert_eq!(b(&all, "suppressed"), Some(false));
    close(
        f(
            &row(&m, "baselines", &with(&[("group", "hispanic")])),
            "mean_dfs",
        ),
        3.0,
    );
    close(
        f(
            &row(&m, "baselines", &with(&[("group", "white")])),
            "mean_dfs",
        ),
        33.0,
    );

    let gap = |metric: &'static str, reference: &'static str| {
        row(
            &m,
            "gaps",
            &with(&[
                ("metric", metric),
                ("focal_group", "hispanic"),
                ("reference_group", reference),
            ]),
        )
    };
    close(f(&gap("mean_dfs", "white"), "gap"), 30.0);
    let pct = gap("pct_met_standard", "white");
    close(f(&pct, "focal_value"), 50.0);
    close(f(&pct, "reference_value"), 100.0);
    close(f(&pct, "gap"), 50.0);

    // With the default min_n_display of 11, every one of these rows is suppressed.
    let (st, sc) = worked_example("2025-26", "spring");
    let m = run(
        &plan(&format!("{PAIRS}\n[dashboard]\nenabled = true\n")),
        students(&st),
        scores(&sc, "sbac"),
    );
    for table in ["baselines", "growth", "gaps", "dashboard"] {
        let df = m.table(table).unwrap();
        assert!(df.height() > 0, "{table} has rows");
        let suppressed = df.column("suppressed").unwrap().bool().unwrap();
        assert!(suppressed.all(), "{table} is all suppressed:\n{df}");
    }
    let all = row(&m, "baselines", &with(&[("group", "all")]));
    assert_eq!(f(&all, "n"), None, "counts are hidden too");
    assert_eq!(f(&all, "mean_dfs"), None);
}

#[test]
fn standard_errors_for_a_group_all_and_rest() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (st, sc) = worked_example("2025-26", "spring");
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let gap = |metric: &'static str, reference: &'static str| {
        row(
            &m,
            "gaps",
            &[
                ("school_id", "S1"),
                ("metric", metric),
                ("focal_group", "hispanic"),
                ("reference_group", reference),
            ],
        )
    };
    // Hispanic dfs −22, 28 and white 58, 8: both sample variances are 1250.
    let se = (1250.0f64 / 2.0 + 1250.0 / 2.0).sqrt();
    let white = gap("mean_dfs", "white");
    close(f(&white, "se"), se);
    close(f(&white, "ci_low"), 30.0 - 1.96 * se);
    close(f(&white, "ci_high"), 30.0 + 1.96 * se);
    assert_eq!(b(&white, "distinguishable"), Some(false));
    // gap_sd = 30 / sqrt((1·1250 + 1·1250) / 2).
    close(f(&white, "gap_sd"), 30.0 / 1250.0f64.sqrt());

    // R = rest: the rest of hispanic is the two white students here.
    let rest = gap("mean_dfs", "rest");
    close(f(&rest, "gap"), 30.0);
    close(f(&rest, "se"), se);
    close(f(&rest, "n_reference"), 2.0);

    // R = all: gap = 18 − 3 = 15 = (n_rest/n_all)·30, se = (2/4)·se(F vs rest).
    let all = gap("mean_dfs", "all");
    close(f(&all, "gap"), 15.0);
    close(f(&all, "se"), se * 0.5);
    close(f(&all, "n_reference"), 4.0);
    close(f(&all, "gap_sd"), 15.0 / 1250.0f64.sqrt());

    // Percentages: hispanic 1 of 2 met (p = .5), white 2 of 2 (p = 1).
    let pct = gap("pct_met_standard", "white");
    close(f(&pct, "se"), 100.0 * (0.25f64 / 2.0).sqrt());
    assert_eq!(f(&pct, "gap_sd"), None, "gap_sd is for mean_dfs only");
    let pct_all = gap("pct_met_standard", "all");
    close(f(&pct_all, "gap"), 25.0);
    close(f(&pct_all, "se"), 0.5 * 100.0 * (0.25f64 / 2.0).sqrt());
}

#[test]
fn a_side_of_one_student_has_no_standard_error() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (mut st, mut sc) = worked_example("2025-26", "spring");
    st.truncate(3);
    sc.truncate(3);
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let g = row(
        &m,
        "gaps",
        &[
            ("school_id", "S1"),
            ("metric", "mean_dfs"),
            ("focal_group", "hispanic"),
            ("reference_group", "white"),
        ],
    );
    close(f(&g, "gap"), 58.0 - 3.0);
    assert_eq!(f(&g, "se"), None);
    assert_eq!(f(&g, "ci_low"), None);
    assert_eq!(b(&g, "distinguishable"), None);
    // The pooled SD still has 2 + 1 − 2 = 1 degree of freedom.
    close(f(&g, "gap_sd"), 55.0 / 1250.0f64.sqrt());
}

/// Last year at the same window: hispanic dfs −40, −20 (mean −30), white 30, 10 (mean 20),
/// so the gap was 50; this year it is 30.
fn two_years(window: &'static str) -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let (mut st, mut sc) = worked_example("2025-26", window);
    st.extend([
        ("E", "2024-25", "S1", "F", "HI", "EO"),
        ("F", "2024-25", "S1", "F", "HI", "EO"),
        ("G", "2024-25", "S1", "M", "WH", "EO"),
        ("H", "2024-25", "S1", "M", "WH", "EO"),
    ]);
    sc.extend([
        ("E", "2024-25", "S1", window, "ela", 5, 2462),
        ("F", "2024-25", "S1", window, "ela", 5, 2482),
        ("G", "2024-25", "S1", window, "ela", 5, 2532),
        ("H", "2024-25", "S1", window, "ela", 5, 2512),
    ]);
    (st, sc)
}

#[test]
fn closure_decomposition_and_targets_at_a_mid_year_window() {
    let p = plan(
        r#"
[gaps]
min_gap = 5
pairs = [
  { focal = "hispanic", reference = "white", target = { fraction = 0.5, years = 3 } },
  { focal = "female", reference = "male", target = { points = 25 } },
]
[privacy]
min_n_display = 1
"#,
    );
    let (st, sc) = two_years("winter");
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let gap = |focal: &'static str, metric: &'static str| {
        row(
            &m,
            "gaps",
            &[
                ("school_id", "S1"),
                ("school_year", "2025-26"),
                ("window", "winter"),
                ("metric", metric),
                ("focal_group", focal),
            ],
        )
    };
    let g = gap("hispanic", "mean_dfs");
    close(f(&g, "baseline_gap"), 50.0);
    close(f(&g, "gap_change"), -20.0);
    close(f(&g, "closure_pct"), 40.0);
    close(f(&g, "focal_change"), 33.0);
    close(f(&g, "reference_change"), 13.0);
    // Last winter both variances were 200: se = sqrt(100 + 100).
    close(f(&g, "change_se"), (1250.0f64 + 200.0).sqrt());
    assert_eq!(b(&g, "change_distinguishable"), Some(false));
    // A year passed since last winter: close 0.5/3 of 50 this year.
    close(f(&g, "target_gap"), 50.0 - 50.0 / 6.0);
    assert_eq!(b(&g, "on_track"), Some(true));

    let g = gap("female", "mean_dfs");
    close(f(&g, "target_gap"), 25.0);
    assert_eq!(b(&g, "on_track"), Some(false), "30 is above a target of 25");

    // Percent met: hispanic 0 of 2 then 1 of 2, white 2 of 2 both years: 100 then 50.
    let g = gap("hispanic", "pct_met_standard");
    close(f(&g, "baseline_gap"), 100.0);
    close(f(&g, "gap_change"), -50.0);
    close(f(&g, "closure_pct"), 50.0);
    close(f(&g, "focal_change"), 50.0);
    close(f(&g, "reference_change"), 0.0);

    // The first year has nothing to compare with.
    let first = row(
        &m,
        "gaps",
        &[
            ("school_id", "S1"),
            ("school_year", "2024-25"),
            ("metric", "mean_dfs"),
            ("focal_group", "hispanic"),
        ],
    );
    for c in ["baseline_gap", "gap_change", "closure_pct", "target_gap"] {
        assert_eq!(f(&first, c), None, "{c}");
    }
}

#[test]
fn closure_needs_a_baseline_gap_of_at_least_min_gap() {
    let p = plan(
        "[gaps]\nmin_gap = 60\npairs = [{ focal = \"hispanic\", reference = \"white\" }]\n[privacy]\nmin_n_display = 1\n",
    );
    let (st, sc) = two_years("spring");
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let g = row(
        &m,
        "gaps",
        &[
            ("school_id", "S1"),
            ("school_year", "2025-26"),
            ("metric", "mean_dfs"),
        ],
    );
    close(f(&g, "gap_change"), -20.0);
    assert_eq!(
        f(&g, "closure_pct"),
        None,
        "a baseline gap of 50 is below 60"
    );
}

/// Growth: ELA grade 5 this year (at 2502), baseline last spring at grade 4 (at 2473), so
/// keep-pace growth G = 29; winter is 0.55 of the year.
fn growth_fixture() -> (Vec<St<'static>>, DataFrame) {
    let st = vec![
        ("P", "2025-26", "S1", "F", "HI", "EL"),
        ("Q", "2025-26", "S1", "M", "WH", "EO"),
        ("R", "2025-26", "S1", "M", "WH", "EO"),
        ("T", "2025-26", "S1", "F", "WH", "EO"),
        ("U", "2025-26", "S1", "F", "WH", "EO"),
    ];
    let now = scores(
        &[
            ("P", "2025-26", "S1", "winter", "ela", 5, 2470),
            ("Q", "2025-26", "S1", "winter", "ela", 5, 2509),
            ("R", "2025-26", "S1", "spring", "ela", 5, 2502),
            // Retained in grade 3: a baseline, but no expected growth for grade 3.
            ("T", "2025-26", "S1", "winter", "ela", 3, 2440),
            // New to the district: no baseline.
            ("U", "2025-26", "S1", "winter", "ela", 5, 2500),
        ],
        "sbac",
    );
    let before = scores(
        &[
            // P's baseline is at another school, on two assessments: `alt` sorts first.
            ("P", "2024-25", "S9", "spring", "ela", 4, 2453),
            ("Q", "2024-25", "S1", "spring", "ela", 4, 2493),
            ("R", "2024-25", "S1", "spring", "ela", 4, 2473),
            ("T", "2024-25", "S1", "spring", "ela", 3, 2400),
            // A winter score is not a baseline.
            ("U", "2024-25", "S1", "winter", "ela", 4, 2400),
        ],
        "sbac",
    );
    let alt = scores(&[("P", "2024-25", "S9", "spring", "ela", 4, 2453)], "alt");
    let mut sbac_p = scores(&[("P", "2024-25", "S9", "spring", "ela", 4, 2300)], "sbac");
    // Replace P's sbac baseline with a different score, to see which assessment wins.
    let before = before
        .lazy()
        .filter(col("student_id").neq(lit("P")))
        .collect()
        .unwrap();
    sbac_p.vstack_mut(&alt).unwrap();
    let all = now.vstack(&before).unwrap().vstack(&sbac_p).unwrap();
    (st, all)
}

const GROWTH_HEAD: &str = r#"
[assessments.alt]
scale = "sbac"
windows = ["spring"]
[privacy]
min_n_display = 1
"#;

#[test]
fn growth_targets_without_catch_up() {
    let p = plan(GROWTH_HEAD);
    let (st, sc) = growth_fixture();
    let m = run(&p, students(&st), sc);
    let sg = |id: &'static str| {
        row(
            &m,
            "student_growth",
            &[("student_id", id), ("school_year", "2025-26")],
        )
    };
    let p_row = sg("P");
    close(f(&p_row, "baseline_score"), 2453.0);
    close(f(&p_row, "annual_target"), 2453.0 + 29.0);
    close(f(&p_row, "window_target"), 2453.0 + 0.55 * 29.0);
    close(f(&p_row, "growth"), 17.0);
    assert_eq!(b(&p_row, "met_target"), Some(true), "2470 >= 2468.95");
    let q = sg("Q");
    close(f(&q, "window_target"), 2493.0 + 0.55 * 29.0);
    assert_eq!(b(&q, "met_target"), Some(true), "2509 >= 2508.95");
    // At the last window the target is the annual one, met exactly.
    let r = sg("R");
    close(f(&r, "window_target"), 2502.0);
    assert_eq!(b(&r, "met_target"), Some(true));
    let t = sg("T");
    close(f(&t, "baseline_score"), 2400.0);
    assert_eq!(f(&t, "annual_target"), None);
    assert_eq!(b(&t, "met_target"), None);
    let u = sg("U");
    assert_eq!(f(&u, "baseline_score"), None);
    assert_eq!(f(&u, "growth"), None);

    let g = row(
        &m,
        "growth",
        &[
            ("school_id", "S1"),
            ("school_year", "2025-26"),
            ("window", "winter"),
            ("group", "all"),
        ],
    );
    // Winter: P (+17), Q (+16), T (+40) have a baseline, U has none.
    close(f(&g, "n_with_baseline"), 3.0);
    close(f(&g, "n_without_baseline"), 1.0);
    close(f(&g, "mean_growth"), (17.0 + 16.0 + 40.0) / 3.0);
    close(f(&g, "median_growth"), 17.0);
    // T has no target, so the share is over P and Q, who both met theirs.
    close(f(&g, "pct_met_growth_target"), 100.0);
}

#[test]
fn growth_targets_with_catch_up() {
    let p = plan(&format!("{GROWTH_HEAD}\n[growth]\nyears_to_standard = 4\n"));
    let (st, sc) = growth_fixture();
    let m = run(&p, students(&st), sc);
    let sg = |id: &'static str| {
        row(
            &m,
            "student_growth",
            &[("student_id", id), ("school_year", "2025-26")],
        )
    };
    // P's baseline dfs is 2453 − 2473 = −20: catch up 20/4 = 5 points a year on top.
    let p_row = sg("P");
    close(f(&p_row, "annual_target"), 2453.0 + 29.0 + 5.0);
    close(f(&p_row, "window_target"), 2453.0 + 0.55 * 34.0);
    assert_eq!(b(&p_row, "met_target"), Some(false), "2470 < 2471.7");
    // Q is above standard (dfs +20): no catch-up.
    let q = sg("Q");
    close(f(&q, "annual_target"), 2493.0 + 29.0);
    assert_eq!(b(&q, "met_target"), Some(true));
    let g = row(
        &m,
        "growth",
        &[
            ("school_id", "S1"),
            ("school_year", "2025-26"),
            ("window", "winter"),
            ("group", "all"),
        ],
    );
    close(f(&g, "pct_met_growth_target"), 50.0);
    // The gap metric for growth targets has no comparison columns.
    let el = row(
        &m,
        "gaps",
        &[
            ("school_id", "S1"),
            ("school_year", "2025-26"),
            ("window", "winter"),
            ("metric", "pct_met_growth_target"),
            ("focal_group", "english_learner"),
        ],
    );
    // english_learner vs rest: P (missed) against Q (met); T has no target.
    close(f(&el, "gap"), 100.0);
    close(f(&el, "n_reference"), 1.0);
    assert_eq!(f(&el, "baseline_gap"), None);
}

/// `n` female and `n` male students at `school`: female dfs fall from −50 to −80 between
/// years while male dfs stay near 0, so the female–male gap widens by 30.
fn widening(school: &'static str, n: usize) -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for (year, female_dfs) in [("2024-25", -50), ("2025-26", -80)] {
        for i in 0..n {
            let wiggle = if i % 2 == 0 { 1 } else { -1 };
            for (gender, dfs) in [("F", female_dfs), ("M", 0)] {
                let id: &'static str =
                    Box::leak(format!("{school}-{gender}{i}-{year}").into_boxed_str());
                st.push((id, year, school, gender, "HI", "EO"));
                sc.push((id, year, school, "spring", "ela", 5, 2502 + dfs + wiggle));
            }
        }
    }
    (st, sc)
}

#[test]
fn suppression_and_accountability_boundaries() {
    // Primary suppression's boundaries: with the complementary step, N10's hidden girls would
    // also hide N11's in the district relation (see `complementary` below).
    let p = plan(
        "[gaps]\npairs = [{ focal = \"female\", reference = \"male\" }]\n[flags]\nbasis = \"cross_sectional\"\n[flags.low_growth]\nenabled = false\n[privacy]\ncomplementary = false\n",
    );
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for (school, n) in [("N10", 10), ("N11", 11), ("N29", 29), ("N30", 30)] {
        let (a, b) = widening(school, n);
        st.extend(a);
        sc.extend(b);
    }
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let female = |school: &'static str| {
        row(
            &m,
            "baselines",
            &[
                ("school_id", school),
                ("school_year", "2025-26"),
                ("group", "female"),
            ],
        )
    };
    assert_eq!(b(&female("N10"), "suppressed"), Some(true));
    assert_eq!(f(&female("N10"), "n"), None);
    assert_eq!(f(&female("N10"), "mean_dfs"), None);
    assert_eq!(b(&female("N11"), "suppressed"), Some(false));
    close(f(&female("N11"), "n"), 11.0);
    let gap = |school: &'static str| {
        row(
            &m,
            "gaps",
            &[
                ("school_id", school),
                ("school_year", "2025-26"),
                ("metric", "mean_dfs"),
            ],
        )
    };
    assert_eq!(b(&gap("N10"), "suppressed"), Some(true));
    assert_eq!(f(&gap("N10"), "n_focal"), None);
    for school in ["N11", "N29", "N30"] {
        let g = gap(school);
        assert_eq!(b(&g, "suppressed"), Some(false), "{school}");
        assert!(
            (f(&g, "gap_change").unwrap() - 30.0).abs() < 0.2,
            "{school}"
        );
        assert_eq!(b(&g, "change_distinguishable"), Some(true), "{school}");
    }
    // Flags need both sides of at least 30.
    let flags = m.table("flags").unwrap();
    let flagged: Vec<String> = flags
        .column("school_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    // The district roll-up (80 and 80 students) widened by the same 30 points.
    assert_eq!(flagged, ["N30", "district"], "{flags}");
    let kinds: Vec<&str> = flags
        .column("flag")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(kinds, ["gap_widening", "gap_widening"]);
    let reason = flags
        .column("reason")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap();
    assert!(
        reason.starts_with(
            "In ELA at the spring window, comparing the 30 female students and 30 male students tested this year with last year's students, the gap between female students and male students widened by 30.0 points since spring 2024-25"
        ),
        "{reason}"
    );
}

/// `n` students at `school` in `year`, ELA at `grade` (at = `at`), whose dfs sum to `sum`.
fn status_cell(
    school: &'static str,
    year: &'static str,
    grade: i32,
    at: i32,
    n: i32,
    sum: i32,
) -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let base = sum.div_euclid(n);
    let extra = sum.rem_euclid(n);
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for i in 0..n {
        let id: &'static str = Box::leak(format!("{school}-{year}-{i}").into_boxed_str());
        let dfs = base + i32::from(i < extra);
        st.push((id, year, school, "F", "HI", "EO"));
        sc.push((id, year, school, "spring", "ela", grade, at + dfs));
    }
    (st, sc)
}

#[test]
fn dashboard_levels_at_their_boundaries() {
    let p = plan("[dashboard]\nenabled = true\n");
    let cells = [
        // status −100/20 = −5.0: Medium.
        status_cell("D1", "2025-26", 5, 2502, 20, -100),
        // −126/25 = −5.04 rounds to −5.0: Medium.
        status_cell("D2", "2025-26", 5, 2502, 25, -126),
        // −101/20 = −5.05 rounds to −5.1 (the float −5.05 would round to −5.0): Low.
        status_cell("D3", "2025-26", 5, 2502, 20, -101),
        // Change exactly −3.0 (0 → −3): Declined; exactly +3.0: Increased.
        status_cell("C1", "2024-25", 5, 2502, 30, 0),
        status_cell("C1", "2025-26", 5, 2502, 30, -90),
        status_cell("C2", "2024-25", 5, 2502, 30, 0),
        status_cell("C2", "2025-26", 5, 2502, 30, 90),
        // +45.0 at a school testing grade 11 only: High; at an elementary school: Very High.
        status_cell("H1", "2025-26", 11, 2583, 20, 900),
        status_cell("E1", "2025-26", 5, 2502, 20, 900),
    ];
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for (a, b) in cells {
        st.extend(a);
        sc.extend(b);
    }
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let dash = |school: &'static str| {
        row(
            &m,
            "dashboard",
            &[
                ("school_id", school),
                ("school_year", "2025-26"),
                ("group", "all"),
            ],
        )
    };
    let level = |school: &'static str, c: &str| f(&dash(school), c);
    assert_eq!(level("D1", "status_level"), Some(3.0));
    close(level("D2", "status"), -5.04);
    assert_eq!(level("D2", "status_level"), Some(3.0));
    close(level("D3", "status"), -5.05);
    assert_eq!(level("D3", "status_level"), Some(2.0));
    close(level("C1", "change"), -3.0);
    assert_eq!(level("C1", "change_level"), Some(2.0));
    close(level("C2", "change"), 3.0);
    assert_eq!(level("C2", "change_level"), Some(4.0));
    // C1: status −3.0 is Medium, change Declined: Medium row, column 2 → 3 (Yellow).
    assert_eq!(level("C1", "color"), Some(3.0));
    // C2: status +3.0 is Medium, change Increased: column 4 → 4 (Green).
    assert_eq!(level("C2", "color"), Some(4.0));
    close(level("H1", "status"), 45.0);
    assert_eq!(level("H1", "status_level"), Some(4.0));
    assert_eq!(level("E1", "status_level"), Some(5.0));
    // No prior year: no change, level or color.
    assert_eq!(level("E1", "change"), None);
    assert_eq!(level("E1", "color"), None);
    // The district mixes grades and uses the regular table.
    let district = row(
        &m,
        "dashboard",
        &[
            ("school_id", "district"),
            ("school_year", "2025-26"),
            ("group", "all"),
        ],
    );
    assert!(f(&district, "status_level").is_some());
}

#[test]
fn dashboard_color_needs_thirty_students_in_both_years() {
    let p = plan("[dashboard]\nenabled = true\n");
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for (a, b) in [
        status_cell("C1", "2024-25", 5, 2502, 29, 0),
        status_cell("C1", "2025-26", 5, 2502, 30, -90),
    ] {
        st.extend(a);
        sc.extend(b);
    }
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let d = row(
        &m,
        "dashboard",
        &[
            ("school_id", "C1"),
            ("school_year", "2025-26"),
            ("group", "all"),
        ],
    );
    close(f(&d, "prior_n"), 29.0);
    assert_eq!(f(&d, "change_level"), Some(2.0));
    assert_eq!(f(&d, "color"), None);
}

/// Add survey items and responses to `tables` as validation leaves them: the responses coded
/// (see `validate::survey_codes`), with a schools table holding the schools they name.
fn with_survey(
    tables: &mut BTreeMap<Table, DataFrame>,
    p: &Plan,
    items: DataFrame,
    responses: DataFrame,
) {
    let schools = responses
        .clone()
        .lazy()
        .select([col("school_id").unique()])
        .collect()
        .unwrap();
    tables.insert(Table::Schools, schools);
    tables.insert(Table::SurveyItems, items);
    let students = crate::validate::Ids::of(tables, Default::default())
        .unwrap()
        .students;
    let mut codes = crate::validate::survey_codes::SurveyCodes::new(p, tables, &students).unwrap();
    tables.insert(
        Table::SurveyResponses,
        codes.encode_frame(responses).unwrap(),
    );
}

fn survey_tables() -> (DataFrame, DataFrame) {
    let items = df![
        "item_id" => ["I1", "I2", "T1"],
        "construct" => ["belonging", "belonging", "climate"],
        "respondent_type" => ["student", "student", "staff"],
        "scale_min" => [1i32, 1, 1],
        "scale_max" => [5i32, 5, 4],
        "favorable_min" => [4i32, 4, 3],
        "reversed" => [Some(false), Some(true), None],
        "text" => ["", "", ""],
    ]
    .unwrap();
    // I2 is reversed: favorable at or below 5 + 1 − 4 = 2.
    let rows: [(&str, &str, &str, &str, i32); 11] = [
        ("X", "student", "S1", "I1", 4), // favorable
        ("X", "student", "S1", "I2", 2), // favorable (reversed)
        ("Y", "student", "S1", "I1", 3), // not
        ("Y", "student", "S1", "I2", 4), // not (reversed)
        ("Z", "student", "S1", "I1", 5), // favorable
        ("Z", "student", "S1", "I2", 1), // favorable (reversed)
        ("W", "student", "S1", "I2", 3), // not (reversed, middle)
        // X answered again at a second school the same window.
        ("X", "student", "S2", "I1", 1), // not
        ("T", "staff", "S1", "T1", 3),   // favorable
        ("T2", "staff", "S1", "T1", 2),  // not
        // A staff id that equals a student id is still staff.
        ("Y", "staff", "S1", "T1", 4), // favorable
    ];
    let responses = df![
        "respondent_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "respondent_type" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "school_id" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "school_year" => vec!["2025-26"; rows.len()],
        "window" => vec!["spring"; rows.len()],
        "item_id" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "response" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
    ]
    .unwrap();
    (items, responses)
}

#[test]
fn survey_favorability_with_reversed_items() {
    let p = plan(
        "[survey]\nconstructs = [{ id = \"belonging\", label = \"Belonging\" }, { id = \"climate\", label = \"Climate\" }]\n[privacy]\nmin_n_display = 1\n",
    );
    let st = students(&[
        ("X", "2025-26", "S1", "F", "HI", "EL"),
        ("Y", "2025-26", "S1", "M", "WH", "EO"),
        ("Z", "2025-26", "S1", "F", "HI", "EO"),
    ]);
    let (items, responses) = survey_tables();
    let mut tables = BTreeMap::from([(Table::Students, st)]);
    with_survey(&mut tables, &p, items, responses);
    let m = compute(&p, &tables).unwrap();
    let s = |school: &'static str,
             rtype: &'static str,
             construct: &'static str,
             group: &'static str| {
        row(
            &m,
            "survey",
            &[
                ("school_id", school),
                ("respondent_type", rtype),
                ("construct", construct),
                ("group", group),
            ],
        )
    };
    let all = s("S1", "student", "belonging", "all");
    close(f(&all, "n_respondents"), 4.0);
    close(f(&all, "n_responses"), 7.0);
    close(f(&all, "pct_favorable"), 100.0 * 4.0 / 7.0);
    // W has no students row: in `all` only.
    let female = s("S1", "student", "belonging", "female");
    close(f(&female, "n_respondents"), 2.0);
    close(f(&female, "pct_favorable"), 100.0);
    let el = s("S1", "student", "belonging", "english_learner");
    close(f(&el, "n_respondents"), 1.0);
    // Staff are `all` only, even the one whose id matches a student.
    let staff = s("S1", "staff", "climate", "all");
    close(f(&staff, "n_respondents"), 3.0);
    close(f(&staff, "pct_favorable"), 100.0 * 2.0 / 3.0);
    let staff_groups = m
        .table("survey")
        .unwrap()
        .clone()
        .lazy()
        .filter(
            col("respondent_type")
                .eq(lit("staff"))
                .and(col("group").neq(lit("all"))),
        )
        .collect()
        .unwrap();
    assert_eq!(staff_groups.height(), 0, "{staff_groups}");
    // The district counts X once, with all 8 of the student responses.
    let d = s("district", "student", "belonging", "all");
    close(f(&d, "n_respondents"), 4.0);
    close(f(&d, "n_responses"), 8.0);
    close(f(&d, "pct_favorable"), 100.0 * 4.0 / 8.0);
    let d_el = s("district", "student", "belonging", "english_learner");
    close(f(&d_el, "n_respondents"), 1.0);
    close(f(&d_el, "n_responses"), 3.0);
}

#[test]
fn students_without_demographics_count_in_all_and_rest_only() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (mut st, sc) = worked_example("2025-26", "spring");
    // D has no students row this year.
    st.retain(|s| s.0 != "D");
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let base = |group: &'static str| row(&m, "baselines", &[("school_id", "S1"), ("group", group)]);
    close(f(&base("all"), "n"), 4.0);
    close(f(&base("white"), "n"), 1.0);
    close(f(&base("male"), "n"), 1.0);
    let rest = row(
        &m,
        "gaps",
        &[
            ("school_id", "S1"),
            ("metric", "mean_dfs"),
            ("reference_group", "rest"),
        ],
    );
    close(f(&rest, "n_reference"), 2.0);
    close(f(&rest, "reference_value"), 33.0);
}

#[test]
fn empty_extracts_give_empty_tables_with_their_columns() {
    let p = plan(&format!(
        "{PAIRS}\n[dashboard]\nenabled = true\n[survey]\nconstructs = [{{ id = \"belonging\", label = \"B\" }}, {{ id = \"climate\", label = \"C\" }}]\n"
    ));
    let (st, sc) = worked_example("2025-26", "spring");
    let none = |df: DataFrame| df.head(Some(0));
    let (items, responses) = survey_tables();
    let mut tables = BTreeMap::from([
        (Table::Students, none(students(&st))),
        (Table::Assessments, none(scores(&sc, "sbac"))),
    ]);
    with_survey(&mut tables, &p, items, none(responses));
    let m = compute(&p, &tables).expect("empty extracts compute");
    for (table, df) in &m.tables {
        assert_eq!(df.height(), 0, "{table}");
        assert!(df.width() >= 9, "{table} keeps its columns");
    }
    assert_eq!(m.tables.len(), 9);
}

/// Complementary suppression on hand-made cells: (school, group, size), one cell key.
mod complementary {
    use super::plan;
    use crate::metrics::disclosure;
    use crate::metrics::suppression::{Layout, Rule, is_safe, relations, suppress};

    fn layout(rows: &[(&str, &str, i64)]) -> Layout {
        Layout {
            cell: vec!["2025-26\u{1f}spring\u{1f}sbac\u{1f}ela".to_string(); rows.len()],
            school: rows.iter().map(|r| r.0.to_string()).collect(),
            group: rows.iter().map(|r| r.1.to_string()).collect(),
            size: rows.iter().map(|r| r.2).collect(),
            district_size: rows.iter().map(|r| r.2).collect(),
        }
    }

    /// The rows hidden, as (school, group, rule), in row order.
    fn hidden(rows: &[(&str, &str, i64)]) -> Vec<(String, String, Rule)> {
        let p = plan("");
        let l = layout(rows);
        let out = suppress(&p, &l, "district");
        // Whatever was hidden, every relation is safe and nothing can be recovered.
        let rels = relations(&p.groups, &l, "district");
        for rel in &rels {
            let size = |r: usize| {
                if rel.district {
                    l.district_size[r]
                } else {
                    l.size[r]
                }
            };
            assert!(is_safe(rel, &out.suppressed, size, 11), "{rel:?}");
        }
        (0..rows.len())
            .filter(|&r| out.suppressed[r])
            .map(|r| {
                (
                    l.school[r].clone(),
                    l.group[r].clone(),
                    out.rule[r].unwrap(),
                )
            })
            .collect()
    }

    fn h(school: &str, group: &str, rule: Rule) -> (String, String, Rule) {
        (school.to_string(), group.to_string(), rule)
    }

    #[test]
    fn a_partition_hides_its_smallest_other_part() {
        // female + male + nonbinary = all: the 2 nonbinary students would be all − female − male.
        let rows = [
            ("A", "all", 40),
            ("A", "female", 20),
            ("A", "male", 18),
            ("A", "nonbinary", 2),
        ];
        assert_eq!(
            hidden(&rows),
            vec![
                h("A", "male", Rule::Partition),
                h("A", "nonbinary", Rule::Primary)
            ]
        );
        // When students without demographics (the remainder) number 11 or more, the hidden
        // nonbinary students and the remainder are two parts of at least 11: safe as it is.
        let rows = [
            ("A", "all", 51),
            ("A", "female", 20),
            ("A", "male", 18),
            ("A", "nonbinary", 2),
        ];
        assert_eq!(hidden(&rows), vec![h("A", "nonbinary", Rule::Primary)]);
        // A remainder of 3 is itself sensitive: 2 + 3 < 11, so male is hidden too.
        let rows = [
            ("A", "all", 43),
            ("A", "female", 20),
            ("A", "male", 18),
            ("A", "nonbinary", 2),
        ];
        assert_eq!(
            hidden(&rows),
            vec![
                h("A", "male", Rule::Partition),
                h("A", "nonbinary", Rule::Primary)
            ]
        );
    }

    #[test]
    fn a_group_whose_rest_is_small_is_hidden() {
        // 98% SED: all − sed would be the 3 other students.
        let rows = [("A", "all", 150), ("A", "sed", 147), ("A", "swd", 20)];
        assert_eq!(hidden(&rows), vec![h("A", "sed", Rule::GroupRest)]);
    }

    #[test]
    fn ties_go_to_the_first_group_in_plan_order_then_the_lowest_school_id() {
        let rows = [
            ("A", "all", 30),
            ("A", "female", 14),
            ("A", "male", 14),
            ("A", "nonbinary", 2),
        ];
        assert_eq!(
            hidden(&rows),
            vec![
                h("A", "female", Rule::Partition),
                h("A", "nonbinary", Rule::Primary)
            ]
        );
        // A district relation: foster at B and C tie at 20; B comes first.
        let rows = [
            ("A", "all", 100),
            ("A", "foster", 5),
            ("B", "all", 100),
            ("B", "foster", 20),
            ("C", "all", 100),
            ("C", "foster", 20),
            ("district", "all", 300),
            ("district", "foster", 45),
        ];
        assert_eq!(
            hidden(&rows),
            vec![
                h("A", "foster", Rule::Primary),
                h("B", "foster", Rule::District)
            ]
        );
    }

    #[test]
    fn passes_repeat_until_nothing_changes() {
        // Hiding A's male students (to protect its 2 nonbinary students) leaves them the only
        // hidden row of the district's male relation, so B's male row goes too, and then B's
        // gender partition has one hidden row and hides its female row; C likewise through
        // the district's nonbinary relation.
        let rows = [
            ("A", "all", 40),
            ("A", "female", 20),
            ("A", "male", 18),
            ("A", "nonbinary", 2),
            ("B", "all", 50),
            ("B", "female", 25),
            ("B", "male", 25),
            ("C", "all", 75),
            ("C", "female", 30),
            ("C", "male", 30),
            ("C", "nonbinary", 15),
            ("district", "all", 165),
            ("district", "female", 75),
            ("district", "male", 73),
            ("district", "nonbinary", 17),
        ];
        assert_eq!(
            hidden(&rows),
            vec![
                h("A", "male", Rule::Partition),
                h("A", "nonbinary", Rule::Primary),
                h("B", "female", Rule::Partition),
                h("B", "male", Rule::District),
                h("C", "female", Rule::Partition),
                h("C", "nonbinary", Rule::District),
            ]
        );
    }

    #[test]
    fn without_complementary_only_primary() {
        let p = plan("[privacy]\ncomplementary = false");
        let l = layout(&[
            ("A", "all", 40),
            ("A", "female", 20),
            ("A", "male", 18),
            ("A", "nonbinary", 2),
        ]);
        let out = suppress(&p, &l, "district");
        assert_eq!(out.suppressed, vec![false, false, false, true]);
        assert_eq!(out.counts(), vec![(Rule::Primary, 1)]);
    }

    /// A random district of 2–4 schools and the district roll-up: gender, two race groups,
    /// SED, with small groups and small remainders likely.
    /// One school's sizes: female, male, nonbinary, students in no gender group, Hispanic,
    /// White, SED.
    type School = (i64, i64, i64, i64, i64, i64, i64);

    fn random_layout(sizes: &[School]) -> Layout {
        let mut rows: Vec<(String, &str, i64)> = Vec::new();
        let mut district = [0i64; 7];
        for (s, &(f, m, x, rem, hi, wh, sed)) in sizes.iter().enumerate() {
            let all = f + m + x + rem;
            let hi = hi.min(all);
            let wh = wh.min(all - hi);
            let sed = sed.min(all);
            let school = format!("S{s}");
            for (i, (g, n)) in [
                ("all", all),
                ("female", f),
                ("male", m),
                ("nonbinary", x),
                ("hispanic", hi),
                ("white", wh),
                ("sed", sed),
            ]
            .into_iter()
            .enumerate()
            {
                district[i] += n;
                if n > 0 {
                    rows.push((school.clone(), g, n));
                }
            }
        }
        for (i, g) in [
            "all",
            "female",
            "male",
            "nonbinary",
            "hispanic",
            "white",
            "sed",
        ]
        .into_iter()
        .enumerate()
        {
            if district[i] > 0 {
                rows.push(("district".into(), g, district[i]));
            }
        }
        let r: Vec<(&str, &str, i64)> = rows.iter().map(|(s, g, n)| (s.as_str(), *g, *n)).collect();
        layout(&r)
    }

    /// Every relation is safe, and no combination of relations pins down a hidden row with
    /// students in it or an unpublished part under 11 (built here from the relations alone).
    fn nothing_recoverable(
        p: &crate::pipeline::Plan,
        l: &Layout,
        suppressed: &[bool],
    ) -> Result<(), String> {
        let rels = relations(&p.groups, l, "district");
        let mut n = 0;
        let mut unknown = vec![None; l.len()];
        for r in 0..l.len() {
            if suppressed[r] && l.size[r] > 0 {
                unknown[r] = Some(n);
                n += 1;
            }
        }
        let mut parts = Vec::new();
        let mut equations = Vec::new();
        for rel in &rels {
            let size = |r: usize| {
                if rel.district {
                    l.district_size[r]
                } else {
                    l.size[r]
                }
            };
            if !is_safe(rel, suppressed, size, 11) {
                return Err(format!("unsafe: {rel:?}"));
            }
            let mut eq = Vec::new();
            if let Some(u) = unknown[rel.total] {
                eq.push((u, 1));
            }
            for &p in &rel.parts {
                if let Some(u) = unknown[p] {
                    eq.push((u, -1));
                }
            }
            if rel.unpublished > 0 {
                eq.push((n, -1));
                parts.push((n, rel.unpublished));
                n += 1;
            }
            if !eq.is_empty() {
                equations.push(eq);
            }
        }
        let found = disclosure::recoverable(n, &equations);
        for (r, u) in unknown.iter().enumerate() {
            if let Some(u) = u
                && found[*u].is_some()
            {
                return Err(format!(
                    "row {r} ({} {}) is recoverable",
                    l.school[r], l.group[r]
                ));
            }
        }
        for (u, size) in parts {
            if found[u].is_some() && size < 11 {
                return Err(format!("a part of {size} is recoverable"));
            }
        }
        Ok(())
    }

    #[test]
    fn a_combination_of_relations_that_pins_a_row_down_is_broken() {
        // Found by searching random districts: after the per-relation passes, adding up
        // school S2's and the district's relations still pinned down a hidden value; hiding
        // S2's all-students row (its smallest part of the combination) breaks it.
        let sizes = [
            (11, 12, 4, 0, 37, 21, 49),
            (10, 6, 2, 0, 3, 7, 10),
            (23, 32, 1, 1, 37, 14, 0),
        ];
        let p = plan("");
        let l = random_layout(&sizes);
        let out = suppress(&p, &l, "district");
        let s2_all = (0..l.len())
            .find(|&r| l.school[r] == "S2" && l.group[r] == "all")
            .unwrap();
        assert_eq!(out.rule[s2_all], Some(Rule::Combination));
        nothing_recoverable(&p, &l, &out.suppressed).unwrap();
        // Before that step the per-relation rules alone left it recoverable.
        let mut before = out.suppressed.clone();
        before[s2_all] = false;
        assert!(
            nothing_recoverable(&p, &l, &before)
                .unwrap_err()
                .contains("recoverable")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, failure_persistence: None, ..Default::default() })]
        /// Whatever the sizes: every relation ends safe, and no combination of relations pins
        /// down a hidden row with students in it, or an unpublished part under 11.
        #[test]
        fn random_districts_end_safe_with_nothing_recoverable(
            sizes in proptest::collection::vec((0i64..40, 0i64..40, 0i64..5, 0i64..4, 0i64..40, 0i64..30, 0i64..60), 2..5)
        ) {
            let p = plan("");
            let l = random_layout(&sizes);
            let out = suppress(&p, &l, "district");
            if let Err(e) = nothing_recoverable(&p, &l, &out.suppressed) {
                return Err(proptest::test_runner::TestCaseError::fail(e));
            }
        }
    }
}

/// Score slices end where a student's rows do, so a student's scores are never split.
#[test]
fn score_slices_end_with_a_student() {
    let ids = UInt32Chunked::new("id".into(), [5u32, 5, 1, 9, 9, 9, 2]);
    assert_eq!(
        super::scores::student_slices(&ids, 2),
        vec![(0, 2), (2, 4), (6, 1)]
    );
    assert_eq!(super::scores::student_slices(&ids, 100), vec![(0, 7)]);
    assert_eq!(
        super::scores::student_slices(&UInt32Chunked::new("id".into(), [0u32; 0]), 4),
        vec![(0, 0)]
    );
}
