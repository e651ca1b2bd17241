//! `pghistory-diesel`: writes the migrations that install history tracking.
//!
//! ```text
//! pghistory-diesel setup       [--migrations-dir DIR]
//! pghistory-diesel generate    [--schema FILE] [--migrations-dir DIR] [--check] [--version V]
//! pghistory-diesel check       [--schema FILE] [--database-url URL] [--orphan-events]
//! pghistory-diesel log         [TABLE [KEY]] [--since T] [--until T] [--label L] [--context ID]
//!                              [--where K=V] [--limit N] [--newest-first|--oldest-first] [--json]
//! pghistory-diesel completions bash|zsh|fish|elvish|powershell
//! ```
//!
//! It finds its project as diesel_cli does: `.env` is read first, the configuration is
//! `--config-file`, else `DIESEL_CONFIG_FILE`, else `diesel.toml` in the project root (the
//! nearest directory upwards holding `diesel.toml`, else `Cargo.toml`). All SQL comes from
//! `pghistory-diesel-codegen`; this binary reads schema.rs and writes folders, and `check`
//! compares a database with schema.rs through `pghistory_diesel::check`.

mod cli;
mod commands;
mod config;
mod error;
mod log;
mod write;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before parsing, so that variables from `.env` serve as defaults of the flags.
    if let Err(err) = load_dotenv() {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    // clap prints usage errors itself and exits with 2, help and --version with 0.
    let cli = cli::Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Reads `.env` from the current directory or above, as diesel_cli does: a missing file
/// is fine, one that cannot be read or parsed is an error; set variables win over it.
fn load_dotenv() -> Result<(), error::Error> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(error::Error::DotEnv(e)),
    }
}
