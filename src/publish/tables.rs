//! The tables a run publishes: the accepted input tables (`tables/`), the metric tables
//! (`metrics/`) and the quarantine, all as Parquet (the quarantine also as CSV when asked),
//! limited to the chosen schools when a run is given `--schools`; codes held for speed are
//! written as the canonical text.

use super::Staging;
use crate::canonical::Table;
use crate::metrics::{self, Metrics};
use crate::pipeline::Plan;
use crate::validate::Validated;
use polars::prelude::*;

/// Write every table of the run into `staging`, only the schools `schools` when given.
pub fn write(
    staging: &mut Staging,
    plan: &Plan,
    schools: Option<Vec<String>>,
    validated: &Validated,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    // Student and school ids are held as numbers (see `validate::ids`), written as text.
    let dir = staging.dir().to_path_buf();
    let schools = &schools;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // The survey responses, the largest table, on a thread of their own beside the rest.
        let survey = validated.survey.as_ref().map(|survey| {
            let dir = &dir;
            scope.spawn(move || -> anyhow::Result<super::Written> {
                // Coded (see `validate::survey_codes`) and in parts: chosen schools by their
                // codes, then decoded to text and written a slice at a time, since as text the
                // whole table would be gigabytes.
                let respondents = &survey.codes.respondents();
                let rel = format!("tables/{}.parquet", Table::SurveyResponses.name());
                type Slices<'a> = Box<dyn Iterator<Item = PolarsResult<DataFrame>> + 'a>;
                let slices = survey.parts.frames().flat_map(|part| -> Slices<'_> {
                    let chosen = part.and_then(|df| match schools {
                        Some(chosen) => survey.codes.of_schools(&df, chosen),
                        None => Ok(df),
                    });
                    let df = match chosen {
                        Ok(df) => df,
                        Err(e) => return Box::new(std::iter::once(Err(e))),
                    };
                    let n = df.height();
                    // An empty part still gives one (empty) slice, so the table has its columns.
                    Box::new((0..n.max(1)).step_by(super::SLICE_ROWS).map(move |offset| {
                        let len = super::SLICE_ROWS.min(n - offset.min(n));
                        survey
                            .codes
                            .decode_with(&df.slice(offset as i64, len), respondents)
                    }))
                });
                super::parquet_frames(dir, &rel, slices)
            })
        });
        write_the_rest(staging, plan, schools, validated, metrics)?;
        if let Some(handle) = survey {
            let written = handle
                .join()
                .map_err(|_| anyhow::anyhow!("writing the survey responses panicked"))??;
            staging.adopt([written]);
        }
        Ok(())
    })
}

/// Every table but the survey responses.
fn write_the_rest(
    staging: &mut Staging,
    plan: &Plan,
    schools: &Option<Vec<String>>,
    validated: &Validated,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let ids = &validated.ids;
    for (table, df) in &validated.tables {
        let rel = format!("tables/{}.parquet", table.name());
        let df = match (&schools, table.column("school_id")) {
            (Some(chosen), Some(_)) => ids.of_schools(df, chosen)?,
            _ => df.clone(),
        };
        staging.parquet_with(&rel, &df, |slice| ids.decode(&slice))?;
    }
    for (name, df) in &metrics.tables {
        let df = match &schools {
            // `student_growth` holds numbers; the others text, and a district roll-up.
            Some(chosen) if *name == "student_growth" => ids.of_schools(df, chosen)?,
            Some(chosen) => metrics::only_schools(df, chosen)?,
            None => df.clone(),
        };
        staging.parquet_with(&format!("metrics/{name}.parquet"), &df, |slice| {
            ids.decode(&slice)
        })?;
    }
    let mut q = validated.quarantine.clone();
    staging.parquet("quarantine.parquet", &q)?;
    if plan.outputs.quarantine_csv {
        staging.csv("quarantine.csv", &mut q)?;
    }
    Ok(())
}
