//! Activity workers: long-poll `GetActivityTask` for an activity ARN, run the
//! task with the worker API's handler and heartbeat guard, and complete the
//! token. For work that runs outside Lambda (ECS, EC2, on premises).
//!
//! Shutdown never abandons a token silently: once [`ActivityWorker::run`]'s
//! shutdown future resolves, no new poll starts; work in flight may finish within
//! the grace period; work still running after it is cancelled and its task failed
//! with `sfn_callback.WorkerShutdown`, so the state machine's `Retry` or `Catch`
//! takes over at once instead of waiting for a timeout. A task that a poll
//! returns after shutdown began is failed the same way without being started.
//!
//! No queue stands behind an activity task to deliver it again, so a completion
//! that fails transiently is retried here until it is done, the task is closed,
//! or the grace period after shutdown ends. A poll that Step Functions refuses
//! for good (an unknown activity, a bad ARN, no permission) stops the worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::Builder as SfnConfigBuilder;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::batch::Handled;
use crate::client::{CallbackClient, Deadline};
use crate::completion::Completion;
use crate::config::ActivitySettings;
use crate::heartbeat::{Guarded, with_heartbeats};
use crate::outcome::{CallbackError, Classify, Done, ErrorClass, Outcome};
use crate::respond::RecordId;
use crate::token::TaskToken;
use crate::worker::{INVALID_INPUT_ERROR, TaskFailure, TaskHandler};

/// The error an activity task is failed with when its worker stops first.
pub const WORKER_SHUTDOWN_ERROR: &str = "sfn_callback.WorkerShutdown";
/// The error a task is failed with when its handler panics.
pub const HANDLER_PANICKED_ERROR: &str = "sfn_callback.HandlerPanicked";

/// Time the drain leaves, after the last poll can have returned, for failing
/// the tasks handed out meanwhile.
const LAST_CALLS_TIME: Duration = Duration::from_secs(20);

/// `GetActivityTask` holds a poll open for up to 60 s; each attempt gets a little
/// more. Only attempts are limited: a limit on the whole call could cut a retry
/// off just as Step Functions hands it a task, and that task would be lost.
const POLL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(70);

/// Deepest nesting of an input that can be read (`serde_json`'s recursion limit).
const MAX_INPUT_DEPTH: usize = 128;

/// How long after shutdown begins the worker waits for its pollers: the grace
/// period, then a poll in flight, then failing what that poll returned.
pub(crate) fn drain_limit(settings: &ActivitySettings) -> Duration {
    settings.grace + POLL_ATTEMPT_TIMEOUT + LAST_CALLS_TIME
}

/// What a worker did, for its final log line and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ActivityReport {
    pub(crate) polls: u64,
    /// Polls that ended without a task.
    pub empty_polls: u64,
    /// Polls that failed (throttling, outages); the worker backed off and polled again.
    pub poll_errors: u64,
    /// Tasks received.
    pub tasks: u64,
    /// Tasks completed: success, failure or closed already.
    pub completed: u64,
    /// Tasks whose completion failed for good (the task's timeout then ends it).
    pub not_completed: u64,
    /// Tasks failed with `sfn_callback.WorkerShutdown` because the worker stopped first.
    pub failed_for_shutdown: u64,
    /// The permanent error that refused a poll and stopped the worker.
    pub refused_poll: Option<CallbackError>,
}

/// An activity worker: `pollers` loops over one handler.
#[derive(Debug)]
pub struct ActivityWorker<H> {
    client: CallbackClient,
    handler: Arc<H>,
    settings: ActivitySettings,
}

impl<H: TaskHandler> ActivityWorker<H> {
    /// A worker that runs `handler` on the tasks of `settings.activity_arn`.
    pub fn new(client: CallbackClient, handler: H, settings: ActivitySettings) -> Self {
        Self {
            client,
            handler: Arc::new(handler),
            settings,
        }
    }

