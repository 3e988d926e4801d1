//! Log setup for the functions: Lambda's log level and format controls, with
//! the raw-event trace of `lambda_runtime` switched off, because the raw event
//! holds task tokens.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Targets capped below TRACE because, at TRACE, they print what holds tokens:
/// the runtime logs every raw event, and the SDK's signer logs request bodies
/// when `LOG_SIGNABLE_BODY=true`.
const SECRET_BEARING_TARGETS: &[&str] = &[
    "lambda_runtime::layers::api_response=debug",
    "aws_sigv4=debug",
];

/// Initialises tracing as `lambda_runtime::tracing::init_default_subscriber` does
/// (`AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default INFO; JSON when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), except that raw events and signed request
/// bodies are never logged.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    for target in SECRET_BEARING_TARGETS {
        if let Ok(directive) = target.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
