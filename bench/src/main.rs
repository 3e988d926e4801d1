//! `make bench`: how lean the functions are, against the floor and against the
//! usual alternative, in one table.
//!
//! 1. Cold start of each release binary, exec to first `GET /invocation/next`,
//!    against a minimal `lambda_runtime` hello (`bench/hello`) and a Python 3
//!    boto3 handler doing the same job (`bench/baseline`); and on from exec to
//!    the answer of a first one-record batch, for `sqs-callback` against hello.
//! 2. Batch latency: 10 records against a peer answering after 50 ms, as a ratio
//!    to 1 record, for `sqs-callback` and the Python baseline.
//! 3. Peak RSS of `sqs-callback` handling 10 records of 256 KiB outputs.
//! 4. Throughput of one `sqs-callback` instance against moto, as a share of
//!    moto's own SendTaskSuccess rate measured in the same run.
//! 5. Size of each stripped release bootstrap, `x86_64` and arm64.
//! 6. The approval page of recorded mode: GET (the confirmation page) and POST
//!    (the vote that completes the task) latency, median and p99, against moto.
//!
//! Every figure is a median of repeated runs; every comparison is a ratio taken
//! in the same run, because the machine is shared and noisy. The table goes to
//! stdout and to `bench/results/<date>.md` with the machine's description.
//!
//! `make bench` builds the release binaries and the arm64 bootstraps first and
//! runs this from `target/release`. Settings: `BENCH_ONLY=cold,latency,rss,throughput,size,approval`
//! (a subset), `BENCH_QUICK=1` (fewer runs, for trying the bench itself),
//! `SFN_BENCH_BIN_DIR`, `SFN_BENCH_ARM64_DIR` (where the binaries are).

mod approval;
mod coldstart;
mod endpoint;
mod latency;
mod machine;
mod report;
mod size;
mod stats;
mod subjects;
mod throughput;

use std::process::ExitCode;
use std::time::Instant;

use sfn_callback_tests::Result;

use crate::subjects::{FUNCTIONS, HELLO, Subject};

/// How many times each figure is measured.
#[derive(Debug, Clone, Copy)]
struct Runs {
    cold_rounds: usize,
    cold_python_rounds: usize,
    first_rounds: usize,
    latency: usize,
    latency_python: usize,
    rss: usize,
    rss_python: usize,
    throughput_rounds: usize,
    throughput_pairs: usize,
    approval_rounds: usize,
}

impl Runs {
    const FULL: Self = Self {
        cold_rounds: 41,
        cold_python_rounds: 9,
        first_rounds: 41,
        latency: 21,
        latency_python: 7,
        rss: 7,
        rss_python: 3,
        throughput_rounds: 5,
        throughput_pairs: 10,
        approval_rounds: 101,
    };
    const QUICK: Self = Self {
        cold_rounds: 5,
        cold_python_rounds: 3,
        first_rounds: 5,
        latency: 5,
        latency_python: 3,
        rss: 3,
        rss_python: 1,
        throughput_rounds: 1,
        throughput_pairs: 5,
        approval_rounds: 11,
    };
}

fn wanted(part: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| {
        only.split(',').any(|p| p.trim().eq_ignore_ascii_case(part))
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let runs = if quick { Runs::QUICK } else { Runs::FULL };
    let began = Instant::now();
    let mut results = report::Results::default();

    if wanted("cold") {
        step("cold start: exec to first /invocation/next, every binary, hello and Python");
        results.cold = Some(coldstart::measure(runs.cold_rounds, runs.cold_python_rounds).await?);
        step("first invocation: exec to the answer of a first one-record batch");
        results.first = Some(
            coldstart::measure_first_invocation(runs.first_rounds, runs.cold_python_rounds).await?,
        );
    }
    if wanted("latency") {
        step("batch latency: 10 records vs 1 against a 50 ms SendTaskSuccess");
        let ours = latency::measure(Subject::Binary("sqs-callback"), runs.latency).await?;
        let python = latency::measure(Subject::Python, runs.latency_python).await?;
        results.latency = Some((ours, python));
    }
    if wanted("rss") {
        step("peak RSS: one batch of 10 records with 256 KiB outputs");
        let ours = latency::peak_rss_of(Subject::Binary("sqs-callback"), runs.rss).await?;
        let python = latency::peak_rss_of(Subject::Python, runs.rss_python).await?;
        results.rss = Some((ours, python));
    }
    if wanted("throughput") {
        step("throughput: sqs-callback through the Runtime API vs direct SDK calls, against moto");
        results.throughput =
            Some(throughput::measure(runs.throughput_rounds, runs.throughput_pairs).await?);
    }
    if wanted("approval") {
        step("approval page: recorded mode's GET and POST through approval-http, against moto");
        results.approval = Some(approval::measure(runs.approval_rounds).await?);
    }
    if wanted("size") {
        step("binary size: release bootstraps, x86_64 and arm64");
        let mut names: Vec<&'static str> = FUNCTIONS.to_vec();
        names.push(HELLO);
        results.sizes = Some(size::measure(&names)?);
    }
    results.elapsed = began.elapsed();
    results.quick = quick;

    let table = results.table();
    println!("\n{table}");
    let path = results.write(&table)?;
    println!(
        "\nwritten to {}; bench took {:.0} s",
        path.display(),
        results.elapsed.as_secs_f64()
    );
    Ok(())
}

fn step(what: &str) {
    eprintln!("bench: {what}");
}