    /// Polls and works until `shutdown` resolves, or a poll is refused for good
    /// ([`ActivityReport::refused_poll`]), then drains within the grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> ActivityReport {
        let stop = Stop::default();
        let shared = Arc::new(self);
        let mut pollers = tokio::task::JoinSet::new();
        for index in 0..shared.settings.pollers.max(1) {
            let worker = Arc::clone(&shared);
            let stop = stop.clone();
            pollers.spawn(async move { worker.poll_loop(index, stop).await });
        }
        let grace_s = shared.settings.grace.as_secs();
        tokio::select! {
            () = shutdown => tracing::info!(grace_s, "shutting down: no new polls"),
            _ = stop.begun() => tracing::error!(grace_s, "GetActivityTask was refused; stopping: no new polls"),
        }
        stop.begin();

        let mut report = ActivityReport::default();
        let drained = tokio::time::timeout(drain_limit(&shared.settings), async {
            while let Some(joined) = pollers.join_next().await {
                match joined {
                    Ok(poller) => report = add(std::mem::take(&mut report), poller),
                    Err(err) => tracing::error!(error = %err, "a poller ended abnormally"),
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::error!(
                "pollers did not stop in time; a task assigned to an unfinished poll may wait for its timeout"
            );
        }
        tracing::info!(?report, "activity worker stopped");
        report
    }

    async fn poll_loop(&self, index: usize, stop: Stop) -> ActivityReport {
        let mut report = ActivityReport::default();
        let mut backoff = Duration::ZERO;
        while !stop.has_begun() {
            if !backoff.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(retry_wait(backoff)) => {}
                    _ = stop.begun() => break,
                }
            }
            report.polls += 1;
            let task = match self.poll().await {
                Ok(Some(task)) => task,
                Ok(None) => {
                    report.empty_polls += 1;
                    backoff = Duration::ZERO;
                    continue;
                }
                Err(err) if err.class() == ErrorClass::Permanent => {
                    report.poll_errors += 1;
                    tracing::error!(
                        poller = index,
                        error = %err,
                        activity = %self.settings.activity_arn,
                        "GetActivityTask refused; the worker stops. Check ACTIVITY_ARN, its region and account, and the worker's permissions"
                    );
                    report.refused_poll = Some(err);
                    stop.begin();
                    break;
                }
                Err(err) => {
                    report.poll_errors += 1;
                    backoff = next_backoff(backoff, self.settings.max_backoff);
                    tracing::warn!(poller = index, error = %err, backoff_ms = backoff.as_millis(), "GetActivityTask failed");
                    continue;
                }
            };
            backoff = Duration::ZERO;
            report.tasks += 1;
            let token = task.token.clone();
            let outcome = if stop.has_begun() {
                report.failed_for_shutdown += 1;
                self.fail_for_shutdown(
                    &token,
                    &stop,
                    "the worker was stopping when this task arrived",
                )
                .await
            } else {
                self.work(task, &stop, &mut report).await
            };
            let handled = Handled::new(Some(token.fingerprint()), outcome);
            match handled.outcome() {
                Ok(_) => report.completed += 1,
                Err(_) => report.not_completed += 1,
            }
            handled.log(RecordId::Poller(index));
        }
        report
    }

