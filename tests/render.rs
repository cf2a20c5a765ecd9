//! The render stage, checked the way a person would: the PDF's text and pages through poppler
//! (pdftotext, pdftoppm, pdfinfo), the HTML in headless Chromium (tests/browser/check.js),
//! the charts' files, and a scan of everything published for values of small groups.

use crate::util::{root, run_in, stderr, stdout, tempdir};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const EVIL: &str = "Evil <script>alert(1)</script> Academy";

/// A small generated district whose first school has a hostile name, run twice: as configured
/// (min_n_display 11) and with min_n_display 1, which shows the values suppression hides.
struct Runs {
    run: PathBuf,
    open: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempdir().keep();
        let data = dir.join("district");
        let out = run_in(
            &root(),
            &[
                "sample",
                "--students",
                "2400",
                "--schools",
                "4",
                "--years",
                "3",
                "--seed",
                "21",
                "--out",
                data.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let schools = data.join("schools.csv");
        let text = std::fs::read_to_string(&schools).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header: Vec<String> = lines[0].split(',').map(str::to_string).collect();
        let name_at = header.iter().position(|h| h.contains("name")).unwrap();
        let mut first: Vec<String> = lines[1].split(',').map(str::to_string).collect();
        first[name_at] = EVIL.to_string();
        lines[1] = first.join(",");
        // A second supervisor, so the index's supervisor filter has something to filter.
        let sup_at = header.iter().position(|h| h == "supervisor").unwrap();
        let last_line = lines.len() - 1;
        let mut last: Vec<String> = lines[last_line].split(',').map(str::to_string).collect();
        last[sup_at] = "Marcus Bell".to_string();
        lines[last_line] = last.join(",");
        std::fs::write(&schools, lines.join("\n") + "\n").unwrap();

        let pipeline = data.join("pipeline.toml");
        let open = data.join("open.toml");
        // PNGs are drawn only when asked for; these tests check them too.
        let toml = std::fs::read_to_string(&pipeline).unwrap();
        assert!(!toml.contains("[outputs]"));
        let toml = toml + "\n[outputs]\nformats = [\"pdf\", \"html\", \"svg\", \"png\"]\n";
        std::fs::write(&pipeline, &toml).unwrap();
        std::fs::write(
            &open,
            toml.replace("name = \"", "name = \"open-") + "\n[privacy]\nmin_n_display = 1\n",
        )
        .unwrap();
        let run = |p: &Path| {
            let out = run_in(
                &root(),
                &[
                    "run",
                    p.to_str().unwrap(),
                    "--out",
                    dir.join("reports").to_str().unwrap(),
                ],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            PathBuf::from(stdout(&out).trim())
        };
        Runs {
            run: run(&pipeline),
            open: run(&open),
        }
    })
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{name}` runs (poppler-utils is installed by .ci/run): {e}"));
    assert!(
        out.status.success(),
        "`{name} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn packets(run: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for school in std::fs::read_dir(run.join("schools")).unwrap() {
        for window in std::fs::read_dir(school.unwrap().path()).unwrap() {
            out.push(window.unwrap().path());
        }
    }
    out.sort();
    out
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

fn current_year(run: &Path) -> String {
    let df = read_parquet(&run.join("metrics/baselines.parquet"));
    let years = crate::util::strs(&df, "school_year");
    years.into_iter().max().unwrap()
}

const SECTIONS: [&str; 9] = [
    "Collaborative Inquiry Visit",
    "At a glance",
    "Baselines by group",
    "Growth",
    "Gaps",
    "California Dashboard status",
    "Survey",
    "Bright spots and areas to watch",
    "Notes",
];

/// Every school has one packet per window of the current year, each with its PDF, HTML and
/// every chart as SVG and a PNG at least 1600 px wide.
#[test]
fn every_school_and_window_has_a_packet_with_its_charts() {
    let run = &runs().run;
    let dirs = packets(run);
    assert_eq!(dirs.len(), 4 * 3, "4 schools x 3 windows: {dirs:?}");
    for d in &dirs {
        for f in ["packet.pdf", "packet.html"] {
            assert!(d.join(f).is_file(), "{}/{f}", d.display());
        }
        let mut svgs = BTreeSet::new();
        let mut pngs = BTreeSet::new();
        for e in std::fs::read_dir(d.join("charts")).unwrap() {
            let p = e.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            match p.extension().and_then(|e| e.to_str()) {
                Some("svg") => {
                    svgs.insert(stem);
                }
                Some("png") => {
                    let bytes = std::fs::read(&p).unwrap();
                    assert_eq!(&bytes[1..4], b"PNG");
                    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
                    assert!(width >= 1600, "{} is {width} px wide", p.display());
                    pngs.insert(stem);
                }
                other => panic!("unexpected file {other:?}"),
            }
        }
        assert_eq!(svgs, pngs);
        let high = d.parent().unwrap().ends_with("801");
        for stable in [
            "ela-mean-dfs",
            "ela-bands",
            "ela-growth",
            "ela-gaps",
            "ela-gap-change",
            "ela-gap-paths",
            "math-mean-dfs",
            "math-bands",
            "math-growth",
            "math-gaps",
            "math-gap-change",
            "math-gap-paths",
            "survey-favorable",
        ] {
            // The high school tests only grade 11, which has no test the year before: no
            // growth values, so no growth chart (the packet says why).
            let expected = !(high && stable.ends_with("-growth"));
            assert_eq!(
                svgs.contains(stable),
                expected,
                "{}: {stable} in {svgs:?}",
                d.display()
            );
        }
        let html = std::fs::read_to_string(d.join("packet.html")).unwrap();
        if high {
            assert!(html.contains("such as grade 11, have none"));
        }
        assert!(
            html.contains("href=\"packet.pdf\""),
            "{} links its PDF",
            d.display()
        );
    }
    // Every link of the index to a packet (HTML and its print-ready PDF) reaches a file, and
    // every school's packet is linked.
    // (Attribute values are HTML-escaped, `/` as `&#x2f;`, as the browser reads them.)
    let index = std::fs::read_to_string(run.join("index.html"))
        .unwrap()
        .replace("&#x2f;", "/");
    let links: Vec<&str> = index
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .filter(|l| l.starts_with("schools/"))
        .collect();
    for l in &links {
        assert!(run.join(l).is_file(), "index links to missing {l}");
    }
    for kind in ["packet.html", "packet.pdf"] {
        let schools: BTreeSet<&str> = links
            .iter()
            .filter(|l| l.ends_with(kind))
            .map(|l| l.split('/').nth(1).unwrap())
            .collect();
        assert_eq!(
            schools.len(),
            4,
            "{kind} linked for every school: {links:?}"
        );
    }
    assert!(run.join("quality.html").is_file());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    let stages: Vec<&str> = manifest["timings_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"render"), "{stages:?}");
    let listed: BTreeSet<&str> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(listed.contains("index.html"));
    assert!(listed.iter().any(|p| p.ends_with("spring/packet.pdf")));
}

/// Tables are ruled by a hairline under each row and a rule under the header, with no box
/// around the cells: on the page of the first baselines table, from its header down through
/// its first rows, no dark line runs down the page (a box's side would run through them all).
#[test]
fn tables_are_ruled_under_rows_not_boxed() {
    let run = &runs().run;
    let (pdf, page, top) = packets(run)
        .into_iter()
        .find_map(|d| {
            let pdf = d.join("packet.pdf").to_str().unwrap().to_string();
            let words = tool("pdftotext", &["-bbox", &pdf, "-"]);
            words
                .split("<page ")
                .skip(1)
                .enumerate()
                .find_map(|(i, page)| {
                    let at = page.find(">Avg.</word>")?;
                    let word = &page[page[..at].rfind("<word ")?..at];
                    let top = word.split("yMin=\"").nth(1)?.split('"').next()?;
                    Some((pdf.clone(), i + 1, top.parse::<f64>().ok()?))
                })
        })
        .expect("a packet with a baselines table");
    let out = tempdir();
    let prefix = out.path().join("page");
    let page = page.to_string();
    tool(
        "pdftoppm",
        &[
            "-gray",
            "-r",
            "72",
            "-singlefile",
            "-f",
            &page,
            "-l",
            &page,
            &pdf,
            prefix.to_str().unwrap(),
        ],
    );
    // A binary PGM: "P5", width and height, the maximum value, then a byte per pixel.
    let pgm = std::fs::read(out.path().join("page.pgm")).unwrap();
    let mut header = pgm.splitn(4, |b| *b == b'\n');
    assert_eq!(header.next(), Some(&b"P5"[..]));
    let size = String::from_utf8_lossy(header.next().unwrap()).to_string();
    let (w, h) = size.split_once(' ').unwrap();
    let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
    header.next();
    let pixels = header.next().unwrap();
    assert_eq!(pixels.len(), w * h);
    // At 72 dpi a pixel is a point: from just above the header to 60 points below it.
    let rows = (top as usize).saturating_sub(4)..(top as usize + 60).min(h);
    let longest = (36..w - 36)
        .map(|x| {
            let (mut run, mut most) = (0, 0);
            for y in rows.clone() {
                run = if pixels[y * w + x] < 128 { run + 1 } else { 0 };
                most = most.max(run);
            }
            most
        })
        .max()
        .unwrap();
    // Letters are at most about a dozen points tall; a side of a box would run all 64.
    assert!(
        longest < 30,
        "{pdf} page {page}: a dark line runs {longest} points down the table"
    );
}

/// pdftotext shows the school's name and every section title, each section on its own page
/// in order; pdftoppm renders every page; the page count is where the notes end.
#[test]
fn pdf_reads_like_a_packet() {
    let run = &runs().run;
    let year = current_year(run);
    for d in packets(run) {
        let pdf = d.join("packet.pdf");
        let pdf = pdf.to_str().unwrap();
        let info = tool("pdfinfo", &[pdf]);
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            info.contains("Letter") || info.contains("612 x 792"),
            "{info}"
        );
        let text = tool("pdftotext", &["-layout", pdf, "-"]);
        let window = d.file_name().unwrap().to_string_lossy().to_string();
        let name = if d.parent().unwrap().ends_with("101") {
            EVIL.to_string()
        } else {
            let school = d.parent().unwrap().file_name().unwrap().to_string_lossy();
            let df = read_parquet(&run.join("tables/schools.parquet"));
            let ids = crate::util::strs(&df, "school_id");
            let names = crate::util::strs(&df, "school_name");
            names[ids.iter().position(|i| *i == school).unwrap()].clone()
        };
        assert!(text.contains(&name), "{pdf}: school name {name}");
        assert!(
            text.contains(&format!("{} {year}", capitalised(&window))),
            "{pdf}: window and year"
        );
        // The page each section starts on.
        let by_page: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
        let mut last = 0;
        for s in SECTIONS {
            let page = by_page
                .iter()
                .position(|p| p.lines().any(|l| l.trim().starts_with(s)))
                .unwrap_or_else(|| panic!("{pdf}: section `{s}`"));
            assert!(
                page >= last,
                "{pdf}: `{s}` on page {} before {}",
                page + 1,
                last + 1
            );
            last = page;
        }
        assert!(
            by_page[last].contains("What the data cannot show"),
            "notes on the last section page"
        );
        assert!(
            pages == last + 1 || pages == last + 2,
            "{pdf}: {pages} pages, notes start on {}",
            last + 1
        );
        assert!(text.contains(&format!("Page {pages} of {pages}")));
        assert!(text.contains("Data as of"), "provenance on pages");
        let out = tempdir();
        let prefix = out.path().join("page");
        tool(
            "pdftoppm",
            &["-png", "-r", "40", pdf, prefix.to_str().unwrap()],
        );
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), pages);
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Each packet shows every same-students row of its school and window (`cohort_gaps`): the
/// change in gap as the table publishes it, or the suppression note, never both.
#[test]
fn packets_show_the_same_students_change_as_cohort_gaps_publishes_it() {
    for run in [&runs().run, &runs().open] {
        let year = current_year(run);
        let cg = read_parquet(&run.join("metrics/cohort_gaps.parquet"))
            .lazy()
            .filter(
                col("school_year")
                    .eq(lit(year.as_str()))
                    .and(col("school_id").neq(lit("district"))),
            )
            .collect()
            .unwrap();
        let (school, window) = (
            crate::util::strs(&cg, "school_id"),
            crate::util::strs(&cg, "window"),
        );
        let change: Vec<Option<f64>> = cg
            .column("gap_change")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        // (school, window) -> each row's change (None where suppressed).
        let mut per_packet: BTreeMap<(String, String), Vec<Option<f64>>> = BTreeMap::new();
        for i in 0..cg.height() {
            per_packet
                .entry((school[i].clone(), window[i].clone()))
                .or_default()
                .push(change[i]);
        }
        assert!(
            !per_packet.is_empty(),
            "{}: same-students rows",
            run.display()
        );
        let mut shown = 0;
        for ((school, window), changes) in per_packet {
            let dir = run.join("schools").join(&school).join(&window);
            let html = std::fs::read_to_string(dir.join("packet.html")).unwrap();
            // One sentence per row, shown or not.
            let sentences = html
                .matches(&format!("tested here both this {window} and last {window}"))
                .count();
            assert_eq!(sentences, changes.len(), "{school}/{window}");
            let hidden = html
                .matches("Among the students tested here both this")
                .count();
            assert_eq!(
                hidden,
                changes.iter().filter(|c| c.is_none()).count(),
                "{school}/{window}"
            );
            for c in changes.into_iter().flatten() {
                let one = format!("{:.1}", (c.abs() * 10.0).round() / 10.0);
                let text = match one.as_str() {
                    "0.0" => one.clone(),
                    _ if c < 0.0 => format!("\u{2212}{one}"),
                    _ => format!("+{one}"),
                };
                assert!(
                    html.contains(&format!("<td>{text}</td>")),
                    "{school}/{window}: change {text}"
                );
                shown += 1;
            }
            let pdf = tool(
                "pdftotext",
                &["-layout", dir.join("packet.pdf").to_str().unwrap(), "-"],
            );
            assert!(
                pdf.contains("The same students a year apart"),
                "{school}/{window}"
            );
        }
        assert!(
            shown > 0,
            "{}: some same-students changes are shown",
            run.display()
        );
    }
}

/// The values that suppression hides, read from the run with min_n_display 1: for every
/// group below 11 in the real run, its n, mean and percentages as a packet would print them.
fn hidden_values() -> Vec<(String, String, String, String, Vec<String>)> {
    let (run, open) = (&runs().run, &runs().open);
    let year = current_year(run);
    let shut = read_parquet(&run.join("metrics/baselines.parquet"));
    let open = read_parquet(&open.join("metrics/baselines.parquet"));
    let key = [
        "school_id",
        "school_year",
        "window",
        "assessment",
        "subject",
        "group",
    ];
    let joined = shut
        .lazy()
        .filter(
            col("suppressed")
                .and(col("school_year").eq(lit(year.as_str())))
                .and(col("school_id").neq(lit("district"))),
        )
        .select(key.map(col))
        .join(
            open.lazy(),
            key.map(col),
            key.map(col),
            JoinArgs::new(JoinType::Inner),
        )
        .collect()
        .unwrap();
    let s = |c: &str| crate::util::strs(&joined, c);
    let f =
        |c: &str| -> Vec<Option<f64>> { joined.column(c).unwrap().f64().unwrap().iter().collect() };
    let (school, window, subject, group) = (s("school_id"), s("window"), s("subject"), s("group"));
    let (mean, met) = (f("mean_dfs"), f("pct_met_standard"));
    let n: Vec<Option<i64>> = joined.column("n").unwrap().i64().unwrap().iter().collect();
    (0..joined.height())
        .map(|i| {
            let mut values = vec![format!("n {}", n[i].unwrap())];
            let m = mean[i].unwrap();
            let one = |x: f64| format!("{:.1}", (x * 10.0).round() / 10.0);
            if m.abs() >= 0.05 {
                values.push(format!(
                    "{}{}",
                    if m < 0.0 { "\u{2212}" } else { "+" },
                    one(m.abs())
                ));
            }
            let p = met[i].unwrap();
            if p > 0.0 && p < 100.0 {
                values.push(format!("{}%", one(p)));
            }
            (
                school[i].clone(),
                window[i].clone(),
                subject[i].clone(),
                group[i].clone(),
                values,
            )
        })
        .collect()
}

/// Lines of published text that name a group: HTML table rows, the rows of alt text (split
/// at `;`), SVG rows (text at one height) and PDF lines.
fn rows_naming(text: &str, label: &str) -> Vec<String> {
    text.split(['\n', '\u{c}', ';'])
        .filter(|l| l.contains(label))
        .map(str::to_string)
        .collect()
}

/// The group labels of the plan, as the packet prints them (full in tables, short in charts).
fn labels(group: &str) -> Vec<&'static str> {
    match group {
        "foster" => vec!["Foster youth"],
        "homeless" => vec!["Homeless youth", "Homeless"],
        "american_indian" => vec![
            "American Indian or Alaska Native students",
            "American Indian",
        ],
        "pacific_islander" => vec!["Pacific Islander students", "Pacific Islander"],
        "nonbinary" => vec!["Nonbinary students", "Nonbinary"],
        "filipino" => vec!["Filipino students", "Filipino"],
        _ => vec![],
    }
}

/// No published HTML, SVG or PDF text shows a value of a group below min_n_display: wherever
/// such a group is named, its row carries the suppression note and none of its values.
#[test]
fn small_groups_never_show_a_value() {
    let run = &runs().run;
    let hidden = hidden_values();
    assert!(
        hidden.len() > 20,
        "the fixture has small groups: {}",
        hidden.len()
    );
    let mut checked = 0;
    for (school, window, _subject, group, values) in &hidden {
        let dir = run.join("schools").join(school).join(window);
        let html = std::fs::read_to_string(dir.join("packet.html")).unwrap();
        let html_rows: String = html.replace("<tr", "\n<tr").replace("</tr>", "</tr>\n");
        let pdf = tool(
            "pdftotext",
            &["-layout", dir.join("packet.pdf").to_str().unwrap(), "-"],
        );
        let mut svg_rows = String::new();
        for e in std::fs::read_dir(dir.join("charts")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "svg") {
                svg_rows.push_str(&svg_lines(&std::fs::read_to_string(&p).unwrap()));
            }
        }
        for label in labels(group) {
            for (kind, text) in [("html", &html_rows), ("pdf", &pdf), ("svg", &svg_rows)] {
                for row in rows_naming(text, label) {
                    // No row naming a hidden group shows one of its hidden values.
                    for v in values {
                        assert!(
                            !contains_value(&row, v),
                            "{kind} of {school}/{window} shows `{v}` for hidden {group}: {row}"
                        );
                    }
                    // Where the group is hidden, its row says so and carries no number.
                    if !row.contains(equity_gap::render::model::SUPPRESSED_TEXT) {
                        continue;
                    }
                    checked += 1;
                    let digits: String = row
                        .replace(equity_gap::render::model::SUPPRESSED_TEXT, "")
                        .chars()
                        .filter(|c| c.is_ascii_digit())
                        .collect();
                    if kind != "html" {
                        assert!(digits.is_empty(), "{kind} of {school}/{window}: {row}");
                    }
                }
            }
        }
    }
    assert!(
        checked > 20,
        "suppressed rows were found and checked: {checked}"
    );
    // And the other way round: every suppressed row of the real run appears as a note, never
    // as a number — the open run shows numbers for the same groups.
    let open_dir = &runs().open;
    let any_open = packets(open_dir).iter().any(|d| {
        std::fs::read_to_string(d.join("packet.html"))
            .unwrap()
            .contains("Foster youth</td><td>")
    });
    assert!(any_open, "with min_n_display 1 the same groups show values");
}

/// Whether `row` shows `value` as a whole number (`n 1` is not in `n 12`, nor `+4.2` in `+4.25`).
fn contains_value(row: &str, value: &str) -> bool {
    row.match_indices(value).any(|(i, _)| {
        let next = row[i + value.len()..].chars().next();
        let prev = row[..i].chars().next_back();
        !next.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !prev.is_some_and(|c| c.is_ascii_digit() || c == '.')
    })
}

/// The text of an SVG, one line per row of the chart (text elements at one height).
fn svg_lines(svg: &str) -> String {
    let mut rows: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for part in svg.split("<text ").skip(1) {
        let attrs = &part[..part.find('>').unwrap()];
        let y: i64 = attrs
            .split("y=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0) as i64;
        let body = &part[part.find('>').unwrap() + 1..];
        let body = &body[..body.find("</text>").unwrap()];
        rows.entry(y).or_default().push(body.trim().to_string());
    }
    rows.values().map(|r| r.join(" | ") + "\n").collect()
}

/// Headless Chromium opens the index and a packet from the published folder: no console
/// errors, no network requests, every chart has alt text, sorting and filtering change the
/// visible rows, and the hostile school name is text, not a script.
#[test]
fn pages_work_in_a_real_browser() {
    let run = &runs().run;
    let modules = std::env::var("EQUITY_GAP_NODE_MODULES").unwrap_or_else(|_| {
        format!(
            "{}/.cache/equity-gap-node/node_modules",
            std::env::var("HOME").unwrap()
        )
    });
    let packet = packets(run)
        .into_iter()
        .find(|d| d.parent().unwrap().ends_with("101"))
        .unwrap()
        .join("packet.html");
    let out = Command::new("node")
        .arg(root().join("tests/browser/check.js"))
        .arg(run.join("index.html"))
        .arg(&packet)
        .env("EQUITY_GAP_NODE_MODULES", &modules)
        .output()
        .expect("node runs (.ci/run installs it and playwright-core)");
    assert!(
        out.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for page in ["index", "packet"] {
        let p = &r[page];
        assert_eq!(p["console"], serde_json::json!([]), "{page} console");
        assert_eq!(p["requests"], serde_json::json!([]), "{page} network");
        assert_eq!(p["dialogs"], 0, "{page}: no script ran from the data");
        let charts = p["charts"].as_array().unwrap();
        assert!(!charts.is_empty(), "{page} has charts");
        for c in charts {
            assert_eq!(c["role"], "img");
            assert!(
                c["alt"].as_str().unwrap().len() > 40,
                "{page}: alt text {c}"
            );
        }
        assert!(
            p["text"].as_str().unwrap().contains(EVIL),
            "{page} shows the name as text"
        );
    }
    assert_eq!(r["packet"]["scripts"], 0, "packets carry no script");
    let i = &r["index"];
    let names = |k: &str| -> Vec<String> {
        i[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let all = names("all");
    assert_eq!(all.len(), 4);
    let (asc, desc) = (names("ascending"), names("descending"));
    let mut rev = asc.clone();
    rev.reverse();
    assert_eq!(desc, rev, "second click reverses the order");
    let v: Vec<f64> = i["ascendingValues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().unwrap().parse().ok())
        .collect();
    assert!(v.windows(2).all(|w| w[0] <= w[1]), "ascending: {v:?}");
    let level = i["level"].as_str().unwrap();
    let by_level = names("byLevel");
    assert!(
        !by_level.is_empty() && by_level.len() < all.len(),
        "level filter: {by_level:?}"
    );
    for l in i["levelOfShown"].as_array().unwrap() {
        assert_eq!(l, level);
    }
    let by_supervisor = names("bySupervisor");
    assert!(!by_supervisor.is_empty() && by_supervisor.len() < all.len());
    assert_eq!(
        names("withFlag").len() + names("withoutFlag").len(),
        all.len(),
        "flag filters split the schools"
    );
    assert_eq!(i["count"], "Showing 4 of 4 schools");
}
