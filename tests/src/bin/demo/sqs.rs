//! Queue-driven callbacks: the worker drops callback messages on SQS and
//! `sqs-callback` completes them; a duplicate and garbage show the DLQ path.

use std::time::Duration;

use serde_json::{Value, json};
use sfn_callback::TaskToken;
use sfn_callback_tests::event_source::{self, PollReport, QueuePair};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::SqsCallbackPattern;
use sfn_callback_tests::{Result, statemachine};

struct Demo {
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    work_queue: String,
    callbacks: QueuePair,
    state_machine: String,
}

pub async fn run(peer: &LocalAws) -> Result<()> {
    let Clients { sfn, sqs, .. } = peer.clients().await;

    println!(
        "Creating the work queue, the callback queue with its DLQ (maxReceiveCount 2), and the state machine ..."
    );
    let SqsCallbackPattern {
        work_queue,
        callbacks,
        state_machine,
    } = SqsCallbackPattern::create(&sfn, &sqs, "demo-sqs-callback", 1, 2).await?;
    let demo = Demo {
        sfn,
        sqs,
        work_queue,
        callbacks,
        state_machine,
    };

    println!("Starting sqs-callback behind a local Lambda Runtime API ...");
    let mut lambda = Lambda::start("sqs-callback", &peer.function_env()).await?;

    println!("Starting executions and playing the worker ...");
    let mut executions = Vec::new();
    let success = demo.start("success", &json!({"order": 1})).await?;
    demo.send(&json!({"taskToken": success.1, "status": "SUCCEEDED", "output": {"shipped": true}}))
        .await?;
    executions.push(("success", success.0));

    let failure = demo.start("failure", &json!({"order": 2})).await?;
    demo.send(&json!({"taskToken": failure.1, "status": "FAILED", "error": "OutOfStock", "cause": "item 2 is gone"}))
        .await?;
    executions.push(("failure", failure.0));

    let heartbeat = demo.start("heartbeat", &json!({"order": 3})).await?;
    demo.send(&json!({"TaskToken": heartbeat.1, "status": "HEARTBEAT"}))
        .await?;
    executions.push(("heartbeat", heartbeat.0.clone()));

    let duplicate = demo.start("duplicate", &json!({"order": 4})).await?;
    let duplicated = json!({"taskToken": duplicate.1, "output": {"order": 4, "sent": "twice"}});
    demo.send(&duplicated).await?;
    executions.push(("duplicate", duplicate.0));

    demo.send_text("this is not a callback").await?;

    println!("Running the SQS event source loop (receive, invoke, delete what succeeded) ...");
    let mut totals = PollReport::default();
    totals += demo.drain(&mut lambda).await?;
    // The heartbeat kept its task waiting; now the worker finishes it.
    demo.send(&json!({"taskToken": heartbeat.1, "output": {"order": 3, "after": "heartbeat"}}))
        .await?;
    // The duplicate arrives after its execution has finished.
    demo.send(&duplicated).await?;
    totals += demo.drain(&mut lambda).await?;

    crate::print_executions(&demo.sfn, &executions).await;
    println!("(moto drops SendTaskFailure's cause; AWS keeps it.)");

    println!();
    println!("What sqs-callback logged for each record:");
    for line in lambda.log_text().lines().filter_map(record_outcome) {
        println!("  {line}");
    }

    println!();
    let dead = event_source::peek_bodies(&demo.sqs, &demo.callbacks.dlq_url).await?;
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

impl Demo {
    async fn start(&self, name: &str, input: &Value) -> Result<(String, String)> {
        let execution = statemachine::start(&self.sfn, &self.state_machine, name, input).await?;
        let work =
            event_source::receive_exactly(&self.sqs, &self.work_queue, 1, Duration::from_secs(10))
                .await?;
        let body: Value = serde_json::from_str(work[0].body().unwrap_or_default())?;
        let token = body["TaskToken"]
            .as_str()
            .ok_or("work message has no TaskToken")?
            .to_owned();
        Ok((execution, token))
    }

    async fn send(&self, callback: &Value) -> Result<()> {
        self.send_text(&callback.to_string()).await
    }

    async fn send_text(&self, body: &str) -> Result<()> {
        self.sqs
            .send_message()
            .queue_url(&self.callbacks.url)
            .message_body(body)
            .send()
            .await?;
        Ok(())
    }

    /// Polls until the callback queue stays empty, bounded in count.
    async fn drain(&self, lambda: &mut Lambda) -> Result<PollReport> {
        let mut totals = PollReport::default();
        let mut idle = 0;
        for _ in 0..40 {
            let report = event_source::poll_once(&self.sqs, &self.callbacks, lambda, 10).await?;
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
