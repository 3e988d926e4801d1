//! End to end: a real Step Functions interpreter (moto) waits on a
//! `.waitForTaskToken` task, the test plays the worker, and the built
//! `sqs-callback` binary completes the token through the Lambda Runtime API.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::event_source;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::SqsCallbackWorld;
use sfn_callback_tests::{Result, statemachine};

const FINISH_LIMIT: Duration = Duration::from_secs(20);

/// One isolated world per test: its own moto, queues, state machine and function.
async fn world() -> Result<(SqsCallbackWorld, Lambda)> {
    let world = SqsCallbackWorld::builder("sqs-callback").start().await?;
    let lambda = world.start_function().await?;
    Ok((world, lambda))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_callback_completes_execution_with_exact_output() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (execution, token) = world.start_execution("ok", &json!({"order": 42})).await?;
    let output = r#"{"approved":true,"items":[1,2,3],"note":"ünïcödé"}"#;
    let body = format!(r#"{{"taskToken":"{token}","status":"SUCCEEDED","output":{output}}}"#);
    world.send_raw(&body).await?;

    let failed = world.deliver_batch(&mut lambda, 1).await?.failed;

    assert!(failed.is_empty(), "nothing reported failed: {failed:?}");
    assert_eq!(
        statemachine::finished(&world.sfn, &execution, FINISH_LIMIT).await?,
        (
            ExecutionStatus::Succeeded,
            Some(serde_json::from_str::<Value>(output)?)
        )
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_callback_fails_execution_with_the_error_seen_by_catch() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (execution, token) = world.start_execution("fails", &json!({"order": 7})).await?;

    let failed = world
        .callback(&mut lambda, &json!({"taskToken": token, "status": "FAILED", "error": "WorkFailed", "cause": "disk full"}))
        .await?;

    assert!(failed.is_empty(), "nothing reported failed: {failed:?}");
    let described = statemachine::wait_finished(&world.sfn, &execution, FINISH_LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("WorkFailed"));
    let history = statemachine::history(&world.sfn, &execution).await?;
    assert_eq!(
        statemachine::entered_states(&history),
        ["WaitForWorker", "WorkerFailed"],
        "the Catch routed it"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_is_accepted_and_the_task_keeps_waiting_for_its_result() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (execution, token) = world.start_execution("beats", &json!({})).await?;

    let failed = world
        .callback(
            &mut lambda,
            &json!({"TaskToken": token, "status": "heartbeat"}),
        )
        .await?;

    assert!(failed.is_empty(), "heartbeat accepted: {failed:?}");
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    let failed = world
        .callback(
            &mut lambda,
            &json!({"taskToken": token, "status": "success", "output": {"done": 1}}),
        )
        .await?;
    assert!(failed.is_empty());
    assert_eq!(
        statemachine::finished(&world.sfn, &execution, FINISH_LIMIT).await?,
        (ExecutionStatus::Succeeded, Some(json!({"done": 1})))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_batch_reports_exactly_the_garbage_tokenless_and_wrong_token_records() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (good, good_token) = world.start_execution("good", &json!({"n": 1})).await?;
    let (failing, failing_token) = world.start_execution("failing", &json!({"n": 2})).await?;
    let bodies = [
        json!({"taskToken": good_token, "output": {"n": 1}}).to_string(),
        "this is not json".to_owned(),
        json!({"status": "SUCCEEDED", "output": {}}).to_string(),
        json!({"taskToken": "a-well-formed-but-unknown-token", "output": {}}).to_string(),
        json!({"taskToken": failing_token, "status": "FAILED", "error": "Nope"}).to_string(),
    ];
    for body in &bodies {
        world.send_raw(body).await?;
    }

    let delivered = world.deliver_batch(&mut lambda, bodies.len()).await?;

    let mut expected: Vec<String> = delivered
        .messages
        .iter()
        .filter(|m| {
            let body = m.body().unwrap_or_default();
            body == bodies[1] || body == bodies[2] || body == bodies[3]
        })
        .map(|m| m.message_id().unwrap_or_default().to_owned())
        .collect();
    expected.sort();
    assert_eq!(delivered.failed, expected);
    let good = statemachine::wait_finished(&world.sfn, &good, FINISH_LIMIT).await?;
    assert_eq!(good.status(), &ExecutionStatus::Succeeded);
    let failing = statemachine::wait_finished(&world.sfn, &failing, FINISH_LIMIT).await?;
    statemachine::assert_failed_with(&failing, "Nope");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_output_fails_the_task_with_invalid_output_instead_of_hanging() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (execution, token) = world.start_execution("too-big", &json!({})).await?;
    let big = "x".repeat(300_000);

    let failed = world
        .callback(
            &mut lambda,
            &json!({"taskToken": token, "output": {"blob": big}}),
        )
        .await?;

    assert!(
        failed.is_empty(),
        "the message is done, not retried: {failed:?}"
    );
    let described = statemachine::wait_finished(&world.sfn, &execution, FINISH_LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("sfn_callback.InvalidOutput"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_source_deletes_completed_callbacks_and_redrives_invalid_ones_to_the_dlq()
-> Result<()> {
    let (world, mut lambda) = world().await?;
    let (execution, token) = world.start_execution("looped", &json!({})).await?;
    world
        .send_callback(&json!({"taskToken": token, "output": {"ok": true}}))
        .await?;
    world.send_raw("{garbage").await?;

    // Receive, invoke, delete what succeeded; the garbage comes back after the
    // 1 s visibility timeout until its second receive sends it to the DLQ.
    let mut dead = Vec::new();
    for _ in 0..20 {
        event_source::poll_once(&world.sqs, &world.callbacks, &mut lambda, 10).await?;
        dead = event_source::peek_bodies(&world.sqs, &world.callbacks.dlq_url).await?;
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }

    assert_eq!(dead, ["{garbage"]);
    let described = statemachine::wait_finished(&world.sfn, &execution, FINISH_LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let left = event_source::peek_bodies(&world.sqs, &world.callbacks.url).await?;
    assert!(
        left.is_empty(),
        "the completed callback was deleted: {left:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_setting_fails_init_with_the_variable_named() -> Result<()> {
    let peer = LocalAws::start()?;
    let mut env = peer.function_env();
    env.push(("MAX_CONCURRENCY".to_owned(), "lots".to_owned()));

    let started = Lambda::start("sqs-callback", &env).await;

    let err = started
        .err()
        .ok_or("the function started with MAX_CONCURRENCY=lots")?
        .to_string();
    assert!(err.contains("MAX_CONCURRENCY"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_fingerprints_never_tokens() -> Result<()> {
    let (world, mut lambda) = world().await?;
    let (_, token) = world.start_execution("logged", &json!({})).await?;
    world
        .callback(&mut lambda, &json!({"taskToken": token, "output": {}}))
        .await?;
    world
        .callback(
            &mut lambda,
            &json!({"taskToken": format!("{token}-unknown"), "output": {}}),
        )
        .await?;

    let log = lambda.log_text();

    assert!(
        log.contains("\"token\":\"token:"),
        "the log names the token by fingerprint:\n{log}"
    );
    assert!(!log.contains(&token), "a raw token reached the log:\n{log}");
    Ok(())
}
