//! `run-bootstraps [--wrapper "PROGRAM ARGS"] FUNCTION=BOOTSTRAP ...`: runs each
//! bootstrap against the Lambda Runtime API emulator and moto, as the function
//! named by its binary name (`sqs-callback`, ...). Each must reach its first
//! `/invocation/next`; `sqs-callback` must also complete one real callback.
//! With `--wrapper`, each bootstrap runs under that program: `make build-sam`
//! gives `qemu-aarch64 -L /usr/aarch64-linux-gnu` for its arm64 bootstraps.
//! Exits 1, naming each bootstrap that failed, if any did.

use std::path::PathBuf;

use sfn_callback_tests::Result;
use sfn_callback_tests::bootstraps::{Bootstrap, Function, prove_all};

const USAGE: &str = "usage: run-bootstraps [--wrapper \"PROGRAM ARGS\"] FUNCTION=BOOTSTRAP ...";

#[tokio::main]
async fn main() {
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(err) => {
            eprintln!("run-bootstraps: {err}");
            std::process::exit(1);
        }
    }
}

/// Whether every bootstrap proved itself.
async fn run() -> Result<bool> {
    let (wrapper, bootstraps) = parse(std::env::args().skip(1))?;
    let results = prove_all(&bootstraps, &wrapper).await?;
    let mut failed = 0;
    for result in &results {
        match result {
            Ok(proof) => println!("run-bootstraps: {proof}"),
            Err(err) => {
                failed += 1;
                eprintln!("run-bootstraps: FAILED {err}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "run-bootstraps: {failed} of {} bootstraps failed to run",
            results.len()
        );
    }
    Ok(failed == 0)
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(Vec<String>, Vec<Bootstrap>)> {
    let mut wrapper = Vec::new();
    let mut bootstraps = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--wrapper" {
            let command = args.next().ok_or(USAGE)?;
            wrapper = command.split_whitespace().map(str::to_owned).collect();
            continue;
        }
        let (name, path) = arg
            .split_once('=')
            .ok_or_else(|| format!("{arg:?} is not FUNCTION=BOOTSTRAP; {USAGE}"))?;
        let function = Function::from_binary(name).ok_or_else(|| {
            let known: Vec<&str> = Function::ALL.iter().map(|f| f.binary()).collect();
            format!("unknown function {name:?}; known: {}", known.join(", "))
        })?;
        bootstraps.push(Bootstrap {
            function,
            path: PathBuf::from(path),
        });
    }
    if bootstraps.is_empty() {
        return Err(USAGE.into());
    }
    Ok((wrapper, bootstraps))
}
