//! Privacy suppression, exactly as METRICS.md ("Privacy suppression") defines it, applied
//! after computing. A suppressed row keeps its key columns; its values and counts become null.
//!
//! **Primary**: a row whose size is below `min_n_display` is suppressed.
//!
//! **Complementary**: published counts and sums add up, so a hidden row must not be
//! recoverable by subtraction. Within one cell key, each partition of groups on one column
//! (plus the unpublished remainder) adds up to `all`, and each group plus its unpublished
//! `rest` adds up to `all`; across schools, a district row is the sum of its schools' rows. A
//! relation is safe when no member is sensitive, or when its hidden members are at least two
//! whose sizes add up to at least `min_n_display`; while it is not, its smallest published part
//! is hidden too (ties: group order, then school id), or its total when no part is left. The
//! passes repeat until nothing changes; then `disclosure` looks for a hidden value that a
//! combination of relations pins down, hides the smallest published part of that combination,
//! and the passes start again.

use super::disclosure::{self, Equation};
use crate::pipeline::Plan;
use crate::pipeline::plan::GroupDef;
use num_rational::BigRational;
use num_traits::Zero;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Why a row is suppressed; the first rule that hid it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Smaller than `min_n_display`.
    Primary,
    /// A partition of one column's groups (gender, race, EL status, ...).
    Partition,
    /// A group and its rest.
    GroupRest,
    /// A district row and its schools.
    District,
    /// A combination of relations that pinned down a hidden value.
    Combination,
}

impl Rule {
    pub const ALL: [Rule; 5] = [
        Rule::Primary,
        Rule::Partition,
        Rule::GroupRest,
        Rule::District,
        Rule::Combination,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Rule::Primary => "primary",
            Rule::Partition => "partition",
            Rule::GroupRest => "group_and_rest",
            Rule::District => "district",
            Rule::Combination => "combination",
        }
    }
}

/// The rows of one table as suppression sees them.
pub struct Layout {
    /// The cell key without the school (year, window, assessment, subject; for the survey
    /// year, window, respondent type, construct), as one text that sorts in key order.
    pub cell: Vec<String>,
    pub school: Vec<String>,
    pub group: Vec<String>,
    /// Size within a cell.
    pub size: Vec<i64>,
    /// Size in the district relation (the survey counts responses there).
    pub district_size: Vec<i64>,
}

impl Layout {
    /// Read a layout from `df`: its `school_id`, `group`, the `cell` columns, and the sizes.
    pub fn of(
        df: &DataFrame,
        cell: &[&str],
        size: &str,
        district_size: &str,
    ) -> PolarsResult<Layout> {
        let text = |c: &str| -> PolarsResult<Vec<String>> {
            Ok(df
                .column(c)?
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let int = |c: &str| -> PolarsResult<Vec<i64>> {
            Ok(df
                .column(c)?
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect())
        };
        let parts: Vec<Vec<String>> = cell.iter().map(|c| text(c)).collect::<PolarsResult<_>>()?;
        let cell = (0..df.height())
            .map(|i| {
                parts
                    .iter()
                    .map(|p| p[i].as_str())
                    .collect::<Vec<_>>()
                    .join("\u{1f}")
            })
            .collect();
        Ok(Layout {
            cell,
            school: text("school_id")?,
            group: text("group")?,
            size: int(size)?,
            district_size: int(district_size)?,
        })
    }

    pub fn len(&self) -> usize {
        self.size.len()
    }

    pub fn is_empty(&self) -> bool {
        self.size.is_empty()
    }
}

/// The result: which rows are suppressed and why.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub suppressed: Vec<bool>,
    pub rule: Vec<Option<Rule>>,
}

impl Outcome {
    /// Rows hidden by each rule, in rule order (rules that hid nothing left out).
    pub fn counts(&self) -> Vec<(Rule, usize)> {
        self.counts_where(|_| true)
    }

