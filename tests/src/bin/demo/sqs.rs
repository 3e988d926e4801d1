//! Queue-driven callbacks: the worker drops callback messages on SQS and
//! `sqs-callback` completes them; a duplicate and garbage show the DLQ path.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sfn_callback::TaskToken;
use sfn_callback_tests::Result;
use sfn_callback_tests::event_source::{self, PollReport};
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::SqsCallbackWorld;

pub async fn run(peer: &Arc<LocalAws>) -> Result<()> {
    println!(
        "Creating the work queue, the callback queue with its DLQ (maxReceiveCount 2), and the state machine ..."
    );
    let world = SqsCallbackWorld::builder("demo-sqs-callback")
        .start_on(peer)
        .await?;

    println!("Starting sqs-callback behind a local Lambda Runtime API ...");
    let mut lambda = world.start_function().await?;

    println!("Starting executions and playing the worker ...");
    // Each execution's worker answers with one callback message.
    let answers: [(&str, WorkerAnswer); 4] = [
        (
            "success",
            |token| json!({"taskToken": token, "status": "SUCCEEDED", "output": {"shipped": true}}),
        ),
        (
            "failure",
            |token| json!({"taskToken": token, "status": "FAILED", "error": "OutOfStock", "cause": "item 2 is gone"}),
        ),
        (
            "heartbeat",
            |token| json!({"TaskToken": token, "status": "HEARTBEAT"}),
        ),
        ("duplicate", duplicate),
    ];
    let mut executions = Vec::new();
    let mut tokens = HashMap::new();
    for (order, (name, answer)) in (1..).zip(answers) {
        let (execution, token) = world
            .start_execution(name, &json!({"order": order}))
            .await?;
        world.send_callback(&answer(&token)).await?;
        executions.push((name, execution));
        tokens.insert(name, token);
    }
    world.send_raw("this is not a callback").await?;

    println!("Running the SQS event source loop (receive, invoke, delete what succeeded) ...");
    let mut totals = PollReport::default();
    totals += drain(&world, &mut lambda).await?;
    // The heartbeat kept its task waiting; now the worker finishes it.
    world
        .send_callback(
            &json!({"taskToken": tokens["heartbeat"], "output": {"order": 3, "after": "heartbeat"}}),
        )
        .await?;
    // The duplicate arrives after its execution has finished.
    world
        .send_callback(&duplicate(&tokens["duplicate"]))
        .await?;
    totals += drain(&world, &mut lambda).await?;

    crate::print_executions(&world.sfn, &executions).await;
    println!("(moto drops SendTaskFailure's cause; AWS keeps it.)");

    println!();
    println!("What sqs-callback logged for each record:");
    for line in lambda.log_text().lines().filter_map(record_outcome) {
        println!("  {line}");
    }

    println!();
    let dead = event_source::peek_bodies(&world.sqs, &world.callbacks.dlq_url).await?;
    println!("Messages in the dead-letter queue: {}", dead.len());
    for body in &dead {
        println!("  {}", describe_dead(body));
    }
    println!();
    println!(
        "Event source: {} received, {} deleted, {} handed back for redelivery.",
        totals.received, totals.deleted, totals.failed
    );
    println!(
        "Function log (JSON lines, tokens only as fingerprints): {}",
        lambda.log_path().display()
    );
    Ok(())
}

/// A worker's callback message for its task token.
type WorkerAnswer = fn(&str) -> Value;

/// The callback the demo sends twice: the second arrives after its execution finished.
fn duplicate(token: &str) -> Value {
    json!({"taskToken": token, "output": {"order": 4, "sent": "twice"}})
}

/// Polls until the callback queue stays empty, bounded in count.
async fn drain(world: &SqsCallbackWorld, lambda: &mut Lambda) -> Result<PollReport> {
    let mut totals = PollReport::default();
    let mut idle = 0;
    for _ in 0..40 {
        let report = event_source::poll_once(&world.sqs, &world.callbacks, lambda, 10).await?;
        if report.received == 0 {
            idle += 1;
            // Failed messages come back after the 1 s visibility timeout.
            if idle >= 3 {
                break;
            }
        } else {
            idle = 0;
        }
        totals += report;
    }
    Ok(totals)
}

/// One record's outcome from the function's JSON log line, if the line is one.
fn record_outcome(line: &str) -> Option<String> {
    let entry: Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    let message_id = fields.get("message_id")?.as_str()?;
    let field = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    Some(format!(
        "{:<8}  {:<15}  {:<14}  {}",
        message_id.get(..8).unwrap_or(message_id),
        field("token"),
        field("outcome"),
        fields.get("error").and_then(Value::as_str).unwrap_or(""),
    ))
}

/// Says what a dead-lettered body was, naming its token only by fingerprint.
fn describe_dead(body: &str) -> String {
    let token = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("taskToken")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .and_then(|t| TaskToken::new(t).ok());
    match token {
        Some(token) => format!(
            "callback for {token}: the duplicate. moto answers InvalidToken for a closed task, so it is \
             permanent here; AWS answers TaskTimedOut, which sfn-callback acknowledges as done \
             (shared/tests/client_replay.rs proves that path)"
        ),
        None => format!("{body:?}: not a callback message (invalid JSON), permanent"),
    }
}
