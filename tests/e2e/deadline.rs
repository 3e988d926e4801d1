//! Deadline safety, end to end: the built `sqs-callback` binary gets a short
//! Lambda timeout while the fault proxy throttles or stalls its Step Functions
//! calls. A call near the deadline must end as a transient failure, with the
//! record handed back in `batchItemFailures` and the answer sent before the
//! deadline, instead of being cut off mid-call with an unknown outcome. The
//! redelivery then finishes the job.
//!
//! When an instance dies mid-call anyway (a timeout, out of memory, a crash),
//! the event source gets no answer: a fresh process takes over, and the
//! record comes back after the visibility timeout to be acknowledged.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;
use sfn_callback_tests::fault_proxy::{Fault, FaultPlan, Faults};
use sfn_callback_tests::instance_kill::{InstanceKiller, KillSchedule, KillTally};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::{Delivered, SqsCallbackWorld};
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);
/// The Lambda timeout of these tests; the function keeps `DEADLINE_MARGIN_MS` (500) free.
const SHORT_TIMEOUT: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_millis(500);

/// The function reaches moto through the proxy, with 20 attempts allowed per
/// call: only the deadline can stop the retries.
async fn world(plan: FaultPlan) -> Result<(SqsCallbackWorld, Lambda)> {
    let world = SqsCallbackWorld::builder("deadline")
        .redrive(1, 5)
        .through_proxy(plan.answer_closed_tasks_like_aws())
        .setting("SFN_ATTEMPT_TIMEOUT_MS", "1000")
        .setting("SFN_MAX_ATTEMPTS", "20")
        .setting("DEADLINE_MARGIN_MS", "500")
        .lambda_timeout(SHORT_TIMEOUT)
        .start()
        .await?;
    let lambda = world.start_function().await?;
    Ok((world, lambda))
}

/// Starts an execution and queues its success callback; returns the execution ARN.
async fn queue_callback(world: &SqsCallbackWorld, name: &str) -> Result<String> {
    let (execution, token) = world.start_execution(name, &json!({"job": name})).await?;
    world
        .send_callback(&json!({"taskToken": token, "output": {"job": name}}))
        .await?;
    Ok(execution)
}

/// Every record of the batch was handed back (`why`), with the answer near
/// the deadline but before it.
fn assert_handed_back_near_the_deadline(batch: &Delivered, why: &str) {
    assert_eq!(batch.failed, batch.ids, "{why}");
    assert_answered_near_but_before_the_deadline(batch.took);
}

/// A world whose every Step Functions answer is held for longer than the whole
/// invocation may last, with one callback queued; returns the execution ARN too.
async fn one_callback_with_every_answer_held(
    name: &str,
) -> Result<(SqsCallbackWorld, Lambda, String)> {
    let plan = FaultPlan::always(Fault::Delay).hold_for(Duration::from_secs(10));
    let (world, lambda) = world(plan).await?;
    let execution = queue_callback(&world, name).await?;
    Ok((world, lambda, execution))
}

