//! Log setup for the functions: Lambda's log level and format controls, with
//! the raw-event trace of `lambda_runtime` switched off, because the raw event
//! holds task tokens.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The runtime logs every raw event at TRACE under this target.
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response=debug";

/// Initialises tracing as `lambda_runtime::tracing::init_default_subscriber` does
/// (`AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default INFO; JSON when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), except that raw events are never logged.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    if let Ok(directive) = RAW_EVENT_TARGET.parse() {
        filter = filter.add_directive(directive);
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
