//! `equity-gap audit RUN_DIR`: read a published run as an outsider would (its metric tables
//! and the group definitions in its manifest) and try to recover every hidden value. Published
//! counts and sums obey METRICS.md's relations (partitions, a group and its rest, a district and
//! its schools); every suppressed row and every unpublished part (a group's rest, a
//! partition's remainder) is an unknown, and `metrics::disclosure` finds each unknown that some
//! combination of relations pins down, in exact arithmetic. A finding is a suppressed row with
//! students in it, or an unpublished part of fewer than `min_n_display` students, whose values
//! follow from published ones; or a relation whose hidden members together are fewer than
//! `min_n_display`. Derived tables are checked to show only what their sources publish: a gap
//! only between published rows, a Dashboard row only with its baselines row, a flag only from a
//! published gap or growth row.

use crate::metrics::DISTRICT;
use crate::metrics::disclosure::{self, Combination};
use crate::metrics::flags::FlagKind;
use crate::metrics::suppression::{Layout, Relation, Rule, relations};
use crate::pipeline::plan::GroupDef;
use fs_err as fs;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why a run cannot be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("`{}` is not a published run: it has no `manifest.json`", .0.display())]
    NotARun(PathBuf),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a manifest equity-gap wrote: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("cannot read the metric table `{}`: {message}", path.display())]
    Table { path: PathBuf, message: String },
}

/// What the audit found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub run: PathBuf,
    pub min_n_display: u32,
    /// Hidden rows and parts checked, per table.
    pub checked: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
    /// With `--open-run`: recovered values checked against the open run, and those that
    /// differed (none, unless the audit's arithmetic is wrong).
    pub verified: usize,
    pub mismatches: Vec<String>,
}

/// One hidden value a reader can work out.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub table: String,
    /// `recovered` (a hidden row or part, exactly), `together` (several hidden members of one
    /// relation whose combined size is below the threshold) or `derived` (a derived table shows
    /// what its source hides).
    pub kind: String,
    /// The cell key, `name = value` in key order.
    pub key: Vec<(String, String)>,
    /// The group (or `rest of <group>`, `no <column> group`) the value belongs to.
    pub what: String,
    /// Values recovered, by column (counts and means).
    pub values: Vec<(String, f64)>,
    /// The relations combined, in words.
    pub relations: Vec<String>,
    /// The published rows the value follows from.
    pub from: Vec<String>,
}

#[derive(Deserialize)]
struct ManifestIn {
    config: ConfigIn,
}

#[derive(Deserialize)]
struct ConfigIn {
    groups: Vec<GroupDef>,
    privacy: PrivacyIn,
}

#[derive(Deserialize)]
struct PrivacyIn {
    min_n_display: u32,
}

/// The run folder itself, or the newest run when given `<out>/<pipeline>` with `LATEST`.
pub fn resolve(dir: &Path) -> PathBuf {
    let latest = dir.join("LATEST");
    if !dir.join("manifest.json").exists()
        && let Ok(id) = std::fs::read_to_string(&latest)
    {
        return dir.join(id.trim());
    }
    dir.to_path_buf()
}

/// Audit the run in `dir`. With `open`, a run of the same data with `min_n_display = 1` (kept
/// private): the audit then also knows which unpublished parts are empty, as an insider
/// might, and checks every value it recovers against the true one.
pub fn audit(dir: &Path, open: Option<&Path>) -> Result<Report, AuditError> {
    let dir = resolve(dir);
    let open = match open {
        Some(o) => Some(Box::new(audit_tables(&resolve(o))?)),
        None => None,
    };
    let t = audit_tables(&dir)?;
    let mut report = Report {
        run: dir.clone(),
        min_n_display: t.min_n,
        checked: BTreeMap::new(),
        findings: Vec::new(),
        verified: 0,
        mismatches: Vec::new(),
    };
    let other = |f: fn(&Tables) -> &Option<Quantities>| open.as_ref().and_then(|o| f(o).as_ref());
    for (q, o) in [
        (&t.baselines_q, other(|o| &o.baselines_q)),
        (&t.growth_q, other(|o| &o.growth_q)),
        (&t.cohort_q, other(|o| &o.cohort_q)),
    ] {
        if let Some(q) = q {
            solve(q, o, &t.groups, t.min_n, true, &mut report);
        }
    }
    if let Some(q) = &t.survey_q {
        // Respondents add up within a cell only (the district counts a respondent once);
        // responses and favorable responses add up across schools too.
        let open_within = other(|o| &o.survey_q).map(Quantities::within_cells);
        solve(
            &q.within_cells(),
            open_within.as_ref(),
            &t.groups,
            t.min_n,
            false,
            &mut report,
        );
        solve(
            q,
            other(|o| &o.survey_q),
            &t.groups,
            t.min_n,
            true,
            &mut report,
        );
    }
    report.findings.extend(t.derived);
    dedupe(&mut report.findings);
    Ok(report)
}