    /// Rows hidden by each rule among the rows `keep` admits (a table that publishes only some
    /// of the layout's rows counts only those).
    pub fn counts_where(&self, keep: impl Fn(usize) -> bool) -> Vec<(Rule, usize)> {
        Rule::ALL
            .iter()
            .map(|r| {
                let n = (0..self.rule.len())
                    .filter(|&i| self.rule[i] == Some(*r) && keep(i))
                    .count();
                (*r, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn column(&self) -> Column {
        Column::new("suppressed".into(), self.suppressed.clone())
    }
}

/// The partitions of the plan's groups: for each column (gender, race, EL status, then the
/// others in plan order), the groups on it whose values do not overlap, in plan order. Columns
/// with a single group are left out: their partition is that group and its rest.
pub fn partitions(groups: &[GroupDef]) -> Vec<Vec<usize>> {
    let mut columns: Vec<&str> = vec!["gender", "race_ethnicity", "el_status"];
    for g in groups {
        if let Some(c) = g.column.as_deref()
            && !columns.contains(&c)
        {
            columns.push(c);
        }
    }
    let mut out = Vec::new();
    for column in columns {
        let mut members: Vec<usize> = Vec::new();
        let mut taken: Vec<&str> = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if g.column.as_deref() != Some(column) {
                continue;
            }
            if g.values.iter().any(|v| taken.contains(&v.as_str())) {
                continue;
            }
            taken.extend(g.values.iter().map(String::as_str));
            members.push(i);
        }
        if members.len() >= 2 {
            out.push(members);
        }
    }
    out
}

/// One additive relation: `total` = Σ `parts` (+ an unpublished part of size `unpublished`).
#[derive(Debug, Clone)]
pub struct Relation {
    pub rule: Rule,
    pub total: usize,
    pub parts: Vec<usize>,
    /// The size of the relation's unpublished part (remainder or rest), 0 when it has none.
    pub unpublished: i64,
    /// Whether sizes are district sizes.
    pub district: bool,
}

/// Every relation among the rows of `layout`, in the order they are checked: cell keys in key
/// order (school, then the rest of the key), within one the partitions and then each group
/// with its rest; then the district relations.
pub fn relations(groups: &[GroupDef], layout: &Layout, district_id: &str) -> Vec<Relation> {
    let order = group_order(groups);
    let all_id = groups
        .iter()
        .find(|g| g.column.is_none())
        .map_or("all", |g| g.id.as_str());
    // (school, cell) -> group index -> row
    let mut cells: BTreeMap<(&str, &str), BTreeMap<usize, usize>> = BTreeMap::new();
    // (cell, group) -> district row, school rows
    let mut district: BTreeMap<(&str, usize), DistrictRows> = BTreeMap::new();
    for r in 0..layout.len() {
        let Some(&g) = order.get(layout.group[r].as_str()) else {
            continue;
        };
        cells
            .entry((layout.school[r].as_str(), layout.cell[r].as_str()))
            .or_default()
            .insert(g, r);
        let d = district
            .entry((layout.cell[r].as_str(), g))
            .or_insert((None, Vec::new()));
        if layout.school[r] == district_id {
            d.0 = Some(r);
        } else {
            d.1.push(r);
        }
    }
    let all = order.get(all_id).copied();
    let partitions = partitions(groups);
    let mut out = Vec::new();
    for rows in cells.values() {
        let Some(total) = all.and_then(|a| rows.get(&a)).copied() else {
            continue;
        };
        let n_all = layout.size[total];
        for members in &partitions {
            let parts: Vec<usize> = members
                .iter()
                .filter_map(|g| rows.get(g).copied())
                .collect();
            if parts.is_empty() {
                continue;
            }
            let covered: i64 = parts.iter().map(|&p| layout.size[p]).sum();
            out.push(Relation {
                rule: Rule::Partition,
                total,
                parts,
                unpublished: (n_all - covered).max(0),
                district: false,
            });
        }
        for (&g, &r) in rows {
            if Some(g) == all {
                continue;
            }
            out.push(Relation {
                rule: Rule::GroupRest,
                total,
                parts: vec![r],
                unpublished: (n_all - layout.size[r]).max(0),
                district: false,
            });
        }
    }
    for (total, parts) in district.into_values() {
        if let Some(total) = total
            && !parts.is_empty()
        {
            out.push(Relation {
                rule: Rule::District,
                total,
                parts,
                unpublished: 0,
                district: true,
            });
        }
    }
    out
}

/// The district's row of a (cell, group), if any, and its schools' rows.
type DistrictRows = (Option<usize>, Vec<usize>);

fn group_order(groups: &[GroupDef]) -> BTreeMap<&str, usize> {
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i))
        .collect()
}

/// Suppress the rows of one table: primary, then (when the plan asks for it) complementary.
pub fn suppress(plan: &Plan, layout: &Layout, district_id: &str) -> Outcome {
    let min_n = i64::from(plan.privacy.min_n_display);
    let mut out = Outcome {
        suppressed: layout.size.iter().map(|&n| n < min_n).collect(),
        rule: layout
            .size
            .iter()
            .map(|&n| (n < min_n).then_some(Rule::Primary))
            .collect(),
    };
    if !plan.privacy.complementary {
        return out;
    }
    let order = group_order(&plan.groups);
    let rank = |r: usize| {
        order
            .get(layout.group[r].as_str())
            .copied()
            .unwrap_or(usize::MAX)
    };
    let relations = relations(&plan.groups, layout, district_id);
    let size = |rel: &Relation, r: usize| {
        if rel.district {
            layout.district_size[r]
        } else {
            layout.size[r]
        }
    };
    loop {
        let mut changed = false;
        for rel in &relations {
            loop {
                if is_safe(rel, &out.suppressed, |r| size(rel, r), min_n) {
                    break;
                }
                let candidate = rel
                    .parts
                    .iter()
                    .copied()
                    .filter(|&p| !out.suppressed[p] && size(rel, p) > 0)
                    .min_by(|&a, &b| {
                        (size(rel, a), rank(a), &layout.school[a]).cmp(&(
                            size(rel, b),
                            rank(b),
                            &layout.school[b],
                        ))
                    });
                let hide = match candidate {
                    Some(p) => p,
                    None if !out.suppressed[rel.total] => rel.total,
                    // Everything is hidden already: nothing more can be done or leaked here.
                    None => break,
                };
                out.suppressed[hide] = true;
                out.rule[hide] = Some(rel.rule);
                changed = true;
            }
        }
        if changed {
            continue;
        }
        if !break_combinations(&relations, layout, &mut out, min_n, &rank) {
            break;
        }
    }
    out
}

/// METRICS.md's test for one relation: safe when nothing in it is sensitive, or when its
/// hidden members are at least two and together at least `min_n` strong, or when none of its
/// members is published (the state the rule ends in when there is nothing left to hide).
pub fn is_safe(
    rel: &Relation,
    suppressed: &[bool],
    size: impl Fn(usize) -> i64,
    min_n: i64,
) -> bool {
    let (mut sensitive, mut hidden, mut hidden_size) = (false, 0, 0);
    for r in std::iter::once(rel.total).chain(rel.parts.iter().copied()) {
        if suppressed[r] && size(r) > 0 {
            sensitive = true;
            hidden += 1;
            hidden_size += size(r);
        }
    }
    if rel.unpublished > 0 {
        hidden += 1;
        hidden_size += rel.unpublished;
        sensitive |= rel.unpublished < min_n;
    }
    // A relation with nothing published at all shows nothing.
    let nothing_shown =
        suppressed[rel.total] && rel.parts.iter().all(|&p| suppressed[p] || size(p) == 0);
    !sensitive || (hidden >= 2 && hidden_size >= min_n) || nothing_shown
}

/// The unknowns of the relations' linear system: hidden rows of size > 0 and unpublished
/// parts of size > 0, and each relation with an unknown as an equation over them.
struct System {
    /// Unknown index of each row, if hidden.
    row: Vec<Option<usize>>,
    /// Unknown index of each relation's unpublished part, if any.
    part: Vec<Option<usize>>,
    n: usize,
    equations: Vec<Equation>,
    /// The relation of each equation.
    relation: Vec<usize>,
}

fn system(relations: &[Relation], layout: &Layout, suppressed: &[bool]) -> System {
    let mut n = 0;
    let row = (0..layout.len())
        .map(|r| {
            (suppressed[r] && (layout.size[r] > 0 || layout.district_size[r] > 0)).then(|| {
                n += 1;
                n - 1
            })
        })
        .collect();
    let part = relations
        .iter()
        .map(|rel| {
            (rel.unpublished > 0).then(|| {
                n += 1;
                n - 1
            })
        })
        .collect();
    let mut s = System {
        row,
        part,
        n,
        equations: Vec::new(),
        relation: Vec::new(),
    };
    for (i, rel) in relations.iter().enumerate() {
        let mut eq: Equation = Vec::new();
        if let Some(u) = s.row[rel.total] {
            eq.push((u, 1));
        }
        for &p in &rel.parts {
            if let Some(u) = s.row[p] {
                eq.push((u, -1));
            }
        }
        if let Some(u) = s.part[i] {
            eq.push((u, -1));
        }
        if !eq.is_empty() {
            s.equations.push(eq);
            s.relation.push(i);
        }
    }
    s
}

/// Find hidden values that a combination of relations pins down and hide one published row of
/// each such combination. Returns whether anything was hidden.
fn break_combinations(
    relations: &[Relation],
    layout: &Layout,
    out: &mut Outcome,
    min_n: i64,
    rank: &dyn Fn(usize) -> usize,
) -> bool {
    let s = system(relations, layout, &out.suppressed);
    let found = disclosure::recoverable(s.n, &s.equations);
    let row_of: BTreeMap<usize, usize> = s
        .row
        .iter()
        .enumerate()
        .filter_map(|(r, u)| u.map(|u| (u, r)))
        .collect();
    let part_of: BTreeMap<usize, usize> = s
        .part
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.map(|u| (u, i)))
        .collect();
    let mut hidden_now: Vec<usize> = Vec::new();
    for (u, how) in found.iter().enumerate() {
        let Some(how) = how else { continue };
        let leak = match (row_of.get(&u), part_of.get(&u)) {
            (Some(_), _) => true,
            (None, Some(&rel)) => relations[rel].unpublished < min_n,
            _ => false,
        };
        if !leak {
            continue;
        }
        // Net coefficient of each published row in the combination, and whether it is a part
        // (not only a total) of one of its relations.
        let mut net: BTreeMap<usize, BigRational> = BTreeMap::new();
        let mut is_part: BTreeMap<usize, bool> = BTreeMap::new();
        for (e, c) in how {
            let rel = &relations[s.relation[*e]];
            let members = std::iter::once((rel.total, 1i64, false))
                .chain(rel.parts.iter().map(|&p| (p, -1i64, true)));
            for (r, k, part) in members {
                if out.suppressed[r] {
                    continue;
                }
                *net.entry(r).or_insert_with(BigRational::zero) +=
                    c * BigRational::from_integer(k.into());
                *is_part.entry(r).or_default() |= part;
            }
        }
        let live: Vec<usize> = net
            .iter()
            .filter(|(_, c)| !c.is_zero())
            .map(|(r, _)| *r)
            .collect();
        if live.iter().any(|r| hidden_now.contains(r)) {
            continue;
        }
        let pick = |only_parts: bool| {
            live.iter()
                .copied()
                .filter(|r| !only_parts || is_part[r])
                .min_by(|&a, &b| {
                    (layout.size[a], rank(a), &layout.school[a]).cmp(&(
                        layout.size[b],
                        rank(b),
                        &layout.school[b],
                    ))
                })
        };
        if let Some(r) = pick(true).or_else(|| pick(false)) {
            out.suppressed[r] = true;
            out.rule[r] = Some(Rule::Combination);
            hidden_now.push(r);
        }
    }
    !hidden_now.is_empty()
}

/// Null `columns` on the rows whose `suppressed` column is true.
pub fn hide(lf: LazyFrame, columns: &[&str]) -> LazyFrame {
    lf.with_columns(
        columns
            .iter()
            .map(|c| {
                when(col("suppressed"))
                    .then(lit(NULL))
                    .otherwise(col(*c))
                    .alias(*c)
            })
            .collect::<Vec<_>>(),
    )
}
