//! The one integration-test binary. Files mirror the stages.

mod util;

mod detection;
mod exactness;
mod hostile;
mod ingest_formats;
mod metrics;
mod pipeline_definition;
mod privacy;
mod publishing;
mod quarantine_reasons;
mod real_layouts;
mod render;
mod reruns;
mod sample_district;
mod shipped_pipelines;