/// A run's tables, read for the audit.
struct Tables {
    groups: Vec<GroupDef>,
    min_n: u32,
    baselines_q: Option<Quantities>,
    growth_q: Option<Quantities>,
    cohort_q: Option<Quantities>,
    survey_q: Option<Quantities>,
    derived: Vec<Finding>,
}

fn audit_tables(dir: &Path) -> Result<Tables, AuditError> {
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.exists() {
        return Err(AuditError::NotARun(dir.to_path_buf()));
    }
    let text = fs::read_to_string(&manifest_path).map_err(|source| AuditError::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: ManifestIn = serde_json::from_str(&text).map_err(|e| AuditError::Manifest {
        path: manifest_path.clone(),
        message: e.to_string(),
    })?;
    let read = |name: &str| -> Result<Option<DataFrame>, AuditError> {
        let path = dir.join("metrics").join(format!("{name}.parquet"));
        if !path.exists() {
            return Ok(None);
        }
        let file = fs::File::open(&path).map_err(|source| AuditError::Read {
            path: path.clone(),
            source,
        })?;
        ParquetReader::new(file.into_parts().0)
            .finish()
            .map(Some)
            .map_err(|e| AuditError::Table {
                path,
                message: e.to_string(),
            })
    };
    let table_err = |name: &str, e: PolarsError| AuditError::Table {
        path: dir.join("metrics").join(format!("{name}.parquet")),
        message: e.to_string(),
    };
    let min_n = manifest.config.privacy.min_n_display;
    let baselines = read("baselines")?;
    let growth = read("growth")?;
    let cohort = read("cohort_change")?;
    let survey = read("survey")?;
    let derived = derived_checks(
        baselines.as_ref(),
        growth.as_ref(),
        cohort.as_ref(),
        read("cohort_gaps")?.as_ref(),
        read("gaps")?.as_ref(),
        read("dashboard")?.as_ref(),
        read("flags")?.as_ref(),
        min_n,
    )
    .map_err(|e| table_err("gaps", e))?;
    Ok(Tables {
        groups: manifest.config.groups,
        min_n,
        baselines_q: baselines
            .as_ref()
            .map(Quantities::baselines)
            .transpose()
            .map_err(|e| table_err("baselines", e))?,
        growth_q: growth
            .as_ref()
            .map(Quantities::growth)
            .transpose()
            .map_err(|e| table_err("growth", e))?,
        cohort_q: cohort
            .as_ref()
            .map(Quantities::cohort)
            .transpose()
            .map_err(|e| table_err("cohort_change", e))?,
        survey_q: survey
            .as_ref()
            .map(Quantities::survey)
            .transpose()
            .map_err(|e| table_err("survey", e))?,
        derived,
    })
}

/// Two systems of the survey can find the same value; report it once.
fn dedupe(findings: &mut Vec<Finding>) {
    let mut seen = BTreeSet::new();
    findings.retain(|f| {
        seen.insert((
            f.table.clone(),
            f.key.clone(),
            f.what.clone(),
            f.kind.clone(),
        ))
    });
}

/// A table's rows as the audit reads them: keys, whether suppressed, and the additive
/// quantities a published row reveals (counts and sums).
struct Quantities {
    table: &'static str,
    key_names: Vec<&'static str>,
    keys: Vec<Vec<String>>,
    layout: Layout,
    suppressed: Vec<bool>,
    /// Quantity names; the first is the size.
    names: Vec<&'static str>,
    /// values[q][row], known on published rows.
    values: Vec<Vec<f64>>,
}

fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Each row's `suppressed` flag (a missing flag counts as suppressed).
fn hidden(df: &DataFrame) -> PolarsResult<Vec<bool>> {
    Ok(df
        .column("suppressed")?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(true))
        .collect())
}

/// The text columns `names` of `df`, column by column.
fn columns(df: &DataFrame, names: &[&str]) -> PolarsResult<Vec<Vec<String>>> {
    names.iter().map(|c| texts(df, c)).collect()
}

