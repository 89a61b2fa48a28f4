//! The `tessera` binary: a thin shell over the library's CLI.
use std::process::ExitCode;

fn main() -> ExitCode {
    tessera::memory::return_large_blocks_to_the_system();
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    tessera::cli::main().await
}
