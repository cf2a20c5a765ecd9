//! Exactness: every published metric table and the quarantine, pinned by a digest of each table
//! on a fixed generated dirty district, read once from CSV and once from Parquet. A change to
//! how the engine reads, types, checks or computes cannot move a number, a row or a
//! quarantine reason unnoticed; and the two formats must give the same metric tables.
//!
//! Each table is digested as the sorted list of its rows written as text, so row order is
//! free. Floating-point values are written with 8 significant digits: a change in the last
//! bits from summing in another order flips a digit only with a chance of about one in a
//! thousand per district, while any difference that matters to a reader shows.

use crate::util::*;
use equity_gap::cli::SampleArgs;
use equity_gap::sample::model::SurveyVolume;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A small district with every kind of planted fault and the realistic survey (fall and
/// spring, staff and families), written in one format, set to publish tables only, with
/// `validation` settings added when given.
fn district(csv: bool, validation: Option<&str>) -> tempfile::TempDir {
    let dir = tempdir();
    equity_gap::sample::write(&SampleArgs {
        students: 2_500,
        schools: 6,
        years: 3,
        seed: 13,
        out: dir.path().to_path_buf(),
        dirty: true,
        csv,
        survey: SurveyVolume::Realistic,
    })
    .unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let mut text = format!("{text}\n[outputs]\nformats = []\n");
    if let Some(settings) = validation {
        text.push_str(&format!("\n[validation]\n{settings}\n"));
    }
    std::fs::write(&pipeline, text).unwrap();
    dir
}

fn value_text(v: AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => "∅".into(),
        AnyValue::Float64(x) => float_text(x),
        AnyValue::Float32(x) => float_text(f64::from(x)),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn float_text(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.7e}")
    }
}

/// `<rows> <sha256 of the sorted rows>` of one Parquet table, with the district's folder
/// taken out of any text (the quarantine names each row's file).
fn digest(path: &Path, folder: &str) -> String {
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    let mut rows: Vec<String> = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| value_text(c.get(i).unwrap()).replace(folder, ""))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    rows.sort();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut hash = Sha256::new();
    hash.update(names.join("|"));
    for r in &rows {
        hash.update(b"\n");
        hash.update(r);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{:>7} {}", df.height(), &hex[..16])
}

/// One line per published metric table and the quarantine (and with `tables`, every
/// published input table): its name, rows and digest.
fn digests(csv: bool, validation: Option<&str>, tables: bool) -> Vec<(String, String)> {
    let dir = district(csv, validation);
    let o = run_in(dir.path(), &["run", "pipeline.toml", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join(stdout(&o).trim());
    let folder = format!("{}/", dir.path().display());
    let mut out = vec![(
        "quarantine".to_string(),
        digest(&run.join("quarantine.parquet"), &folder),
    )];
    let folders: &[&str] = if tables {
        &["metrics", "tables"]
    } else {
        &["metrics"]
    };
    for dir in folders {
        let mut files: Vec<_> = std::fs::read_dir(run.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        files.sort();
        for t in files {
            let name = t.file_stem().unwrap().to_string_lossy().to_string();
            out.push((format!("{dir}/{name}"), digest(&t, &folder)));
        }
    }
    out
}

fn text(d: &[(String, String)]) -> String {
    d.iter()
        .map(|(name, digest)| format!("{name:<26} {digest}\n"))
        .collect()
}

#[test]
fn every_table_of_a_generated_district_is_what_it_was() {
    let from_csv = digests(true, None, false);
    let from_parquet = digests(false, None, false);
    insta::assert_snapshot!("exactness_from_csv", text(&from_csv));
    insta::assert_snapshot!("exactness_from_parquet", text(&from_parquet));
    // The metric tables do not depend on the extracts' format (the quarantine does: a CSV
    // row is located by its line, a Parquet row by its row number).
    let metrics = |d: &[(String, String)]| -> Vec<(String, String)> {
        d.iter()
            .filter(|(n, _)| n.starts_with("metrics/"))
            .cloned()
            .collect()
    };
    assert_eq!(metrics(&from_csv), metrics(&from_parquet));
    assert!(from_csv.len() >= 8, "{from_csv:?}");
}

/// Tables are parsed and checked a chunk of rows at a time, and duplicates resolved across
/// chunks (the superseded rows' raw values parsed again from their records): in chunks of 997
/// rows, with duplicates and rejected rows in many chunks, every table is the same.
#[test]
fn reading_in_small_chunks_changes_nothing() {
    let chunks = Some("chunk_rows = 997");
    assert_eq!(
        text(&digests(true, chunks, false)),
        text(&digests(true, None, false))
    );
    assert_eq!(
        text(&digests(false, chunks, false)),
        text(&digests(false, None, false))
    );
}

/// Survey responses are split by respondent into parts kept on disk when there are many
/// (here about 280,000 rows in parts of 8,000, with duplicates and rejected rows in each), and
/// scores are placed on their scale a slice of whole students at a time (here 23,715 scores in
/// three slices, students with scores in several years and windows cut across none): every
/// metric table, the quarantine and every published table is the same as in one part.
#[test]
fn survey_and_scores_in_parts_change_nothing() {
    let parts = digests(true, Some("part_rows = 8000\nchunk_rows = 65536"), true);
    let whole = digests(true, None, true);
    assert!(
        parts.iter().any(|(n, _)| n == "tables/survey_responses"),
        "{parts:?}"
    );
    assert_eq!(text(&parts), text(&whole));
}
