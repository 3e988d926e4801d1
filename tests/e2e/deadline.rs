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

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::event_source::{self, QueuePair};
use sfn_callback_tests::fault_proxy::{Fault, FaultPlan, FaultProxy, Faults};
use sfn_callback_tests::instance_kill::{InstanceKiller, KillSchedule, KillTally};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::SqsCallbackPattern;
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);
/// The Lambda timeout of these tests; the function keeps `DEADLINE_MARGIN_MS` (500) free.
const SHORT_TIMEOUT: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_millis(500);

struct World {
    _peer: LocalAws,
    proxy: FaultProxy,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    work_queue: String,
    callbacks: QueuePair,
    state_machine: String,
    lambda: Lambda,
}

impl World {
    /// The function reaches moto through the proxy, with 20 attempts allowed per
    /// call: only the deadline can stop the retries.
    async fn start(plan: FaultPlan) -> Result<Self> {
        let peer = LocalAws::start()?;
        let Clients { sfn, sqs, .. } = peer.clients().await;
        let SqsCallbackPattern {
            work_queue,
            callbacks,
            state_machine,
        } = SqsCallbackPattern::create(&sfn, &sqs, "deadline", 1, 5).await?;
        let proxy = FaultProxy::start(peer.endpoint(), plan.answer_closed_tasks_like_aws()).await?;
        let mut env = proxy.function_env(&peer);
        for (key, value) in [
            ("SFN_ATTEMPT_TIMEOUT_MS", "1000"),
            ("SFN_MAX_ATTEMPTS", "20"),
            ("DEADLINE_MARGIN_MS", "500"),
        ] {
            env.push((key.to_owned(), value.to_owned()));
        }
        let mut lambda = Lambda::start("sqs-callback", &env).await?;
        lambda.timeout = SHORT_TIMEOUT;
        Ok(Self {
            _peer: peer,
            proxy,
            sfn,
            sqs,
            work_queue,
            callbacks,
            state_machine,
            lambda,
        })
    }

    /// Starts an execution and queues its success callback; returns the execution ARN.
    async fn queue_callback(&self, name: &str) -> Result<String> {
        let execution =
            statemachine::start(&self.sfn, &self.state_machine, name, &json!({"job": name}))
                .await?;
        let work = event_source::receive_exactly(&self.sqs, &self.work_queue, 1, LIMIT).await?;
        let token = event_source::task_token(work[0].body().unwrap_or_default())?;
        let callback = json!({"taskToken": token, "output": {"job": name}});
        self.sqs
            .send_message()
            .queue_url(&self.callbacks.url)
            .message_body(callback.to_string())
            .send()
            .await?;
        Ok(execution)
    }

