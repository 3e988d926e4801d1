//! Typed settings, read once at cold start. A bad value fails init with an
//! error that names the variable.

use std::str::FromStr;
use std::time::Duration;

use crate::client::RetrySettings;

/// Settings of the callback functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Records of one batch in flight at once (`MAX_CONCURRENCY`, default 10).
    pub max_concurrency: usize,
    /// Retry and deadline settings of the Step Functions client.
    pub retry: RetrySettings,
}

/// A setting that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is {value:?}: {expected}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// The value found (empty when the variable is not set).
    pub value: String,
    /// What the variable must hold.
    pub expected: String,
}

impl Config {
    /// Reads the settings through `lookup`, so tests need no real environment.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let defaults = RetrySettings::default();
        Ok(Self {
            max_concurrency: max_concurrency(&lookup)?,
            retry: RetrySettings {
                max_attempts: setting(&lookup, "SFN_MAX_ATTEMPTS", defaults.max_attempts, 1..=20)?,
                attempt_timeout: millis(
                    &lookup,
                    "SFN_ATTEMPT_TIMEOUT_MS",
                    defaults.attempt_timeout,
                    100..=60_000,
                )?,
                deadline_margin: millis(
                    &lookup,
                    "DEADLINE_MARGIN_MS",
                    defaults.deadline_margin,
                    0..=60_000,
                )?,
            },
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Settings of the worker adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Time between heartbeats while the work runs; `None` sends none. Use about
    /// a third of the task's `HeartbeatSeconds`, so one lost heartbeat is survived.
    pub heartbeat_interval: Option<Duration>,
    /// Records of one batch worked on at once.
    pub max_concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval: Some(Duration::from_mins(1)),
            max_concurrency: 10,
        }
    }
}

impl WorkerSettings {
    /// Reads the settings through `lookup`.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            heartbeat_interval: heartbeat_interval(&lookup)?,
            max_concurrency: max_concurrency(&lookup)?,
        })
    }

    /// Reads `HEARTBEAT_INTERVAL_SECONDS` (default 60; 0 sends no heartbeats) and
    /// `MAX_CONCURRENCY` (default 10) from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The worker's default name, when neither `WORKER_NAME` nor a host name is found.
const DEFAULT_WORKER_NAME: &str = "sfn-callback-activity-worker";

/// The longest `workerName` GetActivityTask takes.
const MAX_WORKER_NAME_CHARS: usize = 80;

/// Settings of an activity worker.
#[derive(Debug, Clone)]
pub struct ActivitySettings {
    /// The activity to poll (`ACTIVITY_ARN`).
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
        let worker_name = [lookup("WORKER_NAME"), host_name(), lookup("HOSTNAME")]
            .into_iter()
            .flatten()
            .map(|name| name.trim().to_owned())
            .find(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_WORKER_NAME.to_owned());
        if worker_name.chars().count() > MAX_WORKER_NAME_CHARS {
            return Err(ConfigError {
                name: "WORKER_NAME",
                value: worker_name,
                expected: format!(
                    "at most {MAX_WORKER_NAME_CHARS} characters (GetActivityTask's limit)"
                ),
            });
        }
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

/// The host's name, as the kernel knows it. (`$HOSTNAME` is a shell variable:
/// systemd and most container runtimes do not set it.)
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok()
}

/// Records of one batch in flight at once: `MAX_CONCURRENCY`, default 10.
pub(crate) fn max_concurrency(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<usize, ConfigError> {
    setting(lookup, "MAX_CONCURRENCY", 10, 1..=1000)
}

/// Time between a worker's heartbeats: `HEARTBEAT_INTERVAL_SECONDS`, default
/// 60; 0 sends none.
pub(crate) fn heartbeat_interval(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    let seconds = setting(lookup, "HEARTBEAT_INTERVAL_SECONDS", 60, 0..=86_400)?;
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

/// One required text setting, trimmed (empty when unset), that `check`
/// accepts; an error names the variable and says it expected `what`, and why
/// `check` refused the value.
pub fn checked_text<E: std::fmt::Display>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    what: &str,
    check: impl Fn(&str) -> Result<(), E>,
) -> Result<String, ConfigError> {
    let value = lookup(name).unwrap_or_default().trim().to_owned();
    match check(&value) {
        Ok(()) => Ok(value),
        Err(reason) => Err(ConfigError {
            name,
            value,
            expected: format!("expected {what} ({reason})"),
        }),
    }
}

/// One whole-number setting within `range`, or its default when unset or
/// empty; an error names the variable.
pub fn setting<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    let expected = || {
        format!(
            "expected a whole number from {} to {}",
            range.start(),
            range.end()
        )
    };
    match value.trim().parse::<T>() {
        Ok(parsed) if range.contains(&parsed) => Ok(parsed),
        _ => Err(ConfigError {
            name,
            value,
            expected: expected(),
        }),
    }
}

fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    setting(lookup, name, default_ms, range).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use sfn_callback_test_support::vars_lookup;

    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_lookup(vars_lookup(&[])).unwrap();
        assert_eq!(config.max_concurrency, 10);
        assert_eq!(config.retry, RetrySettings::default());
    }

    #[test]
    fn values_are_read() {
        let config = Config::from_lookup(vars_lookup(&[
            ("MAX_CONCURRENCY", "4"),
            ("DEADLINE_MARGIN_MS", "750"),
        ]))
        .unwrap();
        assert_eq!(config.max_concurrency, 4);
        assert_eq!(config.retry.deadline_margin, Duration::from_millis(750));
    }

    #[test]
    fn bad_value_names_the_variable() {
        let err = Config::from_lookup(vars_lookup(&[("MAX_CONCURRENCY", "lots")])).unwrap_err();
        assert_eq!(err.name, "MAX_CONCURRENCY");
        assert_eq!(
            err.to_string(),
            "environment variable MAX_CONCURRENCY is \"lots\": expected a whole number from 1 to 1000"
        );
    }

    #[test]
    fn out_of_range_value_is_refused() {
        assert_eq!(
            Config::from_lookup(vars_lookup(&[("MAX_CONCURRENCY", "0")]))
                .unwrap_err()
                .name,
            "MAX_CONCURRENCY"
        );
        assert_eq!(
            Config::from_lookup(vars_lookup(&[("SFN_MAX_ATTEMPTS", "99")]))
                .unwrap_err()
                .name,
            "SFN_MAX_ATTEMPTS"
        );
    }
}
