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

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::Builder as SfnConfigBuilder;
use serde_json::Value;
use tokio::sync::watch;

use crate::client::{CallbackClient, Deadline};
use crate::completion::Completion;
use crate::config::{ConfigError, setting};
use crate::outcome::{Done, Outcome, classify_sdk_error};
use crate::token::TaskToken;
use crate::worker::{Guarded, TaskHandler, WorkerSettings, with_heartbeats};

/// The error an activity task is failed with when its worker stops first.
pub const WORKER_SHUTDOWN_ERROR: &str = "sfn_callback.WorkerShutdown";

/// `GetActivityTask` holds a poll open for up to 60 s; allow a little more.
const POLL_TIMEOUT: Duration = Duration::from_secs(70);

/// Settings of an activity worker.
#[derive(Debug, Clone)]
pub struct ActivitySettings {
    pub activity_arn: String,
    /// Shown in the execution history as the task's worker.
    pub worker_name: String,
    /// Polls in flight at once, and so tasks worked on at once.
    pub pollers: usize,
    /// Heartbeats while a task runs.
    pub worker: WorkerSettings,
    /// How long in-flight tasks may run on after shutdown begins.
    pub grace: Duration,
    /// Longest wait between polls after errors (throttling, outages).
    pub max_backoff: Duration,
}

impl ActivitySettings {
    /// Reads `ACTIVITY_ARN` (required), `WORKER_NAME` (default: the host name),
    /// `POLLERS` (default 2), `GRACE_SECONDS` (default 25),
    /// `MAX_BACKOFF_SECONDS` (default 30) and the worker settings
    /// (`HEARTBEAT_INTERVAL_SECONDS`) from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let activity_arn = lookup("ACTIVITY_ARN")
            .filter(|arn| arn.starts_with("arn:"))
            .ok_or_else(|| ConfigError {
                name: "ACTIVITY_ARN",
                value: lookup("ACTIVITY_ARN").unwrap_or_default(),
                expected: "the activity's ARN (arn:aws:states:REGION:ACCOUNT:activity:NAME)"
                    .to_owned(),
            })?;
        let worker_name = lookup("WORKER_NAME")
            .or_else(|| lookup("HOSTNAME"))
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "sfn-callback-activity-worker".to_owned());
        Ok(Self {
            activity_arn,
            worker_name,
            pollers: setting(&lookup, "POLLERS", 2, 1..=100)?,
            worker: WorkerSettings::from_lookup(&lookup)?,
            grace: Duration::from_secs(setting(&lookup, "GRACE_SECONDS", 25, 0..=3600)?),
            max_backoff: Duration::from_secs(setting(
                &lookup,
                "MAX_BACKOFF_SECONDS",
                30,
                1..=3600,
            )?),
        })
    }
}

/// What a worker did, for its final log line and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ActivityReport {
    pub polls: u64,
    pub empty_polls: u64,
    pub poll_errors: u64,
    pub tasks: u64,
    pub completed: u64,
    pub not_completed: u64,
    pub failed_for_shutdown: u64,
}

/// An activity worker: `pollers` loops over one handler.
#[derive(Debug)]
pub struct ActivityWorker<H> {
    client: CallbackClient,
    handler: Arc<H>,
    settings: ActivitySettings,
}

impl<H: TaskHandler> ActivityWorker<H> {
    pub fn new(client: CallbackClient, handler: H, settings: ActivitySettings) -> Self {
        Self {
            client,
            handler: Arc::new(handler),
            settings,
        }
    }

    /// Polls and works until `shutdown` resolves, then drains within the grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> ActivityReport {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(self);
        let mut pollers = tokio::task::JoinSet::new();
        for index in 0..shared.settings.pollers.max(1) {
            let worker = Arc::clone(&shared);
            let stop = stop_rx.clone();
            let stopping = Arc::clone(&stopping);
            pollers.spawn(async move { worker.poll_loop(index, stop, stopping).await });
        }
        shutdown.await;
        tracing::info!(
            grace_s = shared.settings.grace.as_secs(),
            "shutting down: no new polls"
        );
        stopping.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(true);

