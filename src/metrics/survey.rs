//! Survey favorability per (school, year, window, respondent type, construct, group): a
//! response is favorable at or above the item's favorable minimum, or for a reversed item at
//! or below (max + min − favorable_min); pct_favorable pools the construct's items. Student
//! respondents take their groups from the students table; staff and parents are `all` only.
//! The district roll-up counts a respondent once.

use super::keys::{self, Packing};
use super::{
    Years, fill_members, member_col, number, per_group, predicate_groups, ratio, sorted,
    suppression, with_keys,
};
use crate::pipeline::Plan;
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

pub fn table(
    plan: &Plan,
    items: &DataFrame,
    responses: &DataFrame,
    members: &LazyFrame,
    ids: &DataFrame,
    years: &Years,
) -> PolarsResult<DataFrame> {
    let items = items.clone().lazy().select([
        col("item_id"),
        col("construct"),
        col("scale_min"),
        col("scale_max"),
        col("favorable_min"),
        col("reversed").fill_null(lit(false)),
    ]);
    let favorable = when(col("reversed"))
        .then(col("response").lt_eq(col("scale_max") + col("scale_min") - col("favorable_min")))
        .otherwise(col("response").gt_eq(col("favorable_min")));
    let packing = Packing::new(vec![
        ("school_id", keys::distinct(responses, "school_id")?),
        ("school_year", years.values()),
        (
            "window",
            plan.windows.iter().map(|w| w.id.clone()).collect(),
        ),
        (
            "respondent_type",
            ["parent", "staff", "student"].map(String::from).to_vec(),
        ),
        (
            "construct",
            plan.constructs.iter().map(|c| c.id.clone()).collect(),
        ),
    ])?;
    if (ids.height() as u64) >= 1u64 << (63 - packing.bits) {
        polars_bail!(ComputeError: "too many respondents to pack with their survey cells");
    }
    // Respondent number above the cell's bits: one integer per (respondent, cell).
    let above = || lit(1u64 << packing.bits);
    let student = packing
        .code("respondent_type", "student")
        .expect("student is a respondent type");
    // One row per respondent and construct, with their response counts and groups.
    let respondents = keys::attach(
        responses.clone().lazy().join(
            items,
            [col("item_id")],
            [col("item_id")],
            JoinArgs::new(JoinType::Inner),
        ),
        ids,
        "respondent_id",
        "ridx",
    )
    .select([
        (col("ridx") * above() + packing.cell()).alias("key"),
        favorable.cast(DataType::Int64).alias("favorable"),
    ])
    .group_by([col("key")])
    .agg([
        len().cast(DataType::Int64).alias("n_responses"),
        col("favorable").sum().alias("n_favorable"),
    ])
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
    )
    .join(
        members.clone(),
        [col("mkey")],
        [col("mkey")],
        JoinArgs::new(JoinType::Left),
    )
    .with_columns(fill_members(plan))
    .drop(by_name(["key", "mkey"], true, false));
    let numbered = number(respondents, &packing)?;

    // A respondent who answered at two schools is one respondent in the district.
    let flags: Vec<String> = predicate_groups(plan).map(|g| member_col(&g.id)).collect();
    let mut district_aggs = vec![col("n_responses").sum(), col("n_favorable").sum()];
    district_aggs.extend(flags.iter().map(|f| col(f.as_str()).any(true)));
    let district = numbered
        .rows
        .clone()
        .lazy()
        .group_by([(col("ridx") * above() + col("dcell")).alias("dkey")])
        .agg(district_aggs)
        .with_column((col("dkey") % above()).alias("dcell"))
        .collect()?;
    let aggs = || {
        vec![
            len().cast(DataType::Int64).alias("n_respondents"),
            col("n_responses").sum().alias("n_responses"),
            col("n_favorable").sum().alias("n_favorable"),
        ]
    };
    let order: Vec<Expr> = KEYS
        .iter()
        .chain(&["group", "n_respondents", "n_responses", "n_favorable"])
        .map(|c| col(*c))
        .collect();
    let schools = per_group(plan, &numbered.rows, "cell", &aggs)?;
    let district = per_group(plan, &district, "dcell", &aggs)?;
    let lf = with_keys(&numbered, schools, district, &order)?.with_column(
        (ratio(col("n_favorable"), col("n_responses")) * lit(100.0)).alias("pct_favorable"),
    );
    let lf = suppression::apply(
        lf,
        suppression::below("n_respondents", plan.privacy.min_n_display),
        &COLUMNS[6..9],
    );
    sorted("survey", lf.select(COLUMNS.map(col)))
}
