//! Same-students change by hand: who is matched, each change, and the pair arithmetic.

use super::{Sc, St, b, close, f, plan, row, run, scores, students};
use polars::prelude::*;

/// One school (S1), ELA, spring, 2024-25 (grade 4, at = 2473) and 2025-26 (grade 5, at = 2502):
///
/// | student | group | 2024-25 | 2025-26 | change |
/// |---|---|---|---|---|
/// | A | F, hispanic | S1 2453 (−20) | S1 2492 (−10) | +10 |
/// | B | F, hispanic | S1 2483 (+10) | S1 2532 (+30) | +20 |
/// | C | M, white | S1 2473 (0) | S1 2497 (−5) | −5 |
/// | D | M, white | S1 2493 (+20) | S1 2507 (+5) | −15 |
/// | H | X, hispanic | S1 2463 (−10) | S1 2502 (0) | +10 |
/// | E | F, hispanic | — | S1 2502 | not matched (no score a year earlier) |
/// | G | M, white | S2 2473 | S1 2522 | not matched (moved schools) |
fn matched() -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let people = [
        ("A", "F", "HI", Some(("S1", 2453)), 2492),
        ("B", "F", "HI", Some(("S1", 2483)), 2532),
        ("C", "M", "WH", Some(("S1", 2473)), 2497),
        ("D", "M", "WH", Some(("S1", 2493)), 2507),
        ("H", "X", "HI", Some(("S1", 2463)), 2502),
        ("E", "F", "HI", None, 2502),
        ("G", "M", "WH", Some(("S2", 2473)), 2522),
    ];
    let mut st = Vec::new();
    let mut sc = Vec::new();
    for (id, gender, race, before, now) in people {
        if let Some((school, score)) = before {
            st.push((id, "2024-25", school, gender, race, "EO"));
            sc.push((id, "2024-25", school, "spring", "ela", 4, score));
        }
        st.push((id, "2025-26", "S1", gender, race, "EO"));
        sc.push((id, "2025-26", "S1", "spring", "ela", 5, now));
    }
    (st, sc)
}

const PAIRS: &str = r#"
[gaps]
pairs = [
  { focal = "female", reference = "male" },
  { focal = "female", reference = "all" },
  { focal = "female", reference = "rest" },
  { focal = "nonbinary", reference = "male" },
]
"#;

fn change(m: &super::Metrics, school: &'static str, group: &'static str) -> DataFrame {
    row(
        m,
        "cohort_change",
        &[
            ("school_id", school),
            ("school_year", "2025-26"),
            ("group", group),
        ],
    )
}

fn pair(m: &super::Metrics, focal: &'static str, reference: &'static str) -> DataFrame {
    row(
        m,
        "cohort_gaps",
        &[
            ("school_id", "S1"),
            ("school_year", "2025-26"),
            ("focal_group", focal),
            ("reference_group", reference),
        ],
    )
}

#[test]
fn matched_students_and_their_change() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (st, sc) = matched();
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    // all: A, B, C, D, H; E has no score a year earlier and G was at another school.
    let all = change(&m, "S1", "all");
    close(f(&all, "n_matched"), 5.0);
    close(f(&all, "mean_change"), 4.0);
    // Σd² = 850: sqrt((5·850 − 20²) / (5·4)) = sqrt(192.5).
    close(f(&all, "sd_change"), 192.5f64.sqrt());
    assert_eq!(b(&all, "suppressed"), Some(false));
    let female = change(&m, "S1", "female");
    close(f(&female, "n_matched"), 2.0);
    close(f(&female, "mean_change"), 15.0);
    close(f(&female, "sd_change"), 50f64.sqrt());
    close(f(&change(&m, "S1", "male"), "mean_change"), -10.0);
    close(f(&change(&m, "S1", "hispanic"), "mean_change"), 40.0 / 3.0);
    let one = change(&m, "S1", "nonbinary");
    close(f(&one, "n_matched"), 1.0);
    assert_eq!(f(&one, "sd_change"), None, "n = 1 has no SD");
    // The district covers the schools' matched students: S1's five (S2 has no 2025-26 row).
    close(f(&change(&m, "district", "all"), "n_matched"), 5.0);
    close(f(&change(&m, "district", "all"), "mean_change"), 4.0);
    // No 2024-25 rows: nothing a year earlier to match.
    let earlier = m
        .table("cohort_change")
        .unwrap()
        .clone()
        .lazy()
        .filter(col("school_year").eq(lit("2024-25")))
        .collect()
        .unwrap();
    assert_eq!(earlier.height(), 0, "{earlier}");
}