/// The key columns of a metric table, as `metrics::keys` lists them.
fn cell_keys(table: &str) -> Vec<&'static str> {
    crate::metrics::keys(table)
        .iter()
        .copied()
        .filter(|k| *k != "group")
        .collect()
}

fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect())
}

impl Quantities {
    fn read(
        df: &DataFrame,
        key_names: Vec<&'static str>,
        cell: &[&str],
    ) -> PolarsResult<(Vec<Vec<String>>, Layout, Vec<bool>)> {
        let keys = columns(df, &key_names)?;
        let layout = Layout::of(df, cell, first_size(df)?, first_size(df)?)?;
        let suppressed = hidden(df)?;
        Ok((keys, layout, suppressed))
    }

    fn baselines(df: &DataFrame) -> PolarsResult<Quantities> {
        let key_names = cell_keys("baselines");
        let (keys, layout, suppressed) = Self::read(df, key_names.clone(), &key_names[1..])?;
        let n = floats(df, "n")?;
        let mean = |c: &str| -> PolarsResult<Vec<f64>> {
            Ok(floats(df, c)?.iter().zip(&n).map(|(m, n)| m * n).collect())
        };
        let sd = floats(df, "sd_dfs")?;
        let mean_dfs = floats(df, "mean_dfs")?;
        let sum_dfs2 = (0..n.len())
            .map(|i| sd[i] * sd[i] * (n[i] - 1.0).max(0.0) + n[i] * mean_dfs[i] * mean_dfs[i])
            .collect();
        let pct = |c: &str| -> PolarsResult<Vec<f64>> {
            Ok(floats(df, c)?
                .iter()
                .zip(&n)
                .map(|(p, n)| p * n / 100.0)
                .collect())
        };
        Ok(Quantities {
            table: "baselines",
            key_names,
            keys,
            layout,
            suppressed,
            names: vec![
                "n",
                "sum_score",
                "sum_dfs",
                "sum_dfs2",
                "n_below",
                "n_near",
                "n_at",
                "n_above",
            ],
            values: vec![
                n.clone(),
                mean("mean_scale_score")?,
                mean("mean_dfs")?,
                sum_dfs2,
                pct("pct_below")?,
                pct("pct_near")?,
                pct("pct_at")?,
                pct("pct_above")?,
            ],
        })
    }

    fn growth(df: &DataFrame) -> PolarsResult<Quantities> {
        let key_names = cell_keys("baselines");
        let (keys, layout, suppressed) = Self::read(df, key_names.clone(), &key_names[1..])?;
        // Only quantities that are 0 when no student has a baseline follow the growth
        // relations (n_without_baseline is the baselines table's count, checked there).
        let with = floats(df, "n_with_baseline")?;
        let mean = floats(df, "mean_growth")?;
        Ok(Quantities {
            table: "growth",
            key_names,
            keys,
            layout,
            suppressed,
            names: vec!["n_with_baseline", "sum_growth"],
            values: vec![
                with.clone(),
                mean.iter().zip(&with).map(|(m, n)| m * n).collect(),
            ],
        })
    }

    fn cohort(df: &DataFrame) -> PolarsResult<Quantities> {
        let key_names = cell_keys("cohort_change");
        let (keys, layout, suppressed) = Self::read(df, key_names.clone(), &key_names[1..])?;
        let n = floats(df, "n_matched")?;
        let mean = floats(df, "mean_change")?;
        let sd = floats(df, "sd_change")?;
        Ok(Quantities {
            table: "cohort_change",
            key_names,
            keys,
            layout,
            suppressed,
            names: vec!["n_matched", "sum_change", "sum_change2"],
            values: vec![
                n.clone(),
                mean.iter().zip(&n).map(|(m, n)| m * n).collect(),
                (0..n.len())
                    .map(|i| sd[i] * sd[i] * (n[i] - 1.0).max(0.0) + n[i] * mean[i] * mean[i])
                    .collect(),
            ],
        })
    }

    fn survey(df: &DataFrame) -> PolarsResult<Quantities> {
        let key_names = cell_keys("survey");
        let (keys, layout, suppressed) = Self::read(df, key_names.clone(), &key_names[1..])?;
        let responses = floats(df, "n_responses")?;
        let pct = floats(df, "pct_favorable")?;
        Ok(Quantities {
            table: "survey",
            key_names,
            keys,
            layout,
            suppressed,
            names: vec!["n_responses", "n_favorable"],
            values: vec![
                responses.clone(),
                pct.iter()
                    .zip(&responses)
                    .map(|(p, n)| p * n / 100.0)
                    .collect(),
            ],
        })
    }

