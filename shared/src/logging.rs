//! Log setup for the functions: Lambda's log level and format controls, with
//! the TRACE output of the runtime and of the AWS SDK switched off, because
//! it can hold task tokens, sealed links and link keys.

use tracing::{Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets (by prefix) that never log above DEBUG, whatever
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` ask for, because at TRACE they print
/// what holds secrets: the runtime logs every raw event (tokens, sealed
/// links), and the SDK crates (`aws_smithy_runtime`, `aws_sigv4`,
/// `aws_sdk_*`, ...) log requests and answers, with their bodies once
/// `LOG_SENSITIVE_BODIES=true` or `LOG_SIGNABLE_BODY=true` is set (the
/// link-key secret among them). Whether a body prints as an opaque type is
/// the SDK's detail, so none of it is left to chance.
const CAPPED_TARGETS: &[(&str, Level)] = &[
    ("lambda_runtime::layers::api_response", Level::DEBUG),
    ("aws_", Level::DEBUG),
];

/// What the log setup reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` read as a level; INFO when neither is one.
    pub(crate) level: LevelFilter,
    /// `RUST_LOG` read as per-target directives, e.g. `aws_smithy_runtime=trace`.
    pub(crate) directives: String,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub(crate) json: bool,
}

impl LogSettings {
    /// Reads the settings from the process environment.
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need no real environment.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let level = lookup("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|| lookup("RUST_LOG"))
            .and_then(|level| level.parse::<LevelFilter>().ok())
            .unwrap_or(LevelFilter::INFO);
        Self {
            level,
            directives: lookup("RUST_LOG").unwrap_or_default(),
            json: lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

/// Initialises tracing as `lambda_runtime::tracing::init_default_subscriber` does
/// (`AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default INFO; JSON when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), except that the runtime's raw events and
/// the AWS SDK (`aws_*` targets) never log at TRACE: they can hold secrets.
pub fn init() {
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = subscriber(&LogSettings::from_env(), std::io::stdout).try_init();
}

/// The subscriber [`init`] installs, writing to `writer`.
pub(crate) fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(settings.level.into())
        .parse_lossy(&settings.directives);
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_writer(writer)
        .with_env_filter(filter);
    // A layer of its own, not more directives: a more specific `RUST_LOG`
    // directive (`aws_smithy_runtime=trace`) would win over one of ours.
    if settings.json {
        Box::new(builder.json().finish().with(caps()))
    } else {
        Box::new(builder.finish().with(caps()))
    }
}

/// Lets everything through except the [`CAPPED_TARGETS`] above their level.
fn caps() -> Targets {
    CAPPED_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, (target, level)| caps.with_target(*target, *level),
    )
}

#[cfg(test)]
mod tests {
    use sfn_callback_test_support::{Captured, vars_lookup};

    use super::*;

    /// What the subscriber writes of TRACE and DEBUG events of AWS targets and ours.
    fn logged(settings: &LogSettings) -> String {
        let captured = Captured::default();
        let subscriber = subscriber(settings, captured.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "AWS-RUNTIME-TRACE");
            tracing::trace!(target: "aws_sdk_secretsmanager::operation", "AWS-SDK-TRACE");
            tracing::trace!(target: "aws_sigv4::http_request", "AWS-SIGV4-TRACE");
            tracing::trace!(target: "aws_config::imds", "AWS-CONFIG-TRACE");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "AWS-RUNTIME-DEBUG");
            tracing::trace!(target: "lambda_runtime::layers::api_response", "RAW-EVENT-TRACE");
            tracing::trace!(target: "sfn_callback::respond", "OWN-TRACE");
        });
        captured.text()
    }

    /// The DEBUG event of an AWS target got through; none of the TRACE events
    /// of AWS targets or of the runtime's raw events did.
    fn assert_aws_and_raw_events_capped_at_debug(text: &str) {
        assert!(text.contains("AWS-RUNTIME-DEBUG"), "{text}");
        for capped in [
            "AWS-RUNTIME-TRACE",
            "AWS-SDK-TRACE",
            "AWS-SIGV4-TRACE",
            "AWS-CONFIG-TRACE",
            "RAW-EVENT-TRACE",
        ] {
            assert!(!text.contains(capped), "{capped} in {text}");
        }
    }

    fn settings(directives: &str) -> LogSettings {
        LogSettings {
            level: LevelFilter::TRACE,
            directives: directives.to_owned(),
            json: true,
        }
    }

    #[test]
    fn aws_targets_log_at_most_debug_at_trace() {
        let text = logged(&settings(""));

        assert!(text.contains("OWN-TRACE"), "{text}");
        assert_aws_and_raw_events_capped_at_debug(&text);
    }

    #[test]
    fn aws_targets_log_at_most_debug_even_when_rust_log_names_them_at_trace() {
        let text = logged(&settings(
            "aws_smithy_runtime=trace,aws_sdk_secretsmanager::operation=trace,aws_sigv4=trace,\
             lambda_runtime::layers::api_response=trace",
        ));

        assert_aws_and_raw_events_capped_at_debug(&text);
    }

    #[test]
    fn settings_follow_lambdas_log_controls() {
        let vars = [
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("AWS_LAMBDA_LOG_FORMAT", "json"),
            ("RUST_LOG", "hyper=debug"),
        ];
        let settings = LogSettings::from_lookup(vars_lookup(&vars));
        assert_eq!(
            settings,
            LogSettings {
                level: LevelFilter::TRACE,
                directives: "hyper=debug".into(),
                json: true,
            }
        );
    }
}