#[test]
fn pairs_among_the_same_students() {
    let p = plan(&format!("{PAIRS}\n[privacy]\nmin_n_display = 1\n"));
    let (st, sc) = matched();
    let m = run(&p, students(&st), scores(&sc, "sbac"));

    // female (+10, +20) vs male (−5, −15): the gap narrowed by 25 among these students.
    let fm = pair(&m, "female", "male");
    close(f(&fm, "n_focal"), 2.0);
    close(f(&fm, "n_reference"), 2.0);
    close(f(&fm, "focal_change"), 15.0);
    close(f(&fm, "reference_change"), -10.0);
    close(f(&fm, "gap_change"), -25.0);
    close(f(&fm, "se"), (50.0f64 / 2.0 + 50.0 / 2.0).sqrt());
    close(f(&fm, "ci_low"), -25.0 - 1.96 * 50f64.sqrt());
    close(f(&fm, "ci_high"), -25.0 + 1.96 * 50f64.sqrt());
    assert_eq!(b(&fm, "distinguishable"), Some(true));

    // R = all: rest(F) = C, D, H (−5, −15, +10), variance (3·350 − 10²)/(3·2) = 950/6;
    // se = sqrt(950/6/3 + 50/2) · 3/5, and gap_change = 4 − 15.
    let fa = pair(&m, "female", "all");
    close(f(&fa, "n_reference"), 5.0);
    close(f(&fa, "reference_change"), 4.0);
    close(f(&fa, "gap_change"), -11.0);
    close(f(&fa, "se"), (950.0f64 / 6.0 / 3.0 + 25.0).sqrt() * 0.6);

    // R = rest: the same students without the factor.
    let fr = pair(&m, "female", "rest");
    close(f(&fr, "n_reference"), 3.0);
    close(f(&fr, "reference_change"), -10.0 / 3.0);
    close(f(&fr, "gap_change"), -10.0 / 3.0 - 15.0);
    close(f(&fr, "se"), (950.0f64 / 6.0 / 3.0 + 25.0).sqrt());

    // A side of one student: no standard error, no interval.
    let nm = pair(&m, "nonbinary", "male");
    close(f(&nm, "gap_change"), -20.0);
    assert_eq!(f(&nm, "se"), None);
    assert_eq!(b(&nm, "distinguishable"), None);
}

/// `n` students of each gender at `school` tested both years, female changes `female` and male
/// `male` (each ±1 by turns, so the standard deviation is about 1), plus `x` nonbinary students.
fn cohort(
    school: &'static str,
    n: usize,
    x: usize,
    female: i32,
    male: i32,
) -> (Vec<St<'static>>, Vec<Sc<'static>>) {
    let mut st = Vec::new();
    let mut sc = Vec::new();
    let groups = [("F", n, female), ("M", n, male), ("X", x, 0)];
    for (gender, count, d) in groups {
        for i in 0..count {
            let id: &'static str = Box::leak(format!("{school}-{gender}{i}").into_boxed_str());
            let wiggle = if i % 2 == 0 { 1 } else { -1 };
            for (year, grade, at, dfs) in
                [("2024-25", 4, 2473, 0), ("2025-26", 5, 2502, d + wiggle)]
            {
                st.push((id, year, school, gender, "HI", "EO"));
                sc.push((id, year, school, "spring", "ela", grade, at + dfs));
            }
        }
    }
    (st, sc)
}

#[test]
fn cohort_change_takes_part_in_complementary_suppression() {
    // 12 female, 12 male, 3 nonbinary matched students: nonbinary is hidden (3 < 11), and the
    // gender partition then hides the smallest published part, female (a tie with male, broken
    // by group order), so that all − female − male does not give the nonbinary students' sum.
    let p = plan("[gaps]\npairs = [{ focal = \"female\", reference = \"male\" }]\n");
    let (st, sc) = cohort("S1", 12, 3, 5, 0);
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let nb = change(&m, "S1", "nonbinary");
    assert_eq!(b(&nb, "suppressed"), Some(true));
    assert_eq!(f(&nb, "n_matched"), None);
    assert_eq!(f(&nb, "mean_change"), None);
    let female = change(&m, "S1", "female");
    assert_eq!(b(&female, "suppressed"), Some(true));
    assert_eq!(f(&female, "mean_change"), None);
    assert_eq!(b(&change(&m, "S1", "male"), "suppressed"), Some(false));
    close(f(&change(&m, "S1", "all"), "n_matched"), 27.0);
    // The pair waits for its hidden side.
    let fm = pair(&m, "female", "male");
    assert_eq!(b(&fm, "suppressed"), Some(true));
    assert_eq!(f(&fm, "gap_change"), None);
    assert_eq!(f(&fm, "n_focal"), None);
    let counts: Vec<_> = m
        .suppression
        .iter()
        .find(|(t, _)| *t == "cohort_change")
        .map(|(_, c)| c.iter().map(|(r, n)| (r.code(), *n)).collect())
        .unwrap();
    assert!(counts.contains(&("partition", 2)), "{counts:?}");
    // The counts are of published rows: they add up to the table's suppressed rows.
    let table = m.table("cohort_change").unwrap();
    let suppressed = table
        .column("suppressed")
        .unwrap()
        .bool()
        .unwrap()
        .sum()
        .unwrap() as usize;
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<usize>(), suppressed);
}