    /// The survey's within-cell view: respondents, which add up within a cell only.
    fn within_cells(&self) -> Quantities {
        Quantities {
            table: self.table,
            key_names: self.key_names.clone(),
            keys: self.keys.clone(),
            layout: Layout {
                cell: self.layout.cell.clone(),
                school: self.layout.school.clone(),
                group: self.layout.group.clone(),
                size: self.layout.size.clone(),
                district_size: self.layout.size.clone(),
            },
            suppressed: self.suppressed.clone(),
            names: vec!["n_respondents"],
            values: vec![self.layout.size.iter().map(|&n| n as f64).collect()],
        }
    }
}

fn first_size(df: &DataFrame) -> PolarsResult<&'static str> {
    for c in ["n", "n_with_baseline", "n_matched", "n_respondents"] {
        if df.column(c).is_ok() {
            return Ok(c);
        }
    }
    polars_bail!(ColumnNotFound: "no size column")
}

/// One unknown of the audit's system.
enum Unknown {
    Row(usize),
    /// The unpublished part (rest or remainder) of relation i.
    Part(usize),
}

fn solve(
    t: &Quantities,
    open: Option<&Quantities>,
    groups: &[GroupDef],
    min_n: u32,
    with_district: bool,
    report: &mut Report,
) {
    let table = t.table;
    let min_n = f64::from(min_n);
    // With the open run: each row's true values, by key and group.
    let truth: Option<Vec<Option<usize>>> = open.map(|o| {
        let index: std::collections::HashMap<(Vec<&str>, &str), usize> = (0..o.suppressed.len())
            .map(|r| {
                (
                    (
                        o.keys.iter().map(|k| k[r].as_str()).collect(),
                        o.layout.group[r].as_str(),
                    ),
                    r,
                )
            })
            .collect();
        (0..t.suppressed.len())
            .map(|r| {
                index
                    .get(&(
                        t.keys.iter().map(|k| k[r].as_str()).collect::<Vec<_>>(),
                        t.layout.group[r].as_str(),
                    ))
                    .copied()
            })
            .collect()
    });
    let true_value = |r: usize, q: usize| -> Option<f64> {
        let (o, truth) = (open?, truth.as_ref()?);
        Some(truth[r].map_or(0.0, |i| o.values[q][i]))
    };
    // The true values of a relation's unpublished part: total − Σ parts.
    let true_part = |rel: &Relation, q: usize| -> Option<f64> {
        let mut v = true_value(rel.total, q)?;
        for &p in &rel.parts {
            v -= true_value(p, q)?;
        }
        Some(v)
    };
    let mut rels = relations(groups, &t.layout, DISTRICT);
    if !with_district {
        rels.retain(|r| r.rule != Rule::District);
    }
    // Every suppressed row is unknown, and so is every rest and remainder: an outsider does
    // not know their sizes.
    let mut unknowns: Vec<Unknown> = Vec::new();
    let mut row_unknown = vec![None; t.suppressed.len()];
    for (r, &s) in t.suppressed.iter().enumerate() {
        if s {
            row_unknown[r] = Some(unknowns.len());
            unknowns.push(Unknown::Row(r));
        }
    }
    let mut part_unknown = vec![None; rels.len()];
    for (i, rel) in rels.iter().enumerate() {
        // An insider knows an empty part is empty: it is no unknown then.
        let empty = true_part(rel, 0).is_some_and(|n| n.abs() < 0.5);
        if rel.rule != Rule::District && !empty {
            part_unknown[i] = Some(unknowns.len());
            unknowns.push(Unknown::Part(i));
        }
    }
    *report.checked.entry(table.to_string()).or_default() += unknowns.len();
    let nq = t.names.len();
    let mut equations = Vec::new();
    // The published side of each equation, per quantity: Σ unknown terms = rhs.
    let mut rhs: Vec<Vec<f64>> = Vec::new();
    let mut eq_relation = Vec::new();
    for (i, rel) in rels.iter().enumerate() {
        let mut eq = Vec::new();
        let mut b = vec![0.0; nq];
        let members = std::iter::once((rel.total, 1i64)).chain(rel.parts.iter().map(|&p| (p, -1)));
        for (r, k) in members {
            match row_unknown[r] {
                Some(u) => eq.push((u, k)),
                None => {
                    for (q, v) in t.values.iter().enumerate() {
                        b[q] -= k as f64 * v[r];
                    }
                }
            }
        }
        if let Some(u) = part_unknown[i] {
            eq.push((u, -1));
        }
        // A relation whose hidden members are together too few shows their total.
        let hidden = eq.len();
        if row_unknown[rel.total].is_none() && hidden >= 2 {
            let together = b[0];
            if together > 0.5 && together < min_n - 0.5 {
                let names: Vec<String> = eq
                    .iter()
                    .map(|(u, _)| describe_unknown(&unknowns[*u], &rels, t, groups))
                    .collect();
                report.findings.push(Finding {
                    table: table.to_string(),
                    kind: "together".into(),
                    key: key_of(t, rel.total, rel.district),
                    what: names.join(" + "),
                    values: vec![(t.names[0].to_string(), together.round())],
                    relations: vec![relation_words(rel, t, groups)],
                    from: published_rows(rel, t, groups, &row_unknown),
                });
            }
        }
        if !eq.is_empty() {
            equations.push(eq);
            rhs.push(b);
            eq_relation.push(i);
        }
    }
    let found = disclosure::recoverable(unknowns.len(), &equations);
    for (u, how) in found.iter().enumerate() {
        let Some(how) = how else { continue };
        let values: Vec<f64> = (0..nq)
            .map(|q| {
                how.iter()
                    .map(|(e, c)| disclosure::to_f64(c) * rhs[*e][q])
                    .sum()
            })
            .collect();
        let size = values[0].round();
        let leak = match unknowns[u] {
            Unknown::Row(_) => size > 0.0,
            Unknown::Part(_) => size > 0.0 && size < min_n,
        };
        if !leak {
            continue;
        }
        let at = match unknowns[u] {
            Unknown::Row(r) => r,
            Unknown::Part(i) => rels[i].total,
        };
        // Check the recovered values against the open run's.
        for (q, v) in values.iter().enumerate() {
            let truth = match unknowns[u] {
                Unknown::Row(r) => true_value(r, q),
                Unknown::Part(i) => true_part(&rels[i], q),
            };
            if let Some(truth) = truth {
                report.verified += 1;
                if (truth - v).abs() > 1e-6 * truth.abs().max(1.0) {
                    report.mismatches.push(format!(
                        "{table} {:?} {}: {} recovered as {v}, truly {truth}",
                        key_of(t, at, false),
                        describe_unknown(&unknowns[u], &rels, t, groups),
                        t.names[q]
                    ));
                }
            }
        }
        report.findings.push(Finding {
            table: table.to_string(),
            kind: "recovered".into(),
            key: key_of(t, at, false),
            what: describe_unknown(&unknowns[u], &rels, t, groups),
            values: shown_values(t, &values),
            relations: how
                .iter()
                .map(|(e, c)| {
                    format!(
                        "{} × ({})",
                        coefficient(c),
                        relation_words(&rels[eq_relation[*e]], t, groups)
                    )
                })
                .collect(),
            from: used_rows(how, &eq_relation, &rels, t, groups, &row_unknown),
        });
    }
}

