//! The one wrapper over aws-sdk-sfn: the only code that calls Step Functions.
//!
//! Retries are the SDK's own (standard mode: exponential backoff with jitter,
//! throttling and 5xx retried; [`ThrottlingClassifier`] adds the throttling
//! codes the SDK does not know, such as `KmsThrottlingException`). Each call's
//! total time is capped by what is left of the Lambda deadline minus a safety
//! margin, so a call is never cut off by the Lambda timeout with an unknown
//! result: it ends as a transient error and the message goes back to the queue.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::Builder as SfnConfigBuilder;
use aws_sdk_sfn::error::ProvideErrorMetadata;

use crate::aws::ClientOnFirstUse;
use crate::completion::{Completion, INVALID_OUTPUT_ERROR};
use crate::outcome::{
    CallbackError, Done, KMS_REFUSED, Outcome, ThrottlingClassifier, completion_refused,
};
use crate::token::TaskToken;

/// How hard the client tries before it gives a message back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Time allowed for one attempt.
    pub attempt_timeout: Duration,
    /// Time kept free before the Lambda deadline: no call runs into it.
    pub deadline_margin: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(5),
            deadline_margin: Duration::from_millis(500),
        }
    }
}

/// What a success whose output Step Functions refuses (`InvalidOutput`) leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedOutput {
    /// Fail the task with `sfn_callback.InvalidOutput` and the reason, so the
    /// execution does not hang: what the functions do, with nobody to ask.
    FailTask,
    /// Send nothing more and report the refusal: for an operator who asked for
    /// success and must not see the task failed in their name.
    Report,
}

/// When the current invocation must have answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: calls are bounded only by the retry settings.
    pub const NONE: Self = Self(None);

    /// A deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    /// From the Lambda context's deadline, in milliseconds since the Unix epoch.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self::at(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// Time left before the deadline less `margin`; `None` when there is no deadline.
    pub(crate) fn remaining(self, margin: Duration) -> Option<Duration> {
        self.0.map(|at| {
            at.saturating_duration_since(Instant::now())
                .saturating_sub(margin)
        })
    }
}

/// Shortest budget worth starting a call with.
const MIN_CALL_BUDGET: Duration = Duration::from_millis(50);

/// Completes task tokens and classifies the result.
///
/// The SDK client is built on the first call, not with this value: building
/// one parses the SDK's endpoint partition table (every region, with a regex
/// per partition), about 0.2 ms that `make bench` saw in every cold start, and
/// an invocation that makes no call (an invalid message) never needs it. Clones
/// share the one SDK client and its connection pool.
#[derive(Debug, Clone)]
pub struct CallbackClient {
    sfn: ClientOnFirstUse<aws_sdk_sfn::Client>,
    settings: RetrySettings,
}

impl CallbackClient {
    /// Builds the client from the standard AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`, profiles), with our retry and timeout settings.
    pub async fn from_env(settings: RetrySettings) -> Self {
        Self::from_sdk_config(&crate::aws::sdk_config().await, settings)
    }

