//! `pghistory-diesel`: writes the migrations that install history tracking.
//!
//! ```text
//! pghistory-diesel setup      [--migrations-dir DIR]
//! pghistory-diesel generate   [--schema FILE] [--migrations-dir DIR] [--check] [--version V]
//! ```
//!
//! Both read `diesel.toml` in the current directory for `[migrations_directory] dir`
//! (default `migrations`). All SQL comes from `pghistory-diesel-codegen`; this binary only
//! reads schema.rs and writes folders.

mod args;
mod commands;
mod error;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args::parse(&args).and_then(|cmd| commands::run(&cmd)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