fn coefficient(c: &num_rational::BigRational) -> String {
    if c.is_integer() {
        c.numer().to_string()
    } else {
        format!("{}/{}", c.numer(), c.denom())
    }
}

/// Recovered values as a reader would see them: the size, and means where they apply.
fn shown_values(t: &Quantities, v: &[f64]) -> Vec<(String, f64)> {
    let n = v[0];
    let per = |x: f64| if n.abs() > 0.5 { x / n } else { f64::NAN };
    let round = |x: f64| (x * 1e6).round() / 1e6;
    match t.names[1..].first().copied() {
        Some("sum_score") => vec![
            ("n".into(), n.round()),
            ("mean_scale_score".into(), round(per(v[1]))),
            ("mean_dfs".into(), round(per(v[2]))),
            ("pct_met_standard".into(), round(100.0 * per(v[6] + v[7]))),
        ],
        Some("sum_growth") => vec![
            ("n_with_baseline".into(), n.round()),
            ("mean_growth".into(), round(per(v[1]))),
        ],
        Some("sum_change") => vec![
            ("n_matched".into(), n.round()),
            ("mean_change".into(), round(per(v[1]))),
        ],
        Some("n_favorable") => vec![
            ("n_responses".into(), n.round()),
            ("pct_favorable".into(), round(100.0 * per(v[1]))),
        ],
        _ => vec![(t.names[0].to_string(), n.round())],
    }
}

fn key_of(t: &Quantities, r: usize, district: bool) -> Vec<(String, String)> {
    t.key_names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let v = if district && *name == "school_id" {
                DISTRICT.to_string()
            } else {
                t.keys[k][r].clone()
            };
            (name.to_string(), v)
        })
        .collect()
}