fn flags_of(m: &super::Metrics) -> Vec<(String, String, String)> {
    let df = m.table("flags").unwrap();
    let s = |c: &str| -> Vec<String> {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    };
    let (school, flag, reason) = (s("school_id"), s("flag"), s("reason"));
    (0..df.height())
        .map(|i| (school[i].clone(), flag[i].clone(), reason[i].clone()))
        .collect()
}

#[test]
fn flags_on_the_same_students_name_their_basis_and_label_decline_by_who_moved() {
    let p = plan(
        "[gaps]\npairs = [{ focal = \"female\", reference = \"male\" }]\n[flags.low_growth]\nenabled = false\n",
    );
    let mut st = Vec::new();
    let mut sc = Vec::new();
    // DECL: female +2, male −10: the gap narrowed by 12, mostly because male students fell
    // (the focal group rose a little, which the earlier rule called a bright spot).
    // BRIG: female +10, male −2: narrowed by 12, mostly because female students rose.
    // WIDE: female −6, male 0: widened by 6.
    // SMAL: as DECL with 29 per side: below min_n_accountability, no flag.
    for (school, n, fc, mc) in [
        ("DECL", 30, 2, -10),
        ("BRIG", 30, 10, -2),
        ("WIDE", 30, -6, 0),
        ("SMAL", 29, 2, -10),
    ] {
        let (a, b) = cohort(school, n, 0, fc, mc);
        st.extend(a);
        sc.extend(b);
    }
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let flags: Vec<(String, String, String)> = flags_of(&m)
        .into_iter()
        .filter(|(s, _, _)| s != "district")
        .collect();
    let kinds: Vec<(&str, &str)> = flags
        .iter()
        .map(|(s, k, _)| (s.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("BRIG", "bright_spot"),
            ("DECL", "closing_by_decline"),
            ("WIDE", "gap_widening")
        ]
    );
    // se = sqrt(30/29/30 · 2) ≈ 0.2626, so the interval is −12 ± 0.51.
    assert_eq!(
        flags[1].2,
        "In ELA at the spring window, among the 30 female students and 30 male students tested here both this spring and in spring 2024-25, female students gained 12.0 points on male students (95% range 11.5 to 12.5), but this is closing by decline: male students' distance from standard fell by 10.0 points on average while female students' rose by 2.0 points."
    );
    assert!(
        flags[0].2.ends_with(
            "female students gained 12.0 points on male students (95% range 11.5 to 12.5); female students' distance from standard rose by 10.0 points on average."
        ),
        "{}",
        flags[0].2
    );
    assert!(
        flags[2]
            .2
            .contains("male students gained 6.0 points on female students"),
        "{}",
        flags[2].2
    );

    // The same data on the cross-sectional basis: the decline rule is the same for both.
    let p = plan(
        "[gaps]\npairs = [{ focal = \"female\", reference = \"male\" }]\n[flags]\nbasis = \"cross_sectional\"\n[flags.low_growth]\nenabled = false\n",
    );
    let m = run(&p, students(&st), scores(&sc, "sbac"));
    let kinds: Vec<(String, String)> = flags_of(&m)
        .into_iter()
        .filter(|(s, _, _)| s != "district")
        .map(|(s, k, _)| (s, k))
        .collect();
    assert_eq!(
        kinds,
        [
            ("BRIG".to_string(), "bright_spot".to_string()),
            ("DECL".to_string(), "closing_by_decline".to_string()),
            ("WIDE".to_string(), "gap_widening".to_string())
        ]
    );
}