    /// One long poll. `Ok(None)` is the empty answer at the end of a poll.
    async fn poll(&self) -> Result<Option<ActivityTask>, CallbackError> {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(POLL_ATTEMPT_TIMEOUT)
            .read_timeout(POLL_ATTEMPT_TIMEOUT)
            .build();
        let answer = self
            .client
            .sfn()
            .get_activity_task()
            .activity_arn(&self.settings.activity_arn)
            .worker_name(&self.settings.worker_name)
            .customize()
            // One attempt: the poll loop retries, with backoff and a look at
            // shutdown first, so no poll starts once the worker is stopping.
            .config_override(
                SfnConfigBuilder::default()
                    .timeout_config(timeouts)
                    .retry_config(RetryConfig::standard().with_max_attempts(1)),
            )
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) => return Err(CallbackError::from_sdk(&err)),
        };
        let Some(raw_token) = output.task_token().filter(|token| !token.is_empty()) else {
            return Ok(None);
        };
        let token = match TaskToken::new(raw_token) {
            Ok(token) => token,
            Err(err) => {
                // Not a poll error: the activity is fine, but this task cannot be
                // completed with a token we cannot send back. It will time out.
                tracing::error!(error = %err, "GetActivityTask returned a task token outside Step Functions' limits; the task is left to time out");
                return Ok(None);
            }
        };
        let input = output.input().map_or(Ok(Value::Null), read_input);
        Ok(Some(ActivityTask { token, input }))
    }

    /// Runs the task under the heartbeat guard; on shutdown past the grace period,
    /// cancels it and fails the task.
    async fn work(&self, task: ActivityTask, stop: &Stop, report: &mut ActivityReport) -> Outcome {
        let ActivityTask { token, input } = task;
        let input = match input {
            Ok(input) => input,
            Err(cause) => {
                tracing::warn!(token = %token, "the task's input cannot be read; failing it with {INVALID_INPUT_ERROR}");
                let failure = TaskFailure::new(INVALID_INPUT_ERROR, cause);
                return self.complete(&token, failure.into_completion(), stop).await;
            }
        };
        let work = run_isolated(Arc::clone(&self.handler), input);
        let guarded = async {
            match self.settings.worker.heartbeat_interval {
                Some(interval) => {
                    with_heartbeats(&self.client, &token, work, interval, Deadline::NONE).await
                }
                None => Guarded::Finished(work.await),
            }
        };
        let result = tokio::select! {
            biased;
            guarded = guarded => guarded,
            () = stop.grace_ended(self.settings.grace) => {
                report.failed_for_shutdown += 1;
                return self.fail_for_shutdown(&token, stop, "the worker stopped before this task finished").await;
            }
        };
        let result = match result.finished() {
            Ok(result) => result,
            Err(ended) => return ended,
        };
        let completion = result.map_or_else(TaskFailure::into_completion, |output| {
            Completion::success(&output)
        });
        self.complete(&token, completion, stop).await
    }

    /// Completes the task. A transient failure is retried with backoff and
    /// jitter until the completion is done or refused, or the grace period after
    /// shutdown ends: nothing would deliver the finished work again.
    async fn complete(&self, token: &TaskToken, completion: Completion, stop: &Stop) -> Outcome {
        self.complete_within(token, completion, stop.grace_ended(self.settings.grace))
            .await
    }

    /// Completes the task, retrying transient failures until `retries_end`.
    async fn complete_within(
        &self,
        token: &TaskToken,
        completion: Completion,
        retries_end: impl Future<Output = ()>,
    ) -> Outcome {
        tokio::pin!(retries_end);
        let mut backoff = Duration::ZERO;
        loop {
            let outcome = self
                .client
                .complete(token, completion.clone(), Deadline::NONE)
                .await;
            let Err(err) = &outcome else {
                return outcome;
            };
            if err.class() != ErrorClass::Transient {
                return outcome;
            }
            backoff = next_backoff(backoff, self.settings.max_backoff);
            let wait = retry_wait(backoff);
            tracing::warn!(token = %token, error = %err, retry_in_ms = wait.as_millis(), "completion failed; retrying");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut retries_end => return outcome,
            }
        }
    }

    /// Fails the task for shutdown, retrying transient failures until the last
    /// poll can have returned: past the grace period, but inside the drain.
    async fn fail_for_shutdown(&self, token: &TaskToken, stop: &Stop, cause: &str) -> Outcome {
        let completion = Completion::Failure {
            error: Some(WORKER_SHUTDOWN_ERROR.to_owned()),
            cause: Some(format!("{} ({cause})", self.settings.worker_name)),
        };
        let retries_end = stop.grace_ended(self.settings.grace + POLL_ATTEMPT_TIMEOUT);
        let outcome = self.complete_within(token, completion, retries_end).await;
        if matches!(outcome, Ok(Done::Completed)) {
            tracing::warn!(token = %token, "task failed with {WORKER_SHUTDOWN_ERROR}");
        }
        outcome
    }
}