fn label<'a>(groups: &'a [GroupDef], id: &'a str) -> &'a str {
    groups
        .iter()
        .find(|g| g.id == id)
        .map_or(id, |g| g.label.as_str())
}

fn row_words(t: &Quantities, r: usize, groups: &[GroupDef]) -> String {
    let school = &t.layout.school[r];
    let who = label(groups, &t.layout.group[r]);
    let n = t.values[0][r];
    let at = if school == DISTRICT {
        "district".to_string()
    } else {
        format!("school {school}")
    };
    if t.suppressed[r] {
        format!("{at} {who} (suppressed)")
    } else {
        format!("{at} {who} ({} {})", t.names[0], n.round())
    }
}

fn describe_unknown(u: &Unknown, rels: &[Relation], t: &Quantities, groups: &[GroupDef]) -> String {
    match u {
        Unknown::Row(r) => label(groups, &t.layout.group[*r]).to_string(),
        Unknown::Part(i) => part_words(&rels[*i], t, groups),
    }
}

fn part_words(rel: &Relation, t: &Quantities, groups: &[GroupDef]) -> String {
    match rel.rule {
        Rule::GroupRest => format!(
            "students not in {}",
            label(groups, &t.layout.group[rel.parts[0]])
        ),
        _ => {
            let members: Vec<&str> = rel
                .parts
                .iter()
                .map(|&p| label(groups, &t.layout.group[p]))
                .collect();
            format!("students in none of {}", members.join(", "))
        }
    }
}

fn relation_words(rel: &Relation, t: &Quantities, groups: &[GroupDef]) -> String {
    let total = row_words(t, rel.total, groups);
    let mut parts: Vec<String> = rel.parts.iter().map(|&p| row_words(t, p, groups)).collect();
    if rel.rule != Rule::District {
        parts.push(part_words(rel, t, groups));
    }
    format!("{total} = {}", parts.join(" + "))
}

fn published_rows(
    rel: &Relation,
    t: &Quantities,
    groups: &[GroupDef],
    row_unknown: &[Option<usize>],
) -> Vec<String> {
    std::iter::once(rel.total)
        .chain(rel.parts.iter().copied())
        .filter(|r| row_unknown[*r].is_none())
        .map(|r| row_words(t, r, groups))
        .collect()
}

fn used_rows(
    how: &Combination,
    eq_relation: &[usize],
    rels: &[Relation],
    t: &Quantities,
    groups: &[GroupDef],
    row_unknown: &[Option<usize>],
) -> Vec<String> {
    let mut net: BTreeMap<usize, num_rational::BigRational> = BTreeMap::new();
    for (e, c) in how {
        let rel = &rels[eq_relation[*e]];
        let members =
            std::iter::once((rel.total, 1i64)).chain(rel.parts.iter().map(|&p| (p, -1i64)));
        for (r, k) in members {
            if row_unknown[r].is_none() {
                *net.entry(r)
                    .or_insert_with(|| num_rational::BigRational::from_integer(0.into())) +=
                    c * num_rational::BigRational::from_integer(k.into());
            }
        }
    }
    net.into_iter()
        .filter(|(_, c)| *c.numer() != 0.into())
        .map(|(r, c)| format!("{} × {}", coefficient(&c), row_words(t, r, groups)))
        .collect()
}

