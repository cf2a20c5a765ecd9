//! Progress on stderr for the stages that take a while at state scale: the bytes of each
//! extract read, the rows of each table checked, the metric tables computed. Drawn only when
//! stderr is a terminal and `--quiet` is not given, and cleared when a stage ends, so logs and
//! pipes see only the run's summary lines. A bar shows counts and names, never a value.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Where a run's progress is drawn, if anywhere.
#[derive(Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Drawn on stderr when it is a terminal, unless `quiet`.
    pub fn new(quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        Progress {
            bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Never drawn (library callers, tests, benchmarks).
    pub fn hidden() -> Progress {
        Progress { bars: None }
    }

    /// A bar that fills as `total` bytes are read.
    pub fn bytes(&self, what: String, total: u64) -> Bar {
        self.add(|| {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "  {msg:<40} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            )
        }, what)
    }

    /// A spinner with the time spent, for work whose amount is not known ahead.
    pub fn spinner(&self, what: String) -> Bar {
        self.add(
            || {
                let bar = ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                        .expect("a valid template"),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            },
            what,
        )
    }

    fn add(&self, make: impl FnOnce() -> ProgressBar, what: String) -> Bar {
        Bar(self.bars.as_ref().map(|bars| {
            let bar = bars.add(make());
            bar.set_message(what);
            bar
        }))
    }
}

/// One bar or spinner; does nothing when progress is hidden.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    pub fn message(&self, what: String) {
        if let Some(b) = &self.0 {
            b.set_message(what);
        }
    }
}

impl Drop for Bar {
    /// A finished stage leaves no bar behind.
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
