//! The same small district written as CSV (comma, tab, caret, pipe; BOM and CRLF;
//! Windows-1252), Parquet and XLSX ingests to identical canonical tables.

use crate::util::*;
use equity_gap::canonical::Table;
use polars::prelude::*;
use std::fs;
use std::path::Path;

const TABLES: [&str; 3] = ["schools", "students", "assessments"];

fn read_fixture(name: &str) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(fixture(&format!("formats/{name}.csv"))))
        .unwrap()
        .finish()
        .unwrap()
}

fn write_csv(df: &mut DataFrame, path: &Path, sep: u8) {
    let mut f = fs::File::create(path).unwrap();
    CsvWriter::new(&mut f)
        .include_header(true)
        .with_separator(sep)
        .finish(df)
        .unwrap();
}

/// A pipeline reading `schools`, `students`, `assessments` with per-table settings.
fn pipeline(dir: &Path, ext: &str, settings: &str) {
    let mut text = String::from("name = \"formats\"\n");
    for t in TABLES {
        let sheet = if ext == "xlsx" {
            format!("sheet = \"{t}\"\n")
        } else {
            String::new()
        };
        let path = if ext == "xlsx" {
            "district.xlsx".to_string()
        } else {
            format!("{t}.{ext}")
        };
        text.push_str(&format!(
            "\n[inputs.{t}]\npath = \"{path}\"\n{settings}{sheet}"
        ));
    }
    text.push_str(WINDOWS_AND_SCALES);
    fs::write(dir.join("pipeline.toml"), text).unwrap();
}

fn variant(name: &str, build: impl Fn(&Path)) -> (String, equity_gap::validate::Validated) {
    let dir = tempdir();
    build(dir.path());
    let v = validate_file(&dir.path().join("pipeline.toml"));
    for q in &v.quality.tables {
        assert_eq!(q.quarantined, 0, "{name}: {q:?}\n{}", v.quarantine);
    }
    (name.to_string(), v)
}

