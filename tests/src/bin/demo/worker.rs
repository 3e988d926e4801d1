//! The worker API: `sqs-worker` gets the state machine's own task message,
//! computes a checksum, heartbeats while it works, and completes the token.

use serde_json::json;
use sfn_callback_tests::event_source::{create_queue_pair, deliver};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::{Result, statemachine};

pub async fn run(peer: &LocalAws) -> Result<()> {
    let Clients { sfn, sqs, .. } = peer.clients().await;

    println!("Creating the worker queue and a state machine whose task has HeartbeatSeconds 2 ...");
    let queue = create_queue_pair(&sqs, "demo-worker", 60, 3).await?;
    let definition = statemachine::definition(
        "worker-heartbeat",
        &[("WorkerQueueUrl", &queue.url), ("HeartbeatSeconds", "2")],
    )?;
    let state_machine = statemachine::create(&sfn, "demo-worker", &definition).await?;
    let mut env = peer.function_env();
    env.push(("HEARTBEAT_INTERVAL_SECONDS".to_owned(), "1".to_owned()));
    // Heartbeats are logged at debug level.
    env.push(("RUST_LOG".to_owned(), "info,sfn_callback=debug".to_owned()));
    let mut worker = Lambda::start("sqs-worker", &env).await?;

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
        let execution = statemachine::start(&sfn, &state_machine, name, input).await?;
        let failed = deliver(&sqs, &queue.url, &queue.arn, 1, &mut worker).await?;
        println!(
            "  sqs-worker done; partial batch response: {} failed",
            failed.len()
        );
        executions.push((*name, execution));
    }
    let heartbeats = worker.log_text().matches("heartbeat sent").count();
    crate::print_executions(&sfn, &executions).await;
    println!(
        "(slow-4s outlived HeartbeatSeconds 2: the worker sent {heartbeats} heartbeats, one a second, while it worked.)"
    );
    Ok(())
}
