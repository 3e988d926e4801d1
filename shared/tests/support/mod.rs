//! Test support shared by the replay tests: a real aws-sdk-sfn client whose
//! HTTP layer is a test double.

#![allow(dead_code, reason = "each test file uses its own part")]

use std::time::Duration;

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, HttpClient, Region};
use sfn_callback::{CallbackClient, RetrySettings, TaskToken};

/// Shaped like a real token: `+`, `/` and `=` must reach Step Functions unchanged.
pub const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";
/// Attempts per call of the SDK client built by [`callback_client`].
pub const MAX_ATTEMPTS: u32 = 3;

pub const SUCCESS: &str = "AWSStepFunctions.SendTaskSuccess";
pub const FAILURE: &str = "AWSStepFunctions.SendTaskFailure";
pub const HEARTBEAT: &str = "AWSStepFunctions.SendTaskHeartbeat";

pub fn token() -> TaskToken {
    TaskToken::new(TOKEN).expect("TOKEN is a valid token")
}

/// The SDK client over `http`, with fast retries.
pub fn sdk_client(http: impl HttpClient + 'static) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .http_client(http)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

pub fn callback_client(http: impl HttpClient + 'static) -> CallbackClient {
    CallbackClient::from_client(sdk_client(http), RetrySettings::default())
}