#[test]
fn every_format_ingests_to_identical_tables() {
    let csv_variant = |sep: u8, ext: &'static str, setting: &'static str| {
        move |d: &Path| {
            for t in TABLES {
                write_csv(&mut read_fixture(t), &d.join(format!("{t}.{ext}")), sep);
            }
            pipeline(d, ext, setting);
        }
    };
    let variants = [
        variant("comma", csv_variant(b',', "csv", "")),
        variant("tab", csv_variant(b'\t', "tsv", "")),
        variant("caret", csv_variant(b'^', "txt", "delimiter = \"^\"\n")),
        variant("pipe", csv_variant(b'|', "csv", "delimiter = \"|\"\n")),
        variant("bom+crlf", |d| {
            for t in TABLES {
                let text = fs::read_to_string(fixture(&format!("formats/{t}.csv"))).unwrap();
                let mut bytes = b"\xEF\xBB\xBF".to_vec();
                bytes.extend(text.replace('\n', "\r\n").into_bytes());
                fs::write(d.join(format!("{t}.csv")), bytes).unwrap();
            }
            pipeline(d, "csv", "");
        }),
        variant("windows-1252", |d| {
            for t in TABLES {
                let text = fs::read_to_string(fixture(&format!("formats/{t}.csv"))).unwrap();
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
                assert!(!unmappable);
                fs::write(d.join(format!("{t}.csv")), bytes).unwrap();
            }
            pipeline(d, "csv", "encoding = \"windows-1252\"\n");
        }),
        variant("parquet", |d| {
            for t in TABLES {
                let mut df = read_fixture(t);
                if t == "assessments" {
                    // Typed the way a warehouse would write it.
                    df = df
                        .lazy()
                        .with_columns([
                            col("grade").cast(DataType::Int32),
                            col("scale_score").cast(DataType::Int64),
                            col("test_date").cast(DataType::Date),
                        ])
                        .collect()
                        .unwrap();
                }
                let f = fs::File::create(d.join(format!("{t}.parquet"))).unwrap();
                ParquetWriter::new(f).finish(&mut df).unwrap();
            }
            pipeline(d, "parquet", "");
        }),
        variant("parquet, padded", |d| {
            // Text a vendor's export left untidy: values padded with spaces, blanks as empty
            // strings rather than nulls. It must read as the tidy file does.
            for t in TABLES {
                let df = read_fixture(t);
                let untidy: Vec<Expr> = df
                    .get_column_names()
                    .iter()
                    .map(|c| {
                        let c = c.as_str();
                        concat_str([lit(" "), col(c), lit("\t")], "", false)
                            .fill_null(lit(""))
                            .alias(c)
                    })
                    .collect();
                let mut df = df.lazy().select(untidy).collect().unwrap();
                let f = fs::File::create(d.join(format!("{t}.parquet"))).unwrap();
                ParquetWriter::new(f).finish(&mut df).unwrap();
            }
            pipeline(d, "parquet", "");
        }),
        variant("xlsx", |d| {
            fs::copy(fixture("formats/district.xlsx"), d.join("district.xlsx")).unwrap();
            pipeline(d, "xlsx", "");
        }),
    ];
    let (_, base) = &variants[0];
    for (name, v) in &variants[1..] {
        for t in [Table::Schools, Table::Students, Table::Assessments] {
            let (a, b) = (base.table(t).unwrap(), v.table(t).unwrap());
            assert!(
                a.equals_missing(b),
                "{name} differs from comma CSV in {t}:\n{a}\n{b}"
            );
        }
    }

    // And the canonical tables hold what the file says, typed.
    let schools = base.table(Table::Schools).unwrap();
    let names = strs(schools, "school_name");
    assert_eq!(
        names,
        [
            "Peña, César Chávez Elementary",
            "Élan Middle School",
            "Lincoln \"Rail-Splitters\" High"
        ]
    );
    assert_eq!(schools.column("triad").unwrap().null_count(), 1);
    let scores = base.table(Table::Assessments).unwrap();
    assert_eq!(scores.height(), 9);
    assert_eq!(
        scores.column("scale_score").unwrap().dtype(),
        &DataType::Int32
    );
    assert_eq!(scores.column("test_date").unwrap().dtype(), &DataType::Date);
    assert_eq!(scores.column("test_date").unwrap().null_count(), 1);
    let students = base.table(Table::Students).unwrap();
    assert_eq!(students.column("swd").unwrap().dtype(), &DataType::Boolean);
    assert_eq!(
        students.column("swd").unwrap().bool().unwrap().sum(),
        Some(2)
    );
}

#[test]
fn several_files_read_as_one_table_keep_their_own_lines() {
    let dir = tempdir();
    let d = dir.path();
    let scores = fs::read_to_string(fixture("formats/assessments.csv")).unwrap();
    let mut lines = scores.lines();
    let header = lines.next().unwrap();
    let (first, second): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.contains("2024-25"));
    fs::write(
        d.join("scores_2024.csv"),
        format!("{header}\n{}\n", first.join("\n")),
    )
    .unwrap();
    // The second year's extract has a bad row on its line 3.
    let mut second: Vec<String> = second.iter().map(|s| s.to_string()).collect();
    second[1] = second[1].replace(",2468,", ",NS,");
    fs::write(
        d.join("scores_2025.csv"),
        format!("{header}\n{}\n", second.join("\n")),
    )
    .unwrap();
    for f in ["schools.csv", "students.csv"] {
        fs::copy(fixture(&format!("formats/{f}")), d.join(f)).unwrap();
    }
    fs::write(
        d.join("pipeline.toml"),
        format!(
            "name = \"multi\"\n[inputs.schools]\npath = \"schools.csv\"\n[inputs.students]\npath = \"students.csv\"\n[inputs.assessments]\npath = [\"scores_2024.csv\", \"scores_2025.csv\"]\n{WINDOWS_AND_SCALES}"
        ),
    )
    .unwrap();
    let v = validate_file(&d.join("pipeline.toml"));
    assert_eq!(v.table(Table::Assessments).unwrap().height(), 8);
    let q = &v.quarantine;
    assert_eq!(q.height(), 1);
    let file = &strs(q, "source_file")[0];
    assert!(file.ends_with("scores_2025.csv"), "{file}");
    assert_eq!(q.column("line").unwrap().i64().unwrap().get(0), Some(3));
}
