//! Privacy suppression, applied after computing: a row whose size is below the plan's
//! `min_n_display` keeps its key columns, and its values and counts become null, so the
//! table says only "fewer than min_n_display".

use polars::prelude::*;

/// Set `suppressed` from `small`, then null `columns` on suppressed rows.
pub fn apply(lf: LazyFrame, small: Expr, columns: &[&str]) -> LazyFrame {
    lf.with_column(small.fill_null(lit(false)).alias("suppressed"))
        .with_columns(
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

/// `n < min_n_display`, as an expression over an integer count column.
pub fn below(n: &str, min_n: u32) -> Expr {
    col(n).lt(lit(i64::from(min_n)))
}
