//! Survey favorability per (school, year, window, respondent type, construct, group): a
//! response is favorable at or above the item's favorable minimum, or for a reversed item at
//! or below (max + min − favorable_min); pct_favorable pools the construct's items. Student
//! respondents take their groups from the students table; staff and parents are `all` only.
//! The district roll-up counts a respondent once.

use super::{DISTRICT, fill_members, member_col, predicate_groups, ratio, sorted, suppression};
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
    let mut respondent_keys: Vec<Expr> = KEYS.map(col).to_vec();
    respondent_keys.push(col("respondent_id"));
    let student_members = members
        .clone()
        .with_column(lit("student").alias("respondent_type"));
    // One row per respondent and construct, with their response counts and groups.
    let respondents = responses
        .clone()
        .lazy()
        .join(
            items,
            [col("item_id")],
            [col("item_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by(respondent_keys)
        .agg([
            len().cast(DataType::Int64).alias("n_responses"),
            favorable.cast(DataType::Int64).sum().alias("n_favorable"),
        ])
        .join(
            student_members,
            [
                col("respondent_id"),
                col("school_year"),
                col("respondent_type"),
            ],
            [
                col("student_id"),
                col("school_year"),
                col("respondent_type"),
            ],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns(fill_members(plan))
        .collect()?;

    let flags: Vec<String> = predicate_groups(plan).map(|g| member_col(&g.id)).collect();
    let mut district_keys: Vec<Expr> = KEYS[1..].iter().map(|c| col(*c)).collect();
    district_keys.push(col("respondent_id"));
    let mut district_aggs = vec![col("n_responses").sum(), col("n_favorable").sum()];
    district_aggs.extend(flags.iter().map(|f| col(f.as_str()).any(true)));
    // A respondent who answered at two schools is one respondent in the district.
    let district = respondents
        .clone()
        .lazy()
        .group_by(district_keys)
        .agg(district_aggs)
        .with_column(lit(DISTRICT).alias("school_id"))
        .collect()?;

    let aggs = || {
        [
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
    let mut parts = Vec::new();
    for frame in [&respondents, &district] {
        for g in &plan.groups {
            let base = match g.column {
                None => frame.clone().lazy(),
                Some(_) => frame.clone().lazy().filter(col(member_col(&g.id))),
            };
            parts.push(
                base.group_by(KEYS.map(col))
                    .agg(aggs())
                    .with_column(lit(g.id.as_str()).alias("group"))
                    .select(order.clone()),
            );
        }
    }
    let lf = concat(
        parts,
        UnionArgs {
            parallel: true,
            ..Default::default()
        },
    )?
    .with_column(
        (ratio(col("n_favorable"), col("n_responses")) * lit(100.0)).alias("pct_favorable"),
    );
    let lf = suppression::apply(
        lf,
        suppression::below("n_respondents", plan.privacy.min_n_display),
        &COLUMNS[6..9],
    );
    sorted("survey", lf.select(COLUMNS.map(col)))
}
