use clap::Parser;
use std::process::ExitCode;

/// mimalloc: rendering allocates and frees heavily, and glibc's malloc hands pages back to the
/// kernel only to fault them in zeroed again (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = equity_gap::cli::Cli::parse();
    match equity_gap::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", equity_gap::render_failure(&failure));
            ExitCode::from(failure.code)
        }
    }
}