/// Runs the handler in a task of its own, so that a panic fails this task
/// (with [`HANDLER_PANICKED_ERROR`]) instead of taking its poller down and
/// leaving the token to time out. Dropping the future cancels the handler.
async fn run_isolated<H: TaskHandler>(handler: Arc<H>, input: Value) -> Result<Value, TaskFailure> {
    let mut running = AbortOnDrop(tokio::spawn(async move { handler.handle(input).await }));
    match (&mut running.0).await {
        Ok(result) => result,
        Err(_) => Err(TaskFailure::new(
            HANDLER_PANICKED_ERROR,
            "the activity worker's handler panicked on this task",
        )),
    }
}

/// Aborts the spawned handler when the work on its task is cancelled.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug)]
struct ActivityTask {
    token: TaskToken,
    /// The input, or why it cannot be read (the cause to fail the task with).
    input: Result<Value, String>,
}

/// Reads a task's input. Step Functions sends JSON, but it may nest deeper
/// than the parser follows; such a task is failed, never run on `null`.
fn read_input(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|err| {
        format!(
            "the activity input is not JSON that the worker can read \
             (nested at most {MAX_INPUT_DEPTH} levels deep): {err}"
        )
    })
}

/// When the worker stops: not yet, or since when. Set once, on shutdown or by
/// a poller whose poll was refused for good; the grace period counts from then.
#[derive(Debug, Clone, Default)]
struct Stop(Arc<watch::Sender<Option<Instant>>>);

impl Stop {
    /// Begins stopping, if it has not begun yet.
    fn begin(&self) {
        self.0.send_if_modified(|since| {
            let first = since.is_none();
            if first {
                *since = Some(Instant::now());
            }
            first
        });
    }

    fn has_begun(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Waits until stopping begins; returns when it began.
    async fn begun(&self) -> Instant {
        let mut changes = self.0.subscribe();
        let since = changes
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|since| *since);
        since.unwrap_or_else(Instant::now)
    }

    /// Waits until `grace` has passed since stopping began.
    async fn grace_ended(&self, grace: Duration) {
        tokio::time::sleep_until(self.begun().await + grace).await;
    }
}

/// Doubles the wait (from 100 ms) up to `max`.
fn next_backoff(current: Duration, max: Duration) -> Duration {
    if current.is_zero() {
        Duration::from_millis(100)
    } else {
        (current * 2).min(max)
    }
}

/// How long to wait before a retry whose backoff is `ceiling`: a random time in
/// its upper half, so pollers that failed together do not retry together.
fn retry_wait(ceiling: Duration) -> Duration {
    ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
}

fn add(a: ActivityReport, b: ActivityReport) -> ActivityReport {
    ActivityReport {
        polls: a.polls + b.polls,
        empty_polls: a.empty_polls + b.empty_polls,
        poll_errors: a.poll_errors + b.poll_errors,
        tasks: a.tasks + b.tasks,
        completed: a.completed + b.completed,
        not_completed: a.not_completed + b.not_completed,
        failed_for_shutdown: a.failed_for_shutdown + b.failed_for_shutdown,
        refused_poll: a.refused_poll.or(b.refused_poll),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_up_to_the_cap() {
        let max = Duration::from_secs(1);
        let waits: Vec<u128> =
            std::iter::successors(Some(Duration::ZERO), |w| Some(next_backoff(*w, max)))
                .skip(1)
                .take(6)
                .map(|w| w.as_millis())
                .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn retry_waits_are_jittered_within_the_upper_half_of_the_backoff() {
        let ceiling = Duration::from_secs(1);
        let waits: Vec<Duration> = (0..100).map(|_| retry_wait(ceiling)).collect();

        assert!(
            waits
                .iter()
                .all(|wait| (ceiling / 2..=ceiling).contains(wait)),
            "{waits:?}"
        );
        assert!(
            waits.iter().any(|wait| *wait != waits[0]),
            "pollers that fail together would retry together"
        );
    }
}