        let mut report = ActivityReport::default();
        let drained = tokio::time::timeout(shared.settings.grace + POLL_TIMEOUT, async {
            while let Some(joined) = pollers.join_next().await {
                match joined {
                    Ok(poller) => report = add(report, poller),
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

    async fn poll_loop(
        &self,
        index: usize,
        mut stop: watch::Receiver<bool>,
        stopping: Arc<AtomicBool>,
    ) -> ActivityReport {
        let mut report = ActivityReport::default();
        let mut backoff = Duration::ZERO;
        while !stopping.load(Ordering::SeqCst) {
            if !backoff.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(retry_wait(backoff)) => {}
                    _ = stop.changed() => break,
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
            let outcome = if stopping.load(Ordering::SeqCst) {
                report.failed_for_shutdown += 1;
                self.fail_for_shutdown(&token, "the worker was stopping when this task arrived")
                    .await
            } else {
                self.work(task, stop.clone(), &mut report).await
            };
            match &outcome {
                Ok(_) => report.completed += 1,
                Err(_) => report.not_completed += 1,
            }
            crate::batch::log_outcome(
                &format!("activity-poller-{index}"),
                Some(token.fingerprint()),
                &outcome,
            );
        }
        report
    }

    /// One long poll. `Ok(None)` is the empty answer at the end of a poll.
    async fn poll(&self) -> Result<Option<ActivityTask>, crate::outcome::CallbackError> {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(POLL_TIMEOUT)
            .operation_attempt_timeout(POLL_TIMEOUT)
            .read_timeout(POLL_TIMEOUT)
            .build();
        let answer = self
            .client
            .sfn()
            .get_activity_task()
            .activity_arn(&self.settings.activity_arn)
            .worker_name(&self.settings.worker_name)
            .customize()
            .config_override(SfnConfigBuilder::default().timeout_config(timeouts))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) => return classify_sdk_error(&err).map(|_| None),
        };
        let Some(raw_token) = output.task_token().filter(|token| !token.is_empty()) else {
            return Ok(None);
        };
        let token = TaskToken::new(raw_token).map_err(|err| {
            crate::outcome::CallbackError::InvalidMessage(crate::message::MessageError::Token(err))
        })?;
        let input = match output.input().map(serde_json::from_str::<Value>) {
            Some(Ok(input)) => input,
            None => Value::Null,
            Some(Err(err)) => {
                // Step Functions always sends JSON; if not, the task cannot be worked on.
                tracing::warn!(token = %token, error = %err, "activity input is not JSON");
                Value::Null
            }
        };
        Ok(Some(ActivityTask { token, input }))
    }

    /// Runs the task under the heartbeat guard; on shutdown past the grace period,
    /// cancels it and fails the task.
    async fn work(
        &self,
        task: ActivityTask,
        mut stop: watch::Receiver<bool>,
        report: &mut ActivityReport,
    ) -> Outcome {
        let ActivityTask { token, input } = task;
        let work = self.handler.handle(input);
        let guarded = async {
            match self.settings.worker.heartbeat_interval {
                Some(interval) => {
                    with_heartbeats(&self.client, &token, work, interval, Deadline::NONE).await
                }
                None => Guarded::Finished(work.await),
            }
        };
        let grace = self.settings.grace;
        let cut_off = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            biased;
            guarded = guarded => guarded,
            () = cut_off => {
                report.failed_for_shutdown += 1;
                return self.fail_for_shutdown(&token, "the worker stopped before this task finished").await;
            }
        };
        let result = match result {
            Guarded::Finished(result) => result,
            Guarded::Closed(done) => return Ok(done),
            Guarded::OutOfTime => return Err(crate::outcome::CallbackError::OutOfTime),
        };
        let completion = match result {
            Ok(output) => Completion::success(&output),
            Err(failure) => match Completion::failure(Some(failure.error), Some(failure.cause)) {
                Ok(completion) => completion,
                Err(err) => return Err(crate::message::MessageError::Completion(err).into()),
            },
        };
        self.client
            .complete(&token, completion, Deadline::NONE)
            .await
    }

    async fn fail_for_shutdown(&self, token: &TaskToken, cause: &str) -> Outcome {
        let completion = Completion::Failure {
            error: Some(WORKER_SHUTDOWN_ERROR.to_owned()),
            cause: Some(format!("{} ({cause})", self.settings.worker_name)),
        };
        let outcome = self
            .client
            .complete(token, completion, Deadline::NONE)
            .await;
        if matches!(outcome, Ok(Done::Completed)) {
            tracing::warn!(token = %token, "task failed with {WORKER_SHUTDOWN_ERROR}");
        }
        outcome
    }
}

#[derive(Debug)]
struct ActivityTask {
    token: TaskToken,
    input: Value,
}

/// Doubles the wait (from 100 ms) up to `max`.
fn next_backoff(current: Duration, max: Duration) -> Duration {
    if current.is_zero() {
        Duration::from_millis(100)
    } else {
        (current * 2).min(max)
    }
}

/// How long to wait before a retry whose backoff is `ceiling`.
fn retry_wait(ceiling: Duration) -> Duration {
    ceiling
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
