//! What waits: one execution of the demo's SQS state machine is left without
//! a worker, and the built `sfn-callback pending` lists what waits on the
//! demo's moto, as an operator would see it.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::HistoryEventType;
use serde_json::json;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::pending_pattern::sfn_callback;
use sfn_callback_tests::{Result, statemachine};

/// The demo's SQS callback state machine (`sqs.rs`).
const STATE_MACHINE: &str = "demo-sqs-callback";

pub async fn run(peer: &LocalAws) -> Result<()> {
    let sfn = peer.clients().await.sfn;
    let listed = sfn.list_state_machines().send().await?;
    let machine = listed
        .state_machines()
        .iter()
        .find(|machine| machine.name() == STATE_MACHINE)
        .ok_or("the demo's SQS state machine is gone")?
        .state_machine_arn()
        .to_owned();
    println!("Starting one execution that no worker answers ...");
    let execution =
        statemachine::start(&sfn, &machine, "left-waiting", &json!({"order": 7})).await?;
    wait_scheduled(&sfn, &execution).await?;

    println!("$ sfn-callback pending");
    let output = sfn_callback(&["pending"], peer.function_env())?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!("sfn-callback pending exited with {}", output.status).into());
    }
    println!(
        "(left-waiting waits on purpose: `sfn-callback succeed --token-file ...` would complete it; \
         `--fail-if-any` makes the command exit 1 for an alarm.)"
    );
    Ok(())
}

async fn wait_scheduled(sfn: &aws_sdk_sfn::Client, execution: &str) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let history = statemachine::history(sfn, execution).await?;
        if history
            .iter()
            .any(|event| event.r#type() == &HistoryEventType::TaskScheduled)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{execution} scheduled no task").into())
}