/// The answer came before the deadline, and late enough to show the calls were
/// retried up to the cap rather than given up at once.
fn assert_answered_near_but_before_the_deadline(took: Duration) {
    println!("answered after {took:?}; the deadline was {SHORT_TIMEOUT:?}");
    assert!(
        took < SHORT_TIMEOUT,
        "the function answered after its {SHORT_TIMEOUT:?} deadline: {took:?}"
    );
    assert!(
        took >= SHORT_TIMEOUT.saturating_sub(MARGIN + Duration::from_millis(800)),
        "the calls stopped long before the deadline: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_until_the_deadline_hands_every_record_back_before_the_deadline() -> Result<()> {
    let (world, mut lambda) = world(FaultPlan::always(Fault::Throttle)).await?;
    let proxy = world.fault_proxy()?;
    let mut executions = Vec::new();
    for name in ["a", "b", "c"] {
        executions.push(queue_callback(&world, name).await?);
    }

    let batch = world.deliver_batch(&mut lambda, 3).await?;

    assert_handed_back_near_the_deadline(&batch, "every throttled record is handed back");
    assert!(
        proxy.counts().throttled >= 6,
        "the SDK retried each call: {}",
        proxy.counts()
    );
    for execution in &executions {
        statemachine::assert_status(&world.sfn, execution, ExecutionStatus::Running).await?;
    }

    // Throttling ends; the records come back after the visibility timeout and complete.
    proxy.set_faults(Faults::None);
    let failed = world.deliver_batch(&mut lambda, 3).await?.failed;

    assert!(failed.is_empty(), "the redelivery completes: {failed:?}");
    for (execution, name) in executions.iter().zip(["a", "b", "c"]) {
        let described = statemachine::wait_finished(&world.sfn, execution, LIMIT).await?;
        assert_eq!(described.status(), &ExecutionStatus::Succeeded, "{name}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_answers_near_the_deadline_hand_the_record_back_and_the_redelivery_is_acknowledged()
-> Result<()> {
    let (world, mut lambda, execution) = one_callback_with_every_answer_held("stalled").await?;
    let proxy = world.fault_proxy()?;

    let batch = world.deliver_batch(&mut lambda, 1).await?;

    assert_handed_back_near_the_deadline(&batch, "the record with no answer is handed back");
    // The first call reached Step Functions before its answer stalled: the
    // outcome the function could not see is that the task completed.
    assert_eq!(
        statemachine::current(&world.sfn, &execution).await?,
        (ExecutionStatus::Succeeded, Some(json!({"job": "stalled"})))
    );

    proxy.set_faults(Faults::None);
    let failed = world.deliver_batch(&mut lambda, 1).await?.failed;

    assert!(
        failed.is_empty(),
        "the redelivery meets TaskTimedOut and is acknowledged, not retried: {failed:?}"
    );
    assert!(proxy.counts().task_timed_out >= 1);
    assert!(
        lambda.outcomes_logged("AlreadyClosed") > 0,
        "the duplicate is logged as already closed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_with_less_time_left_than_the_margin_is_handed_back_without_a_call() -> Result<()> {
    let (world, mut lambda) = world(FaultPlan::none()).await?;
    let execution = queue_callback(&world, "late").await?;
    lambda.timeout = Duration::from_millis(400);

    let batch = world.deliver_batch(&mut lambda, 1).await?;

    assert_eq!(batch.failed, batch.ids, "the record is handed back");
    assert!(
        batch.took < Duration::from_millis(400),
        "answered in {:?}",
        batch.took
    );
    assert_eq!(
        world.fault_proxy()?.counts().send_task_calls,
        0,
        "no call was started that the deadline could cut off"
    );

    lambda.timeout = SHORT_TIMEOUT;
    let failed = world.deliver_batch(&mut lambda, 1).await?.failed;

    assert!(failed.is_empty(), "{failed:?}");
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_after_its_completion_took_effect_is_replaced_and_the_record_comes_back_as_a_duplicate()
-> Result<()> {
    // The answer is held, so the kill surely lands between the call taking effect and the batch response.
    let (world, mut lambda, execution) = one_callback_with_every_answer_held("killed").await?;
    let messages = world.receive_callbacks(1).await?;
    let proxy = world.fault_proxy()?;
    let first_process = lambda.pid();
    let mut killer = InstanceKiller::new(KillSchedule::always_after(1), proxy.effects());

    let answer = killer
        .invoke(&mut lambda, &messages, &world.callback_event(&messages))
        .await?;

    assert_eq!(answer, None, "the killed invocation has no answer");
    assert_eq!(
        killer.tally(),
        KillTally {
            planned: 1,
            killed: 1,
            after_effect: 1,
            effects_before_kill: 1,
            records_abandoned: 1,
        }
    );
    assert_ne!(lambda.pid(), first_process, "a fresh process took over");
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Succeeded).await?;

    // Nothing was deleted: the record comes back after the visibility timeout.
    proxy.set_faults(Faults::None);
    // A kill that lands late, on a loaded machine, lets the killed call retry
    // into a TaskTimedOut of its own: count only what the redelivery adds.
    let closed_before = proxy.counts().task_timed_out;
    let failed = world.deliver_batch(&mut lambda, 1).await?.failed;

    assert!(
        failed.is_empty(),
        "the fresh process acknowledges it: {failed:?}"
    );
    assert_eq!(proxy.counts().task_timed_out, closed_before + 1);
    assert!(
        lambda.outcomes_logged("AlreadyClosed") > 0,
        "the duplicate is logged as already closed"
    );
    Ok(())
}
