//! `make demo`: every callback path end to end against a local Step Functions
//! interpreter (moto), each function run the way Lambda runs it (through the
//! Lambda Runtime API, with an SQS event source loop where SQS triggers it).

mod activity;
mod approval;
mod pending;
mod sns;
mod sqs;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::{Result, statemachine};

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("demo failed: {err}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let started = Instant::now();
    println!("Starting the local AWS peer (moto) ...");
    let peer = Arc::new(LocalAws::start()?);
    println!("  moto on {}", peer.endpoint());

    heading("1. Queue-driven callbacks: worker -> SQS -> sqs-callback");
    sqs::run(&peer).await?;
    heading("2. SNS callbacks: sns:publish.waitForTaskToken, callbacks through SNS");
    sns::run(&peer).await?;
    heading("3. Worker API: sqs-worker does the work itself, with heartbeats");
    worker::run(&peer).await?;
    heading(
        "4. Human approval by email, recorded: a link per approver, a 2-of-2 quorum, the ledger",
    );
    approval::run().await?;
    heading("5. Activities: activity-worker polls GetActivityTask (needs localstack)");
    activity::run().await?;
    show_what_waits(&peer).await?;

    println!();
    println!(
        "Done in {:.1} s; stopping moto and the functions.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The demo's last step: `sfn-callback pending` on the demo's own moto.
async fn show_what_waits(peer: &LocalAws) -> Result<()> {
    heading("6. What waits on a callback: sfn-callback pending");
    pending::run(peer).await
}

fn heading(title: &str) {
    println!();
    println!("== {title}");
}

/// Prints each execution's final status and its output or error.
pub async fn print_executions(sfn: &aws_sdk_sfn::Client, executions: &[(&str, String)]) {
    println!();
    println!("{:<12}  {:<9}  output or error", "execution", "status");
    println!("{}", "-".repeat(74));
    for (name, arn) in executions {
        let (status, detail) =
            match statemachine::wait_finished(sfn, arn, Duration::from_secs(10)).await {
                Ok(d) => (
                    d.status().as_str().to_owned(),
                    d.output().map_or_else(
                        || format!("{}: {}", d.error().unwrap_or("-"), d.cause().unwrap_or("-")),
                        str::to_owned,
                    ),
                ),
                Err(err) => ("RUNNING".to_owned(), err.to_string()),
            };
        println!("{name:<12}  {status:<9}  {detail}");
    }
}
