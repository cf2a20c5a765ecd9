//! The report model and charts on hand-made metric rows: what a packet says about a gap's
//! change, and that a suppressed group reaches no chart or table with a value.

use super::charts::Kind;
use super::figures::figures;
use super::model::{
    Baseline, Builder, CellKey, CohortGap, Gap, Matched, Provenance, Rows, SUPPRESSED_TEXT, School,
};
use crate::pipeline::{self, Plan};
use crate::sample::model::SurveyVolume;
use std::path::Path;

fn plan() -> Plan {
    let text = crate::sample::pipeline_toml("t", "", "parquet", None, SurveyVolume::Light);
    pipeline::from_text(&text, Path::new("/t/pipeline.toml"), String::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn key(school: &str, year: &str) -> CellKey {
    CellKey {
        school_id: school.into(),
        school_year: year.into(),
        window: "spring".into(),
        assessment: "sbac_summative".into(),
        subject: "ela".into(),
    }
}

fn baseline(school: &str, group: &str, n: Option<i64>, mean: Option<f64>) -> Baseline {
    Baseline {
        key: key(school, "2025-26"),
        group: group.into(),
        n,
        mean_dfs: mean,
        bands: mean.map(|_| [40.0, 30.0, 20.0, 10.0]),
        pct_met: mean.map(|_| 30.0),
    }
}

fn gap(change: (f64, f64, f64), distinguishable: bool) -> Gap {
    let (gap_change, focal_change, reference_change) = change;
    Gap {
        key: key("101", "2025-26"),
        metric: "mean_dfs".into(),
        focal: "english_learner".into(),
        reference: "rest".into(),
        n_focal: Some(60),
        n_reference: Some(240),
        gap: Some(30.0),
        ci: Some((20.0, 40.0)),
        distinguishable: Some(true),
        baseline_gap: Some(30.0 - gap_change),
        baseline_se: Some(5.0),
        gap_change: Some(gap_change),
        change_se: Some(4.0),
        change_distinguishable: Some(distinguishable),
        focal_change: Some(focal_change),
        reference_change: Some(reference_change),
        target_gap: Some(25.0),
        on_track: Some(false),
        suppressed: false,
    }
}

fn provenance() -> Provenance {
    Provenance {
        data_as_of: "2026-05-19".into(),
        run_id: "20261123T000000Z".into(),
        pipeline: "t".into(),
        pipeline_hash: "abc".into(),
        tool_version: "0.1.0".into(),
    }
}

fn school() -> School {
    School {
        id: "101".into(),
        name: "Alder Elementary".into(),
        level: "elementary".into(),
        supervisor: "Dr. Ana Rivera".into(),
        triad: "T01".into(),
    }
}

fn rows(gaps: Vec<Gap>) -> Rows {
    Rows {
        baselines: vec![
            baseline("101", "all", Some(300), Some(-20.25)),
            baseline("101", "english_learner", Some(60), Some(-45.0)),
            baseline("101", "foster", None, None),
            baseline("district", "all", Some(9000), Some(-30.0)),
            baseline("district", "foster", Some(80), Some(-61.7)),
        ],
        gaps,
        ..Rows::default()
    }
}

#[test]
fn a_narrowing_gap_is_told_by_who_moved() {
    let plan = plan();
    let prov = provenance();
    // The focal group rose 8 and the others fell 1: narrowed by 9, mostly because EL rose.
    let r = rows(vec![gap((-9.0, 8.0, -1.0), true)]);
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let g = &p.subjects[0].gaps[0];
    assert_eq!(g.pair, "English learners vs other students");
    assert!(!g.closing_by_decline);
    assert!(
        g.story.starts_with(
            "Comparing this year's students with last year's, the gap narrowed by 9.0 points since a year earlier, mostly because English learners rose: English learners' average rose by 8.0 points, other students' average fell by 1.0 points. The change is larger than year-to-year noise would explain."
        ),
        "{}",
        g.story
    );
    assert_eq!(g.gap_change.as_deref(), Some("\u{2212}9.0"));
    assert_eq!(g.on_track.as_deref(), Some("not yet on track"));

    // Both fell, the others more: closing by decline, said so.
    let r = rows(vec![gap((-6.0, -2.0, -8.0), true)]);
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let g = &p.subjects[0].gaps[0];
    assert!(g.closing_by_decline);
    assert!(
        g.story.contains(
            "because other students fell; English learners did not rise (closing by decline)"
        ),
        "{}",
        g.story
    );
    // Widened within noise.
    let r = rows(vec![gap((4.0, -3.0, 1.0), false)]);
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let g = &p.subjects[0].gaps[0];
    assert!(g.story.starts_with("Comparing this year's students with last year's, the gap widened by 4.0 points since a year earlier, mostly because English learners fell"), "{}", g.story);
    assert!(g.story.contains("within year-to-year noise"));
}

#[test]
fn the_same_students_change_is_shown_beside_the_cross_sectional_one() {
    let plan = plan();
    let prov = provenance();
    // Cross-sectional: narrowed by 9 with EL rising 8. Same students: 250 of the 300 followed
    // (40 EL, 210 others), the gap narrowed by 9.5 (−16.7 to −2.3), EL +2.0 and others −7.5: mostly
    // the others falling, so closing by decline on this basis.
    let mut r = rows(vec![gap((-9.0, 8.0, -1.0), true)]);
    let cohort = |focal: &str, reference: &str, suppressed: bool| CohortGap {
        key: key("101", "2025-26"),
        focal: focal.into(),
        reference: reference.into(),
        n_focal: (!suppressed).then_some(40),
        n_reference: (!suppressed).then_some(210),
        focal_change: (!suppressed).then_some(2.0),
        reference_change: (!suppressed).then_some(-7.5),
        gap_change: (!suppressed).then_some(-9.5),
        ci: (!suppressed).then_some((-16.7, -2.3)),
        distinguishable: (!suppressed).then_some(true),
        suppressed,
    };
    r.cohort_gaps = vec![cohort("english_learner", "rest", false)];
    r.cohort_change = vec![Matched {
        key: key("101", "2025-26"),
        group: "all".into(),
        n_matched: Some(250),
        mean_change: Some(-3.25),
        suppressed: false,
    }];
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let s = &p.subjects[0];
    assert_eq!(
        s.coverage.as_deref(),
        Some("250 of 300 students tested this spring were also tested here last spring.")
    );
    let g = &s.gaps[0];
    let same = g.same.as_ref().expect("a same-students row");
    assert_eq!(
        same.sentence,
        "Among the 250 students tested here both this spring and last spring, the gap narrowed by 9.5 points (95% range 2.3 to 16.7). On average English learners rose by 2.0 points and other students fell by 7.5 points."
    );
    assert_eq!(same.students.as_deref(), Some("250 students"));
    assert_eq!(same.change.as_deref(), Some("\u{2212}9.5"));
    assert_eq!(
        same.interval.as_deref(),
        Some("\u{2212}16.7 to \u{2212}2.3")
    );
    assert!(
        same.closing_by_decline,
        "the others fell by more than EL rose"
    );
    assert!(!g.closing_by_decline, "cross-sectionally EL rose by more");
    // The first page reads the same students' change where there is one.
    assert_eq!(
        p.glance[0].rows[0].change,
        "\u{2212}3.3 among the 250 students tested here both years"
    );
    // The chart shows both, the same students' with its interval.
    let figs = super::figures::figures(&p);
    let chart = &figs
        .iter()
        .find(|f| f.chart.id == "ela-gap-change")
        .expect("a change chart")
        .chart;
    assert_eq!(
        chart.table.rows[0],
        [
            "English learners vs other students",
            "\u{2212}9.5",
            "\u{2212}16.7 to \u{2212}2.3",
            "250 students",
            "\u{2212}9.0"
        ]
    );

    // A hidden same-students row shows no value anywhere.
    r.cohort_gaps = vec![cohort("english_learner", "rest", true)];
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let same = p.subjects[0].gaps[0].same.as_ref().unwrap();
    assert!(same.suppressed);
    assert_eq!(same.change, None);
    assert_eq!(
        same.sentence,
        format!(
            "Among the students tested here both this spring and last spring: {SUPPRESSED_TEXT}."
        )
    );
}

#[test]
fn a_suppressed_group_reaches_no_chart_or_table_with_a_value() {
    let plan = plan();
    let prov = provenance();
    let r = rows(vec![]);
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    let s = &p.subjects[0];
    let foster = s
        .baselines
        .iter()
        .find(|b| b.who.group == "foster")
        .unwrap();
    assert!(foster.who.suppressed);
    assert_eq!(foster.who.n, None);
    assert_eq!(foster.mean_dfs, None);
    assert_eq!(foster.bands, None);
    let all = s.baselines.iter().find(|b| b.who.group == "all").unwrap();
    assert_eq!(all.mean_dfs.as_deref(), Some("\u{2212}20.3"));
    assert_eq!(all.district_mean_dfs.as_deref(), Some("\u{2212}30.0"));
    assert_eq!(p.glance[0].rows[0].school, "\u{2212}20.3");

    let figs = figures(&p);
    let bars = figs.iter().find(|f| f.chart.id == "ela-mean-dfs").unwrap();
    let Kind::Bars(b) = &bars.chart.kind else {
        panic!("bars")
    };
    let row = b.rows.iter().find(|r| r.label == "Foster youth").unwrap();
    assert_eq!(
        (row.value, row.text.as_str()),
        (None, "not shown to protect small groups")
    );
    let table_row = bars
        .chart
        .table
        .rows
        .iter()
        .find(|r| r[0] == "Foster youth")
        .unwrap();
    // Not even the district's value for the group sits on the suppressed row.
    assert_eq!(
        table_row,
        &["Foster youth", "not shown to protect small groups", "", ""]
    );
    assert!(
        bars.chart.alt.ends_with(
            "Foster youth: average distance from standard not shown to protect small groups."
        ),
        "{}",
        bars.chart.alt
    );

    // The drawn SVG: the foster row's text is the note, with no number beside it.
    let drawn = bars.chart.draw("provenance", true).unwrap();
    let svg = drawn.svg;
    assert!(svg.contains(">\nFoster youth\n</text>") || svg.contains(">Foster youth"));
    assert!(
        !svg.contains("61.7"),
        "the district's foster value is not drawn for a hidden group"
    );
    let png = drawn.png.unwrap();
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1600);
}

#[test]
fn chart_ticks_are_round() {
    let (lo, hi, t) = super::charts::ticks(-47.0, 12.0);
    assert_eq!((lo, hi), (-50.0, 20.0));
    assert_eq!(t, vec![-50.0, -40.0, -30.0, -20.0, -10.0, 0.0, 10.0, 20.0]);
}

/// A chart's texts leave its drawing as Typst labels, read as an SVG viewer shows them: the
/// newline plotters writes on each side is not part of the text, and escapes are undone.
#[test]
fn chart_texts_come_apart_as_shown() {
    let svg = "<svg><rect width=\"5\"/><text x=\"410.5\" y=\"20\" font-size=\"12\" \
               text-anchor=\"end\" fill=\"#333333\" font-weight=\"bold\">\n\u{2212}64.4 \
               \u{b7} n 235\n</text><text x=\"1\">kept</text><text x=\"3\" y=\"4\" \
               font-size=\"9\">\nA &amp; B\n</text></svg>";
    let (drawing, labels) = super::charts::text_apart(svg);
    assert_eq!(
        drawing,
        "<svg><rect width=\"5\"/><text x=\"1\">kept</text></svg>"
    );
    let texts: Vec<(&str, &str, f64, f64, bool)> = labels
        .iter()
        .map(|l| (l.text.as_str(), l.anchor.as_str(), l.x, l.size, l.bold))
        .collect();
    assert_eq!(
        texts,
        [
            ("\u{2212}64.4 \u{b7} n 235", "end", 410.5, 12.0, true),
            ("A & B", "start", 3.0, 9.0, false),
        ]
    );
    assert_eq!(labels[0].fill, "#333333");
}

/// While the packets are typeset the allocator keeps freed pages (purge delay -1, "never"),
/// and afterwards its default returns: one second, mimalloc's default, which is how this test
/// knows the option's number names the purge delay. No test in this binary typesets a run.
#[test]
fn freed_pages_stay_with_the_allocator_while_typesetting() {
    use super::pdf::KeepFreedPages;
    // SAFETY: reads one of mimalloc's integer options.
    let delay = || unsafe { libmimalloc_sys::mi_option_get(KeepFreedPages::PURGE_DELAY) };
    assert_eq!(delay(), 1000);
    {
        let _keep = KeepFreedPages::new();
        assert_eq!(delay(), -1);
    }
    assert_eq!(delay(), 1000);
}

/// The PDF input of a hand-made spring packet: baselines, a gap, a Dashboard table with a
/// swatch and a suppressed group, and its charts.
fn hand_made_job() -> super::pdf::Job {
    use super::model::Dashboard;
    let plan = plan();
    let prov = provenance();
    let mut r = rows(vec![gap((-9.0, 8.0, -1.0), true)]);
    for (group, n, color) in [
        ("all", 300, Some(3)),
        ("english_learner", 60, None),
        ("foster", 9, None),
    ] {
        r.dashboard.push(Dashboard {
            school_id: "101".into(),
            school_year: "2025-26".into(),
            assessment: "sbac_summative".into(),
            subject: "ela".into(),
            group: group.into(),
            n: Some(n),
            status: Some(-20.3),
            change: Some(4.1),
            status_level: Some(2),
            change_level: Some(4),
            color,
        });
    }
    let p = Builder::new(&plan, &r, &prov, "2025-26").packet(&school(), "spring", vec![]);
    assert!(
        !p.dashboard.is_empty(),
        "the packet has a Dashboard table with a swatch"
    );
    let figs = figures(&p);
    let svgs: Vec<String> = figs
        .iter()
        .map(|f| f.chart.draw("provenance", false).map(|d| d.svg))
        .collect::<anyhow::Result<_>>()
        .unwrap();
    super::pdf_job(&p, &figs, &svgs, "101/spring", "key").unwrap()
}

/// The template gives a table row its height when it can count the lines of every cell (with
/// Inter's advances, which `pdf::measures` reads: one line, or a text broken at its spaces),
/// and lets any other row measure itself. A row given its height must come out exactly as one
/// that measured itself: the PDF is the same, byte for byte, when the template is told no
/// text's width. And the given heights are used: told a wrong cap height, the same packet
/// comes out differently.
#[test]
fn rows_given_their_height_typeset_as_rows_that_measure_it() {
    let job = hand_made_job();
    let data: serde_json::Value = serde_json::from_slice(&job.data).unwrap();
    let measured = super::pdf::packet(&job).unwrap();

    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut data = data.clone();
        edit(&mut data["measures"]);
        let job = super::pdf::Job {
            data: serde_json::to_vec(&data).unwrap(),
            ..job.clone()
        };
        super::pdf::packet(&job).unwrap()
    };
    let unmeasured = with(&|m| {
        m["widths"] = serde_json::json!({});
        m.as_object_mut().unwrap().remove("suppressed");
    });
    assert!(
        measured == unmeasured,
        "a row given its height differs from one measured"
    );
    let wrong = with(&|m| m["cap_height"] = serde_json::json!(0.9));
    assert!(measured != wrong, "no row was given its height");
}

