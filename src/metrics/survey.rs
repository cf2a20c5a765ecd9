//! Survey favorability per (school, year, window, respondent type, construct, group): a
//! response is favorable at or above the item's favorable minimum, or for a reversed item at
//! or below (max + min − favorable_min); pct_favorable pools the construct's items. Student
//! respondents take their groups from the students table; staff and parents are `all` only.
//! The district roll-up counts a respondent once.

use super::groups::{self, per_group_sums, with_keys, with_pattern};
use super::keys::{self, Packing};
use super::{DISTRICT, Years, ratio, sorted, stream, suppression};
use crate::pipeline::Plan;
use crate::validate::Survey;
use crate::validate::survey_codes::RESPONDENT_TYPES;
use polars::prelude::*;

pub const COLUMNS: [&str; 10] = [
    "school_id",
    "school_year",
    "window",
    "respondent_type",
    "construct",
    "group",
    "n_respondents",
    "n_responses",
    "pct_favorable",
    "suppressed",
];

const KEYS: [&str; 5] = [
    "school_id",
    "school_year",
    "window",
    "respondent_type",
    "construct",
];

/// Each item's construct code and lowest and highest favorable answer, indexed by item code
/// (null for an item code whose construct is not reported), so a response finds them by
/// position rather than through a join.
struct ItemAttributes {
    construct: Series,
    lo: Series,
    hi: Series,
}

