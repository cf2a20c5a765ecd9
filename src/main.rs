use clap::Parser;
use std::process::ExitCode;

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