/// Derived tables show only what their sources publish.
#[allow(clippy::too_many_arguments)]
fn derived_checks(
    baselines: Option<&DataFrame>,
    growth: Option<&DataFrame>,
    cohort: Option<&DataFrame>,
    cohort_gaps: Option<&DataFrame>,
    gaps: Option<&DataFrame>,
    dashboard: Option<&DataFrame>,
    flags: Option<&DataFrame>,
    min_n: u32,
) -> PolarsResult<Vec<Finding>> {
    let mut out = Vec::new();
    // (school, year, window, assessment, subject, group) -> suppressed, per source table.
    let index = |df: Option<&DataFrame>| -> PolarsResult<BTreeMap<Vec<String>, bool>> {
        let mut m = BTreeMap::new();
        let Some(df) = df else { return Ok(m) };
        let cols = columns(df, crate::metrics::keys("baselines"))?;
        let s: Vec<bool> = hidden(df)?;
        for (i, s) in s.into_iter().enumerate() {
            m.insert(cols.iter().map(|c| c[i].clone()).collect(), s);
        }
        Ok(m)
    };
    let base = index(baselines)?;
    let grow = index(growth)?;
    let matched = index(cohort)?;
    // A cell key (school, year, window, assessment, subject) as a finding names it.
    let named = |key: &[String]| -> Vec<(String, String)> {
        [
            "school_id",
            "school_year",
            "window",
            "assessment",
            "subject",
        ]
        .iter()
        .zip(key)
        .map(|(a, b)| (a.to_string(), b.clone()))
        .collect()
    };
    // n_with_baseline + n_without_baseline is the baselines row's n: published only with it.
    if let Some(g) = growth {
        let keys = columns(g, crate::metrics::keys("baselines"))?;
        let without = g.column("n_without_baseline")?;
        for i in 0..g.height() {
            let key: Vec<String> = keys.iter().map(|c| c[i].clone()).collect();
            if !without.get(i)?.is_null() && base.get(&key) == Some(&true) {
                out.push(Finding {
                    table: "growth".into(),
                    kind: "derived".into(),
                    key: named(&key),
                    what: key[5].clone(),
                    values: Vec::new(),
                    relations: vec![
                        "n_without_baseline shows the count of a suppressed baselines row".into(),
                    ],
                    from: Vec::new(),
                });
            }
        }
    }
    let published = |m: &BTreeMap<Vec<String>, bool>, key: &[String], g: &str| {
        let mut k = key.to_vec();
        k.push(g.to_string());
        m.get(&k) == Some(&false)
    };
    // A pair may be published when both its sides are (`rest` is `all` minus F, so it needs
    // `all`) and each has at least min_n_display students.
    let pair_shown =
        |m: &BTreeMap<Vec<String>, bool>, key: &[String], f: &str, r: &str, n: (f64, f64)| {
            let reference = if r == "rest" { "all" } else { r };
            published(m, key, f)
                && published(m, key, reference)
                && n.0 >= f64::from(min_n)
                && n.1 >= f64::from(min_n)
        };
    let finding = |table: &str, key: Vec<(String, String)>, what: String, why: String| Finding {
        table: table.into(),
        kind: "derived".into(),
        key,
        what,
        values: Vec::new(),
        relations: vec![why],
        from: Vec::new(),
    };
    if let Some(df) = gaps {
        let k = columns(df, crate::metrics::keys("gaps"))?;
        let supp: Vec<bool> = hidden(df)?;
        let nf = floats(df, "n_focal")?;
        let nr = floats(df, "n_reference")?;
        for i in 0..df.height() {
            if supp[i] {
                continue;
            }
            let key: Vec<String> = (0..5).map(|c| k[c][i].clone()).collect();
            let source = if k[5][i] == "pct_met_growth_target" {
                &grow
            } else {
                &base
            };
            let (f, r) = (&k[6][i], &k[7][i]);
            if !pair_shown(source, &key, f, r, (nf[i], nr[i])) {
                let mut named = named(&key);
                named.push(("metric".into(), k[5][i].clone()));
                out.push(finding(
                    "gaps",
                    named,
                    format!("{f} vs {r}"),
                    "a published gap between groups its source table hides (or of fewer than min_n_display students)".into(),
                ));
            }
        }
    }
    if let Some(df) = cohort_gaps {
        let k = columns(df, crate::metrics::keys("cohort_gaps"))?;
        let supp: Vec<bool> = hidden(df)?;
        let nf = floats(df, "n_focal")?;
        let nr = floats(df, "n_reference")?;
        for i in (0..df.height()).filter(|&i| !supp[i]) {
            let key: Vec<String> = (0..5).map(|c| k[c][i].clone()).collect();
            let (f, r) = (&k[5][i], &k[6][i]);
            if !pair_shown(&matched, &key, f, r, (nf[i], nr[i])) {
                out.push(finding(
                    "cohort_gaps",
                    named(&key),
                    format!("{f} vs {r}"),
                    "a published same-students change between groups cohort_change hides (or of fewer than min_n_display students)".into(),
                ));
            }
        }
    }
    if let (Some(df), Some(b)) = (dashboard, baselines) {
        // The Dashboard row follows the baselines row of the last window with its key.
        let k = columns(df, crate::metrics::keys("dashboard"))?;
        let supp: Vec<bool> = hidden(df)?;
        let status = floats(df, "status")?;
        let n = floats(df, "n")?;
        // The baselines row with the same key, some window, whose n and mean match.
        let bn = floats(b, "n")?;
        let bmean = floats(b, "mean_dfs")?;
        let bk = columns(b, crate::metrics::keys("dashboard"))?;
        let bsupp: Vec<bool> = hidden(b)?;
        let mut shown: BTreeSet<(Vec<String>, i64, i64)> = BTreeSet::new();
        for i in 0..b.height() {
            if !bsupp[i] {
                let key: Vec<String> = (0..5).map(|c| bk[c][i].clone()).collect();
                shown.insert((key, bn[i] as i64, (bmean[i] * 1e6).round() as i64));
            }
        }
        for i in 0..df.height() {
            if supp[i] {
                continue;
            }
            let key: Vec<String> = (0..5).map(|c| k[c][i].clone()).collect();
            if !shown.contains(&(key.clone(), n[i] as i64, (status[i] * 1e6).round() as i64)) {
                out.push(finding(
                    "dashboard",
                    ["school_id", "school_year", "assessment", "subject"]
                        .iter()
                        .zip(&key)
                        .map(|(a, b)| (a.to_string(), b.clone()))
                        .collect(),
                    key[4].clone(),
                    "a Dashboard status that no published baselines row shows".into(),
                ));
            }
        }
    }
    if let (Some(df), Some(g)) = (flags, gaps) {
        let k = columns(df, &crate::metrics::keys("flags")[..6])?;
        let reference = texts(df, "reference_group")?;
        // The (school, year, window, subject, pair) of each published row of a gap table.
        let published_pairs = |df: &DataFrame| -> PolarsResult<BTreeSet<Vec<String>>> {
            let cols = columns(
                df,
                &[
                    "school_id",
                    "school_year",
                    "window",
                    "subject",
                    "focal_group",
                    "reference_group",
                ],
            )?;
            let supp: Vec<bool> = hidden(df)?;
            Ok((0..df.height())
                .filter(|i| !supp[*i])
                .map(|i| cols.iter().map(|c| c[i].clone()).collect())
                .collect())
        };
        let mut open = published_pairs(g)?;
        // Flags on the same-students basis read cohort_gaps.
        if let Some(c) = cohort_gaps {
            open.extend(published_pairs(c)?);
        }
        for i in 0..df.height() {
            if k[4][i] == FlagKind::LowGrowth.code() {
                let mut key: Vec<String> = (0..3).map(|c| k[c][i].clone()).collect();
                key.push(k[3][i].clone());
                let any = grow.iter().any(|(gk, s)| {
                    !s && gk[0] == key[0]
                        && gk[1] == key[1]
                        && gk[2] == key[2]
                        && gk[4] == key[3]
                        && gk[5] == "all"
                });
                if !any {
                    out.push(finding(
                        "flags",
                        vec![("school_id".into(), key[0].clone())],
                        FlagKind::LowGrowth.code().into(),
                        "a low-growth flag without a published growth row".into(),
                    ));
                }
                continue;
            }
            let key: Vec<String> = vec![
                k[0][i].clone(),
                k[1][i].clone(),
                k[2][i].clone(),
                k[3][i].clone(),
                k[5][i].clone(),
                reference[i].clone(),
            ];
            if !open.contains(&key) {
                out.push(finding(
                    "flags",
                    vec![("school_id".into(), key[0].clone())],
                    format!("{} vs {}", key[4], key[5]),
                    format!("a {} flag without a published gap row", k[4][i]),
                ));
            }
        }
    }
    Ok(out)
}

/// The report for people: what leaked, from which published rows.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let checked: usize = report.checked.values().sum();
    if report.findings.is_empty() {
        out.push_str(&format!(
            "ok: no hidden value in `{}` can be worked out from the published rows ({} hidden rows and unpublished parts checked: {})\n",
            report.run.display(),
            checked,
            report
                .checked
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return out;
    }
    out.push_str(&format!(
        "{} hidden value{} in `{}` can be worked out from published rows (min_n_display = {}):\n",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        report.run.display(),
        report.min_n_display
    ));
    for f in &report.findings {
        let key: Vec<String> = f.key.iter().map(|(_, v)| v.clone()).collect();
        out.push_str(&format!(
            "\n  {} · {} · {}\n",
            f.table,
            key.join(" · "),
            f.what
        ));
        if !f.values.is_empty() {
            let v: Vec<String> = f.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            out.push_str(&format!("    recovered: {}\n", v.join(", ")));
        }
        for r in &f.relations {
            out.push_str(&format!("    by: {r}\n"));
        }
        if !f.from.is_empty() {
            out.push_str(&format!("    from published rows: {}\n", f.from.join("; ")));
        }
    }
    out
}