/// "Page N of M" is set into each page's footer after layout. The PDF is, byte for byte, the
/// one the template gives with a footer that counts its pages itself (which takes Typst two
/// passes of layout), so the numbers' text and place are the footer's own.
#[test]
fn page_numbers_set_after_layout_are_the_footers_own() {
    let job = hand_made_job();
    let numbered = super::pdf::packet(&job).unwrap();
    let pages = String::from_utf8_lossy(&numbered)
        .matches("/Type/Page/")
        .count();
    assert!(pages > 3, "{pages} pages");

    let template = include_str!("templates/packet.typ");
    let footer = "  footer: {
    set text(6.5pt, fill: muted)
    line(length: 100%, stroke: 0.5pt + rule)
    v(-2pt)
    p.provenance_line
  },";
    assert!(
        template.contains(footer),
        "the template's footer is as this test knows it"
    );
    let counting = template.replace(
        footer,
        r#"  footer: context {
    set text(6.5pt, fill: muted)
    line(length: 100%, stroke: 0.5pt + rule)
    v(-2pt)
    grid(
      columns: (1fr, auto),
      gutter: 12pt,
      p.provenance_line,
      [Page #counter(page).display("1 of 1", both: true)],
    )
  },"#,
    );
    let counted = super::pdf::typeset(&job, &counting, false).unwrap();
    assert!(
        numbered == counted,
        "page numbers differ from the footer's own"
    );
}

