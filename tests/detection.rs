//! The detection study on a fixed seed: a generated 74,000-student district over four school
//! years whose twelve planted gap trends (English learners rising or falling 15 points a year,
//! or everyone else falling) run through every year, at schools from the smallest to the
//! largest. Flags on the same students find every trend with enough matched students to flag
//! and rarely fire elsewhere; flags on this year's students against last year's find almost
//! none. `equity-gap bench --years 4 --detection` prints the same study.

use equity_gap::metrics;
use equity_gap::pipeline::{self, plan::Basis};
use equity_gap::sample::model::SurveyVolume;
use equity_gap::sample::{self, detection};
use std::path::Path;

#[test]
fn planted_trends_are_found_on_the_same_students_basis() {
    let district = sample::generate(74_000, 85, 4, 2026, SurveyVolume::Light);
    let trends = sample::planted_trends(&district);
    let tables = sample::typed_tables(&district).unwrap();
    drop(district);
    // Trends at schools of every size: the largest has over twice the smallest's students.
    assert_eq!(trends.len(), 12);
    let sizes: Vec<usize> = trends.iter().map(|t| t.students).collect();
    let (small, large) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(*large > 2 * small, "{sizes:?}");
    assert!(
        trends.iter().all(|t| t.years.len() == 3),
        "three years of trend"
    );

    let study = |basis: Basis| {
        let toml = format!(
            "{}\n[flags]\nbasis = \"{}\"\n",
            sample::pipeline_toml("t", "", "parquet", None, SurveyVolume::Light),
            basis.name()
        );
        let plan =
            pipeline::from_text(&toml, Path::new("/t/pipeline.toml"), String::new()).unwrap();
        let m = metrics::compute(&plan, &tables).unwrap();
        let rows = match basis {
            Basis::SameStudents => "cohort_gaps",
            Basis::CrossSectional => "gaps",
        };
        let d = detection::study(
            basis,
            m.table(rows).unwrap(),
            m.table("flags").unwrap(),
            &trends,
            "2025-26",
            "spring",
            plan.privacy.min_n_accountability,
        )
        .unwrap();
        eprintln!("{}", detection::report(&d));
        d
    };

    let same = study(Basis::SameStudents);
    // Every trend with at least 30 matched students on each side is flagged with its label;
    // the three smallest schools have too few matched English learners to flag.
    assert_eq!(same.eligible_trends(), 9);
    assert_eq!(same.found(), 9);
    // One closing-by-decline school also reads as a bright spot at one window: its English
    // learners' change there (+8.4, from 39 students) is noise larger than the others' fall.
    assert_eq!(same.mislabelled(), 1);
    assert_eq!(same.eligible_elsewhere, 981);
    assert_eq!(same.flagged_elsewhere, 37, "3.8%, within the nominal 5%");
    // Counting only the summative (spring) window: all nine, none mislabelled, 15 of 330 rows
    // elsewhere. Two windows agreeing: six found, no row elsewhere.
    assert_eq!(same.found_last_window(), 9);
    assert_eq!(same.mislabelled_last_window(), 0);
    assert_eq!(same.elsewhere_by_window["spring"], (330, 15));
    assert_eq!(same.found_two_windows(), 6);
    assert_eq!(same.flagged_elsewhere_two_windows, 0);
    let se_same = same.median_se.unwrap();
    assert!((5.0..5.3).contains(&se_same), "{se_same}");

    let cross = study(Basis::CrossSectional);
    // This year's students against last year's: every trend is eligible (more students
    // count), but the change's standard error is nearly three times as large, so one is found,
    // and a closing by decline reads as a bright spot.
    assert_eq!(cross.eligible_trends(), 12);
    assert_eq!(cross.found(), 1);
    assert_eq!(cross.mislabelled(), 1);
    let se_cross = cross.median_se.unwrap();
    assert!(se_cross > 2.5 * se_same, "{se_cross} vs {se_same}");
}