impl ItemAttributes {
    fn of(
        items: &DataFrame,
        item_ids: &[String],
        packing: &Packing,
    ) -> PolarsResult<ItemAttributes> {
        let get_str = |c: &str| -> PolarsResult<Vec<String>> {
            Ok(items
                .column(c)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let get_i32 = |c: &str| -> PolarsResult<Vec<i32>> {
            Ok(items
                .column(c)?
                .i32()?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect())
        };
        let (id, construct) = (get_str("item_id")?, get_str("construct")?);
        let (min, max, fav) = (
            get_i32("scale_min")?,
            get_i32("scale_max")?,
            get_i32("favorable_min")?,
        );
        let reversed: Vec<bool> = items
            .column("reversed")?
            .bool()?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect();
        let n = item_ids.len();
        let (mut code, mut lo, mut hi) = (vec![None; n], vec![None; n], vec![None; n]);
        for i in 0..items.height() {
            let (Some(item), Some(k)) = (
                item_ids.iter().position(|v| *v == id[i]),
                packing.code("construct", &construct[i]),
            ) else {
                continue;
            };
            code[item] = Some(k);
            if reversed[i] {
                lo[item] = Some(i32::MIN);
                hi[item] = Some(max[i] + min[i] - fav[i]);
            } else {
                lo[item] = Some(fav[i]);
                hi[item] = Some(i32::MAX);
            }
        }
        Ok(ItemAttributes {
            construct: Series::new("construct_code".into(), code),
            lo: Series::new("lo".into(), lo),
            hi: Series::new("hi".into(), hi),
        })
    }

    /// An attribute of each row's item (`item_id`, its code).
    fn of_item(series: &Series) -> Expr {
        lit(series.clone()).gather(col("item_id"), true)
    }
}

/// `survey` is coded (see `validate::survey_codes`): the cell's fields are packed from the
/// codes, with no text compared or hashed. Each part of the responses (see `validate::parts`)
/// is summed on its own per cell and pattern, and for the district per respondent first;
/// every respondent is in one part, so the parts' sums add up.
pub fn table(
    plan: &Plan,
    items: &DataFrame,
    survey: &Survey,
    members: &DataFrame,
    years: &Years,
) -> PolarsResult<(DataFrame, Vec<(suppression::Rule, usize)>)> {
    let codes = &survey.codes;
    // School codes are positions among the accepted schools' ids, in id order, as packed.
    let packing = Packing::new(vec![
        ("school_id", codes.schools.clone()),
        ("school_year", years.values()),
        (
            "window",
            plan.windows.iter().map(|w| w.id.clone()).collect(),
        ),
        (
            "respondent_type",
            RESPONDENT_TYPES.map(String::from).to_vec(),
        ),
        (
            "construct",
            plan.constructs.iter().map(|c| c.id.clone()).collect(),
        ),
    ])?;
    let item_table = ItemAttributes::of(items, &codes.items, &packing)?;
    // Each part's sums are added to the running sums as it comes: every respondent is in one
    // part, so the sums per (cell, pattern) simply add up, and what is held stays the size of
    // one part's sums however many parts a state's survey has.
    let (mut school_sums, mut district_sums) = (None, None);
    for part in survey.parts.frames() {
        let (school, district) = part_sums(&part?, &packing, &item_table, members, years)?;
        school_sums = Some(add_sums(school_sums, school, "cell")?);
        district_sums = Some(add_sums(district_sums, district, "dcell")?);
    }
    let (school_sums, district_sums) = match (school_sums, district_sums) {
        (Some(s), Some(d)) => (s, d),
        _ => polars_bail!(ComputeError: "survey responses in no part"),
    };
    let numbered = groups::Numbered::of_sums(school_sums, &district_sums, &packing)?;
    let sums = [
        ("n_respondents", col("n_respondents").sum()),
        ("n_responses", col("n_responses").sum()),
        ("n_favorable", col("n_favorable").sum()),
    ];
    let order: Vec<Expr> = KEYS
        .iter()
        .chain(&["group", "n_respondents", "n_responses", "n_favorable"])
        .map(|c| col(*c))
        .collect();
    let schools = per_group_sums(plan, &numbered.rows, "cell", &sums)?;
    let district = per_group_sums(plan, &district_sums, "dcell", &sums)?;
    let mut df = with_keys(&numbered, schools, district, &order)?
        .with_column(
            (ratio(col("n_favorable"), col("n_responses")) * lit(100.0)).alias("pct_favorable"),
        )
        .collect()?;
    // Within a cell respondents add up; across schools responses do, since the district
    // counts a respondent once.
    let layout = suppression::Layout::of(&df, &KEYS[1..], "n_respondents", "n_responses")?;
    let outcome = suppression::suppress(plan, &layout, DISTRICT);
    df.with_column(outcome.column())?;
    let lf = suppression::hide(df.lazy(), &COLUMNS[6..9]);
    Ok((
        sorted("survey", lf.select(COLUMNS.map(col)))?,
        outcome.counts(),
    ))
}

/// `sums` (per `id` and `pattern`: respondents, responses, favorable ones) added to `total`.
fn add_sums(total: Option<DataFrame>, sums: DataFrame, id: &str) -> PolarsResult<DataFrame> {
    let Some(total) = total else {
        return Ok(sums);
    };
    concat([total.lazy(), sums.lazy()], UnionArgs::default())?
        .group_by([col(id), col("pattern")])
        .agg([
            col("n_respondents").sum(),
            col("n_responses").sum(),
            col("n_favorable").sum(),
        ])
        .collect()
}

/// One part's respondents summed per (`cell`, `pattern`) and, counting a respondent once
/// across schools, per (`dcell`, `pattern`): `n_respondents`, `n_responses`, `n_favorable`.
fn part_sums(
    responses: &DataFrame,
    packing: &Packing,
    item_table: &ItemAttributes,
    members: &DataFrame,
    years: &Years,
) -> PolarsResult<(DataFrame, DataFrame)> {
    let int_map = |column: &str, from: Vec<i64>| -> Expr {
        let to: Vec<u64> = (0..from.len() as u64).collect();
        keys::map_int(column, from, Series::new("to".into(), to))
    };
    let cell_codes = [
        ("school_id", col("school_id").cast(DataType::UInt64)),
        (
            "school_year",
            int_map(
                "school_year",
                years.start.iter().map(|&y| i64::from(y)).collect(),
            ),
        ),
        ("window", col("window").cast(DataType::UInt64)),
        (
            "respondent_type",
            col("respondent_type").cast(DataType::UInt64),
        ),
        ("construct", lit(0u64)),
    ];
    // A respondent's code is their number: a student's is their student number, the others'
    // follow every student id (see `validate::survey_codes`).
    let numbered = responses
        .column("respondent_id")?
        .u32()?
        .max()
        .map_or(0, |c| u64::from(c) + 1);
    if numbered >= 1u64 << (63 - packing.bits) {
        polars_bail!(ComputeError: "too many respondents to pack with their survey cells");
    }
    // Respondent number above the cell's bits: one integer per (respondent, cell).
    let above = || lit(1u64 << packing.bits);
    let student = packing
        .code("respondent_type", "student")
        .expect("student is a respondent type");
    // One row per respondent and construct, with their response counts and groups.
    let respondents = responses
        .clone()
        .lazy()
        .select([
            col("respondent_id"),
            packing.cell_with(&cell_codes).alias("partial"),
            col("response"),
            ItemAttributes::of_item(&item_table.construct).alias("construct_code"),
            ItemAttributes::of_item(&item_table.lo).alias("lo"),
            ItemAttributes::of_item(&item_table.hi).alias("hi"),
        ])
        // Items of no reported construct are left out.
        .filter(col("construct_code").is_not_null())
        .with_column(col("respondent_id").cast(DataType::UInt64).alias("ridx"))
        .select([
            (col("ridx") * above()
                + col("partial")
                + col("construct_code") * lit(1u64 << packing.shift("construct")))
            .alias("key"),
            col("response")
                .gt_eq(col("lo"))
                .and(col("response").lt_eq(col("hi")))
                .cast(DataType::Int64)
                .alias("favorable"),
        ])
        .group_by([col("key")])
        .agg([
            len().cast(DataType::Int64).alias("n_responses"),
            col("favorable").sum().alias("n_favorable"),
        ]);
    let respondents = stream(respondents)?
        .lazy()
        .with_columns([
            (col("key") % above()).alias("cell"),
            (col("key") / above()).alias("ridx"),
        ])
        .with_column(
            when(
                packing
                    .field(col("cell"), "respondent_type")
                    .eq(lit(student)),
            )
            .then(col("ridx") * lit(1u64 << 8) + packing.field(col("cell"), "school_year"))
            .otherwise(lit(NULL).cast(DataType::UInt64))
            .alias("mkey"),
        );
    let rows = with_pattern(respondents, members)
        .select([
            col("cell"),
            col("ridx"),
            col("pattern"),
            col("n_responses"),
            col("n_favorable"),
        ])
        .with_column(packing.district(col("cell")).alias("dcell"))
        .collect()?;
    // A respondent who answered at two schools is one respondent in the district; their
    // groups come from their students row for the year, the same at every school.
    let district = rows
        .clone()
        .lazy()
        .group_by([(col("ridx") * above() + col("dcell")).alias("dkey")])
        .agg([
            col("n_responses").sum(),
            col("n_favorable").sum(),
            col("pattern").first(),
        ])
        .with_column((col("dkey") % above()).alias("dcell"));
    let by_pattern = |lf: LazyFrame, id: &str| {
        lf.group_by([col(id), col("pattern")])
            .agg([
                len().cast(DataType::Int64).alias("n_respondents"),
                col("n_responses").sum(),
                col("n_favorable").sum(),
            ])
            .collect()
    };
    Ok((
        by_pattern(rows.lazy(), "cell")?,
        by_pattern(district, "dcell")?,
    ))
}