    /// Receives `count` callbacks as one batch, invokes the function, and returns
    /// the batch's message ids, the failed ids and how long the function took.
    async fn deliver(&mut self, count: usize) -> Result<(Vec<String>, Vec<String>, Duration)> {
        let messages =
            event_source::receive_exactly(&self.sqs, &self.callbacks.url, count, LIMIT).await?;
        let mut ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_owned())
            .collect();
        let event = event_source::sqs_event(&messages, &self.callbacks.arn);
        let started = Instant::now();
        let response = self.lambda.invoke(&event).await?.into_response()?;
        let took = started.elapsed();
        let mut failed = event_source::failed_ids(&response)?;
        ids.sort();
        failed.sort();
        Ok((ids, failed, took))
    }

    async fn status(&self, execution: &str) -> Result<(ExecutionStatus, Option<Value>)> {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await?;
        let output = described.output().map(serde_json::from_str).transpose()?;
        Ok((described.status().clone(), output))
    }
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
    let mut world = World::start(FaultPlan::always(Fault::Throttle)).await?;
    let mut executions = Vec::new();
    for name in ["a", "b", "c"] {
        executions.push(world.queue_callback(name).await?);
    }

    let (ids, failed, took) = world.deliver(3).await?;

    assert_eq!(failed, ids, "every throttled record is handed back");
    assert_answered_near_but_before_the_deadline(took);
    assert!(
        world.proxy.counts().throttled >= 6,
        "the SDK retried each call: {}",
        world.proxy.counts()
    );
    for execution in &executions {
        assert_eq!(world.status(execution).await?.0, ExecutionStatus::Running);
    }

    // Throttling ends; the records come back after the visibility timeout and complete.
    world.proxy.set_faults(Faults::None);
    let (_, failed, _) = world.deliver(3).await?;

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
    // Every answer is held for longer than the whole invocation may last.
    let plan = FaultPlan::always(Fault::Delay).hold_for(Duration::from_secs(10));
    let mut world = World::start(plan).await?;
    let execution = world.queue_callback("stalled").await?;

    let (ids, failed, took) = world.deliver(1).await?;

    assert_eq!(failed, ids, "the record with no answer is handed back");
    assert_answered_near_but_before_the_deadline(took);
    // The first call reached Step Functions before its answer stalled: the
    // outcome the function could not see is that the task completed.
    let (status, output) = world.status(&execution).await?;
    assert_eq!(
        (status, output),
        (ExecutionStatus::Succeeded, Some(json!({"job": "stalled"})))
    );

    world.proxy.set_faults(Faults::None);
    let (_, failed, _) = world.deliver(1).await?;

    assert!(
        failed.is_empty(),
        "the redelivery meets TaskTimedOut and is acknowledged, not retried: {failed:?}"
    );
    assert!(world.proxy.counts().task_timed_out >= 1);
    assert!(
        world
            .lambda
            .log_text()
            .contains("\"outcome\":\"AlreadyClosed\""),
        "the duplicate is logged as already closed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_with_less_time_left_than_the_margin_is_handed_back_without_a_call() -> Result<()> {
    let mut world = World::start(FaultPlan::none()).await?;
    let execution = world.queue_callback("late").await?;
    world.lambda.timeout = Duration::from_millis(400);

    let (ids, failed, took) = world.deliver(1).await?;

    assert_eq!(failed, ids, "the record is handed back");
    assert!(took < Duration::from_millis(400), "answered in {took:?}");
    assert_eq!(
        world.proxy.counts().send_task_calls,
        0,
        "no call was started that the deadline could cut off"
    );

    world.lambda.timeout = SHORT_TIMEOUT;
    let (_, failed, _) = world.deliver(1).await?;

    assert!(failed.is_empty(), "{failed:?}");
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_after_its_completion_took_effect_is_replaced_and_the_record_comes_back_as_a_duplicate()
-> Result<()> {
    // The answer is held, so the kill surely lands between the call taking effect and the batch response.
    let plan = FaultPlan::always(Fault::Delay).hold_for(Duration::from_secs(10));
    let mut world = World::start(plan).await?;
    let execution = world.queue_callback("killed").await?;
    let messages =
        event_source::receive_exactly(&world.sqs, &world.callbacks.url, 1, LIMIT).await?;
    let first_process = world.lambda.pid();
    let mut killer = InstanceKiller::new(KillSchedule::always_after(1), world.proxy.effects());

    let answer = killer
        .invoke(
            &mut world.lambda,
            &messages,
            &event_source::sqs_event(&messages, &world.callbacks.arn),
        )
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
    assert_ne!(
        world.lambda.pid(),
        first_process,
        "a fresh process took over"
    );
    assert_eq!(
        world.status(&execution).await?.0,
        ExecutionStatus::Succeeded
    );

    // Nothing was deleted: the record comes back after the visibility timeout.
    world.proxy.set_faults(Faults::None);
    // A kill that lands late, on a loaded machine, lets the killed call retry
    // into a TaskTimedOut of its own: count only what the redelivery adds.
    let closed_before = world.proxy.counts().task_timed_out;
    let (_, failed, _) = world.deliver(1).await?;

    assert!(
        failed.is_empty(),
        "the fresh process acknowledges it: {failed:?}"
    );
    assert_eq!(world.proxy.counts().task_timed_out, closed_before + 1);
    assert!(
        world
            .lambda
            .log_text()
            .contains("\"outcome\":\"AlreadyClosed\""),
        "the duplicate is logged as already closed"
    );
    Ok(())
}
