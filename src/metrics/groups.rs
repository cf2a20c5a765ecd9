//! Who belongs to which group, and aggregating per group. Membership comes from the students
//! row of the year as one boolean column per group, then as one bitmask (`pattern`); rows are
//! keyed by a packed cell (see `keys`) and summed per group at every school and for the
//! district.

use super::keys::Packing;
use super::{DISTRICT, Years};
use crate::pipeline::Plan;
use crate::pipeline::plan::GroupDef;
use crate::validate::Codes;
use polars::prelude::*;

/// The column that says whether a student belongs to a group (every group but `all`).
pub(crate) fn member_col(group: &str) -> String {
    format!("in:{group}")
}

/// The groups that have a predicate (all but `all`).
pub(crate) fn predicate_groups(plan: &Plan) -> impl Iterator<Item = &GroupDef> {
    plan.groups.iter().filter(|g| g.column.is_some())
}

/// One row per students row, keyed by `mkey` (the student's number, see `validate::ids`, and
/// year code), with the bitmask of the groups the student is in that year (`pattern`). Worked
/// out once and kept, since every table joins it.
/// The students' code columns are coded (see `validate::codes`), so a group's values are
/// matched by their codes.
pub(crate) fn members(
    plan: &Plan,
    students: &DataFrame,
    years: &Years,
    codes: &Codes,
) -> PolarsResult<DataFrame> {
    if students.width() == 0 {
        return DataFrame::new_infer_height(vec![
            Column::new_empty("mkey".into(), &DataType::UInt64),
            Column::new_empty("pattern".into(), &DataType::UInt64),
        ]);
    }
    let mut exprs = Vec::new();
    for g in predicate_groups(plan) {
        let column = g.column.as_deref().expect("predicate groups have a column");
        let is_bool = students
            .column(column)
            .map(|c| c.dtype() == &DataType::Boolean)
            .unwrap_or(false);
        let member = if is_bool {
            let yes = g.values.iter().any(|v| v == "Y");
            let no = g.values.iter().any(|v| v == "N");
            match (yes, no) {
                (true, true) => col(column).is_not_null(),
                (true, false) => col(column).eq(lit(true)),
                (false, true) => col(column).eq(lit(false)),
                (false, false) => lit(false),
            }
        } else if codes.is_coded_in(students, column) {
            let values = Series::new("values".into(), codes.codes_of(column, &g.values));
            col(column).is_in(lit(values).implode(false), false)
        } else {
            let values = Series::new("values".into(), g.values.clone());
            col(column).is_in(lit(values).implode(false), false)
        };
        exprs.push(member.fill_null(lit(false)).alias(member_col(&g.id)));
    }
    students
        .clone()
        .lazy()
        .with_columns(exprs)
        .select([
            Years::member_key_of(col("student_id").cast(DataType::UInt64), years.code())
                .alias("mkey"),
            pattern(plan)?,
        ])
        .collect()
}

/// Each row's group `pattern`, from its `mkey` (student number and year; null when the row is
/// not a student's): rows without a students row that year are in `all` only.
pub(crate) fn with_pattern(lf: LazyFrame, members: &DataFrame) -> LazyFrame {
    lf.join(
        members.clone().lazy(),
        [col("mkey")],
        [col("mkey")],
        JoinArgs::new(JoinType::Left),
    )
    .with_column(col("pattern").fill_null(lit(0u64)))
}

/// Rows keyed by a packed `cell` (see `keys`) and its district `dcell`, with the tables that
/// turn both back into key columns.
pub(crate) struct Numbered {
    /// The rows, with `cell` and `dcell`.
    pub rows: DataFrame,
    /// `cell` -> the school keys.
    pub cells: DataFrame,
    /// `dcell` -> the district keys.
    pub dcells: DataFrame,
}

impl Numbered {
    /// Rows already summed per `cell`, with the district's sums per `dcell` beside them.
    pub(crate) fn of_sums(
        rows: DataFrame,
        district: &DataFrame,
        packing: &Packing,
    ) -> PolarsResult<Numbered> {
        Ok(Numbered {
            cells: key_table(&rows, "cell", 0, packing)?,
            dcells: key_table(district, "dcell", 1, packing)?,
            rows,
        })
    }
}

/// Each distinct `id` (`cell` or `dcell`) of `rows` with its key columns, the first `skip`
/// fields left out.
fn key_table(
    rows: &DataFrame,
    id: &str,
    skip: usize,
    packing: &Packing,
) -> PolarsResult<DataFrame> {
    let mut select = vec![col(id)];
    select.extend(packing.decode(id, skip));
    rows.clone()
        .lazy()
        .select([col(id)])
        .unique(None, UniqueKeepStrategy::Any)
        .select(select)
        .collect()
}

