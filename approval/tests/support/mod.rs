//! Test support of the approval crate's replay tests: the core's Step
//! Functions double (one place for both crates), and link keys that can no
//! longer be trusted.

#![allow(dead_code, reason = "each test file uses its own part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::{Duration, SystemTime};

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use sfn_callback_approval::link::store::STALE_GRACE;
use sfn_callback_approval::link::{KeyStore, LinkKeys};

/// The core's replay support: the Step Functions double, its answers and what
/// it was sent.
#[path = "../../../shared/tests/support/mod.rs"]
pub mod sfn;

/// `keys`, read from the secret longer ago than the refresh interval and the
/// grace together, with Secrets Manager failing every read since: a request
/// gets `KeysUnavailable`.
pub fn untrusted_key_store(keys: LinkKeys) -> KeyStore {
    let failing = (0..4)
        .map(|_| {
            ReplayEvent::new(
                http::Request::builder()
                    .uri("https://secretsmanager.us-east-1.amazonaws.com/")
                    .body(SdkBody::empty())
                    .unwrap(),
                http::Response::builder()
                    .status(500)
                    .header("content-type", "application/x-amz-json-1.1")
                    .body(SdkBody::from(
                        r#"{"__type": "InternalServiceError", "message": "replayed"}"#,
                    ))
                    .unwrap(),
            )
        })
        .collect();
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .http_client(StaticReplayClient::new(failing))
        .build();
    let refresh = Duration::from_mins(5);
    let read_at = SystemTime::now() - refresh - STALE_GRACE - Duration::from_mins(1);
    KeyStore::from_secret(
        aws_sdk_secretsmanager::Client::from_conf(config),
        "links".to_owned(),
        keys,
        read_at,
        refresh,
    )
}