    /// Builds the client from a loaded SDK config, with our retry and timeout
    /// settings and [`ThrottlingClassifier`]. Without an HTTP client in
    /// `sdk_config`, it uses [`crate::aws::https_client`] (the SDK's default
    /// client, with its root certificates loaded on the first call rather than
    /// now: compiled-in roots in Lambda, the OS trust store elsewhere).
    pub fn from_sdk_config(sdk_config: &SdkConfig, settings: RetrySettings) -> Self {
        let mut builder = SfnConfigBuilder::from(sdk_config);
        if sdk_config.http_client().is_none() {
            builder = builder.http_client(crate::aws::https_client());
        }
        let config = builder
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(Duration::from_millis(100))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .retry_classifier(ThrottlingClassifier)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .build(),
            )
            .build();
        Self {
            sfn: ClientOnFirstUse::new(move || aws_sdk_sfn::Client::from_conf(config.clone())),
            settings,
        }
    }

    /// Wraps an existing SDK client; its own retry and timeout config is kept
    /// (add [`ThrottlingClassifier`] to it to retry KMS throttling).
    pub fn from_client(sfn: aws_sdk_sfn::Client, settings: RetrySettings) -> Self {
        Self {
            sfn: ClientOnFirstUse::ready(sfn),
            settings,
        }
    }

    /// The retry and deadline settings in force.
    pub fn settings(&self) -> RetrySettings {
        self.settings
    }

    /// The SDK client, for callers that need other Step Functions calls.
    pub fn sfn(&self) -> &aws_sdk_sfn::Client {
        self.sfn.get()
    }

    /// Sends `completion` for `token` and classifies what happened. A success
    /// whose output Step Functions refuses fails the task instead (see
    /// [`RefusedOutput::FailTask`]).
    pub async fn complete(
        &self,
        token: &TaskToken,
        completion: Completion,
        deadline: Deadline,
    ) -> Outcome {
        self.complete_with(token, completion, deadline, RefusedOutput::FailTask)
            .await
    }

    /// Sends `completion` for `token`, choosing what a refused success output leads to.
    pub async fn complete_with(
        &self,
        token: &TaskToken,
        completion: Completion,
        deadline: Deadline,
        on_refused_output: RefusedOutput,
    ) -> Outcome {
        match completion {
            Completion::Success { output } => {
                let call = self
                    .sfn()
                    .send_task_success()
                    .task_token(token.expose())
                    .output(output);
                let budget = self.budget(deadline)?;
                match call.customize().config_override(budget).send().await {
                    Ok(_) => Ok(Done::Completed),
                    Err(err) => match refused_output(&err) {
                        // Our checks passed it but Step Functions did not: fail the
                        // task as for an oversize output, so the execution does not hang.
                        Some(cause) if on_refused_output == RefusedOutput::FailTask => {
                            let error = Some(INVALID_OUTPUT_ERROR.to_owned());
                            self.fail(token, error, Some(cause), deadline, Done::OutputRejected)
                                .await
                        }
                        _ => completion_refused(&err),
                    },
                }
            }
            Completion::Failure { error, cause } => {
                self.fail(token, error, cause, deadline, Done::Completed)
                    .await
            }
            Completion::OutputRejected { cause } => {
                let error = Some(INVALID_OUTPUT_ERROR.to_owned());
                self.fail(token, error, Some(cause), deadline, Done::OutputRejected)
                    .await
            }
            Completion::Heartbeat => {
                let call = self.sfn().send_task_heartbeat().task_token(token.expose());
                let budget = self.budget(deadline)?;
                match call.customize().config_override(budget).send().await {
                    Ok(_) => Ok(Done::Completed),
                    Err(err) => completion_refused(&err),
                }
            }
        }
    }

    /// SendTaskFailure; if KMS refuses to encrypt the details, fails the task once
    /// more without them, which needs no KMS, so the execution does not hang.
    async fn fail(
        &self,
        token: &TaskToken,
        error: Option<String>,
        cause: Option<String>,
        deadline: Deadline,
        done: Done,
    ) -> Outcome {
        let call = self
            .sfn()
            .send_task_failure()
            .task_token(token.expose())
            .set_error(error)
            .set_cause(cause);
        let budget = self.budget(deadline)?;
        let Err(err) = call.customize().config_override(budget).send().await else {
            return Ok(done);
        };
        let refused_by_kms = err
            .as_service_error()
            .and_then(ProvideErrorMetadata::code)
            .is_some_and(|code| KMS_REFUSED.contains(&code));
        if !refused_by_kms {
            return completion_refused(&err);
        }
        tracing::warn!(token = %token, "KMS refused the failure details; failing the task without them");
        let bare = self.sfn().send_task_failure().task_token(token.expose());
        let budget = self.budget(deadline)?;
        match bare.customize().config_override(budget).send().await {
            Ok(_) => Ok(Done::FailedWithoutDetails),
            Err(err) => completion_refused(&err),
        }
    }

    /// The per-call config: total time capped by the deadline, or `OutOfTime`.
    fn budget(&self, deadline: Deadline) -> Result<SfnConfigBuilder, CallbackError> {
        let Some(remaining) = deadline.remaining(self.settings.deadline_margin) else {
            // No override at all: an empty timeout override would switch every
            // timeout of the client off (the SDK reads it as "disabled").
            return Ok(SfnConfigBuilder::default());
        };
        if remaining < MIN_CALL_BUDGET {
            return Err(CallbackError::OutOfTime);
        }
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(remaining)
            .build();
        Ok(SfnConfigBuilder::default().timeout_config(timeouts))
    }
}

/// Longest part of Step Functions' own message kept in the failure's cause.
const MAX_REFUSAL_MESSAGE_CHARS: usize = 1_000;

/// When Step Functions refused a success's output (`InvalidOutput`), the cause to
/// fail the task with: its message, which describes the output, never the token.
fn refused_output<E: ProvideErrorMetadata>(
    err: &aws_sdk_sfn::error::SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
) -> Option<String> {
    let service = err.as_service_error()?;
    if service.code() != Some("InvalidOutput") {
        return None;
    }
    let message: String = service
        .message()
        .unwrap_or("no message")
        .chars()
        .take(MAX_REFUSAL_MESSAGE_CHARS)
        .collect();
    Some(format!(
        "Step Functions refused the output (InvalidOutput): {message}"
    ))
}