/// What the template is told of the packet's texts: Inter Regular's cap height and the
/// advance widths of every short text, in em, rounded up to a ten-thousandth.
#[test]
fn the_template_is_told_the_width_of_each_short_text() {
    let packet = serde_json::json!({
        "n": "\u{2212}64.4",
        "rows": [{"label": "All students", "n": 3}, "x".repeat(65), "\u{6f22}", "Hispanic/Latino"],
    });
    let m = super::pdf::measures(&packet, SUPPRESSED_TEXT);
    // Inter: 2816 units to the em, capitals 2048 high.
    assert_eq!(m.cap_height, 2048.0 / 2816.0);
    // − 6 4 . 4 advance 1856 + 1756 + 1808 + 776 + 1808 = 8004 units: 2.842329… em.
    assert_eq!(m.widths["\u{2212}64.4"], 2.8424);
    assert_eq!(m.widths["All students"], 5.5739);
    // A 65-character text is a sentence, and Inter has no 漢: neither is measured.
    assert_eq!(m.widths.len(), 3);
    // The words of a text that breaks only at its spaces: "All" and "students". A line may
    // break after the slash of "Hispanic/Latino", so its words are not given.
    assert_eq!(m.space, 0.2813);
    assert_eq!(m.words.len(), 1);
    assert_eq!(m.words["All students"], vec![1.1506, 4.1421]);
    assert!(m.words["All students"].iter().sum::<f64>() + m.space >= m.widths["All students"]);
    // In Inter Italic.
    assert_eq!(m.suppressed, Some(16.1932));
}