/// A student's groups as one bitmask (`pattern`): bit i is the i-th group with a predicate.
/// Students who share a pattern share every group, so rows can be summed per pattern first.
pub(crate) fn pattern(plan: &Plan) -> PolarsResult<Expr> {
    let flags: Vec<Expr> = predicate_groups(plan)
        .enumerate()
        .map(|(i, g)| col(member_col(&g.id)).cast(DataType::UInt64) * lit(1u64 << i))
        .collect();
    if flags.len() > 63 {
        polars_bail!(ComputeError: "more than 63 student groups");
    }
    Ok(flags
        .into_iter()
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| lit(0u64))
        .alias("pattern"))
}

/// The rows of group `g` among rows with a `pattern`.
fn in_group(plan: &Plan, g: &GroupDef) -> Option<Expr> {
    let bit = predicate_groups(plan).position(|p| p.id == g.id)?;
    Some(((col("pattern") / lit(1u64 << bit)) % lit(2u64)).eq(lit(1u64)))
}

/// Aggregate `rows` (with `pattern`) by `id` (`cell` or `dcell`) once per group: `all` takes
/// every row, the others the rows whose pattern has their bit. Output: id, `group`, aggregates.
pub(crate) fn per_group(
    plan: &Plan,
    rows: &DataFrame,
    id: &str,
    aggs: &dyn Fn() -> Vec<Expr>,
) -> PolarsResult<LazyFrame> {
    let parts: Vec<LazyFrame> = plan
        .groups
        .iter()
        .map(|g| {
            let base = match in_group(plan, g) {
                None => rows.clone().lazy(),
                Some(member) => rows.clone().lazy().filter(member),
            };
            base.group_by([col(id)])
                .agg(aggs())
                .with_column(lit(g.id.as_str()).alias("group"))
        })
        .collect();
    concat(
        parts,
        UnionArgs {
            parallel: true,
            ..Default::default()
        },
    )
}

/// Sums per `id` and group, done in two steps: the rows are summed per (id, pattern) once,
/// then each group adds up the patterns it covers, which are far fewer than the rows.
/// `sums` are (output name, aggregation over rows); each must be a sum or a count.
pub(crate) fn per_group_sums(
    plan: &Plan,
    rows: &DataFrame,
    id: &str,
    sums: &[(&str, Expr)],
) -> PolarsResult<LazyFrame> {
    let max_id = rows.column(id)?.u64()?.max().unwrap_or(0);
    let id_bits = u64::BITS - max_id.leading_zeros();
    let by_pattern = sums_by_pattern(plan, rows.clone().lazy(), id, id_bits, sums).collect()?;
    per_group_of_sums(plan, &by_pattern, id, sums)
}

/// `rows` (with `pattern` and an `id` of at most `id_bits` bits) summed per (id, pattern).
pub(crate) fn sums_by_pattern(
    plan: &Plan,
    rows: LazyFrame,
    id: &str,
    id_bits: u32,
    sums: &[(&str, Expr)],
) -> LazyFrame {
    let aggs: Vec<Expr> = sums
        .iter()
        .map(|(name, e)| e.clone().alias(*name))
        .collect();
    // One integer key when id and pattern fit in 64 bits (grouping by one column is the fast
    // path), else both columns.
    let groups = predicate_groups(plan).count() as u32;
    if id_bits + groups <= 64 {
        let shift = || lit(1u64 << groups);
        rows.group_by([(col(id) * shift() + col("pattern")).alias("key")])
            .agg(aggs)
            .with_columns([
                (col("key") / shift()).alias(id),
                (col("key") % shift()).alias("pattern"),
            ])
    } else {
        rows.group_by([col(id), col("pattern")]).agg(aggs)
    }
}

/// Sums per (`id`, `pattern`) added up per `id` and group.
pub(crate) fn per_group_of_sums(
    plan: &Plan,
    by_pattern: &DataFrame,
    id: &str,
    sums: &[(&str, Expr)],
) -> PolarsResult<LazyFrame> {
    let resum = || {
        sums.iter()
            .map(|(name, _)| col(*name).sum().alias(*name))
            .collect::<Vec<_>>()
    };
    per_group(plan, by_pattern, id, &resum)
}

/// School-level aggregates (by `cell`) and district ones (by `dcell`), each with `group`,
/// given their key columns back and stacked; `order` is the output columns.
pub(crate) fn with_keys(
    numbered: &Numbered,
    schools: LazyFrame,
    district: LazyFrame,
    order: &[Expr],
) -> PolarsResult<LazyFrame> {
    let cell = [col("cell")];
    let dcell = [col("dcell")];
    let inner = || JoinArgs::new(JoinType::Inner);
    let schools = schools
        .join(numbered.cells.clone().lazy(), cell.clone(), cell, inner())
        .select(order);
    let district = district
        .join(
            numbered.dcells.clone().lazy(),
            dcell.clone(),
            dcell,
            inner(),
        )
        .with_column(lit(DISTRICT).alias("school_id"))
        .select(order);
    concat([schools, district], UnionArgs::default())
}
