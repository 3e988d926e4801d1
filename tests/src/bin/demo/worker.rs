//! The worker API: `sqs-worker` gets the state machine's own task message,
//! computes a checksum, heartbeats while it works, and completes the token.

use std::sync::Arc;

use serde_json::json;
use sfn_callback_tests::Result;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::worker_pattern::WorkerWorld;

pub async fn run(peer: &Arc<LocalAws>) -> Result<()> {
    println!("Creating the worker queue and a state machine whose task has HeartbeatSeconds 2 ...");
    let world = WorkerWorld::start_on(peer, "demo-worker", 2).await?;
    let mut worker = world
        .start_worker(&[
            ("HEARTBEAT_INTERVAL_SECONDS", "1"),
            // Heartbeats are logged at debug level.
            ("RUST_LOG", "info,sfn_callback=debug"),
        ])
        .await?;

    let cases = [
        (
            "checksum",
            json!({"data": {"invoice": 42, "lines": ["a", "b"]}}),
        ),
        ("slow-4s", json!({"data": "slow work", "workSeconds": 4})),
        ("no-data", json!({"nothing": "to checksum"})),
    ];
    let mut executions = Vec::new();
    for (name, input) in &cases {
        println!("Execution {name}: input {input} ...");
        let (failed, described) = world.run(&mut worker, name, input).await?;
        println!(
            "  sqs-worker done; partial batch response: {} failed",
            failed.len()
        );
        executions.push((*name, described.execution_arn().to_owned()));
    }
    let heartbeats = worker.log_text().matches("heartbeat sent").count();
    crate::print_executions(&world.sfn, &executions).await;
    println!(
        "(slow-4s outlived HeartbeatSeconds 2: the worker sent {heartbeats} heartbeats, one a second, while it worked.)"
    );
    Ok(())
}