/// Consecutive opaque polylines of one style become one path of as many pieces; a change of
/// style, a translucent line and anything else end the run, and keep their place.
#[test]
fn runs_of_one_stroke_become_one_path() {
    let svg = concat!(
        "<svg>\n",
        "<polyline fill=\"none\" opacity=\"1\" stroke=\"#E69F00\" stroke-width=\"3\" points=\"172,358 182,359 \"/>\n",
        "<polyline fill=\"none\" opacity=\"1\" stroke=\"#E69F00\" stroke-width=\"3\" points=\"190,360 200,360 \"/>\n",
        "<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"172,400 327,406 482,420 \"/>\n",
        "<polyline fill=\"none\" opacity=\"0.5\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"1,2 3,4 \"/>\n",
        "<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"5,6 7,8 \"/>\n",
        "<circle cx=\"1\" cy=\"2\" r=\"3\"/>\n",
        "<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"9,9 10,10 \"/>\n",
        "</svg>\n",
    );
    assert_eq!(
        super::charts::join_strokes(svg),
        concat!(
            "<svg>\n",
            "<path fill=\"none\" opacity=\"1\" stroke=\"#E69F00\" stroke-width=\"3\" d=\"M172,358 L182,359 M190,360 L200,360\"/>\n",
            "<path fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" d=\"M172,400 L327,406 L482,420\"/>\n",
            "<polyline fill=\"none\" opacity=\"0.5\" stroke=\"#0072B2\" stroke-width=\"4\" points=\"1,2 3,4 \"/>\n",
            "<path fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" d=\"M5,6 L7,8\"/>\n",
            "<circle cx=\"1\" cy=\"2\" r=\"3\"/>\n",
            "<path fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"4\" d=\"M9,9 L10,10\"/>\n",
            "</svg>\n",
        )
    );
}
