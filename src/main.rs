//! The `tessera` binary: a thin shell over the library's CLI.
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tessera::cli::main().await
}
