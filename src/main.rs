use clap::Parser;
use std::process::ExitCode;

/// mimalloc: rendering allocates and frees heavily, and glibc's malloc hands pages back to the
/// kernel only to fault them in zeroed again (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_huge_pages();
    let cli = equity_gap::cli::Cli::parse();
    match equity_gap::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", equity_gap::render_failure(&failure));
            ExitCode::from(failure.code)
        }
    }
}

/// Transparent huge pages off for this process. mimalloc asks the kernel for huge pages on
/// its segments, and Typst's layout allocates and frees in bursts: each burst that touched a
/// fresh segment had the kernel zero a whole 2 MiB page, a fifth of the CPU samples of the
/// threads typesetting the packets. With 4 KiB pages the kernel's time in a full render of the
/// sample district fell from 10–12 s to 8.5–9.5 s (see Cargo.toml's note on the allocator).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's
    // memory policy for pages faulted from now on; failure leaves the default, which is fine.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
