//! Test support of the approval crate's replay tests: the core's Step
//! Functions double (one place for both crates), and link keys that can no
//! longer be trusted.

#![allow(dead_code, unused_imports, reason = "each test file uses its own part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::{Duration, SystemTime};

use aws_smithy_http_client::test_util::StaticReplayClient;
use sfn_callback_approval::link::store::STALE_GRACE;
use sfn_callback_approval::link::{KeyStore, LinkKeys};

/// The core's replay support: the Step Functions double, its answers and what
/// it was sent.
pub use sfn_callback_test_support as sfn;

/// The Secrets Manager double of the key modules' unit tests.
#[path = "../../src/link/test_secrets_manager.rs"]
pub mod secrets_manager;

/// `keys`, read from the secret longer ago than the refresh interval and the
/// grace together, with Secrets Manager failing every read since: a request
/// gets `KeysUnavailable`.
pub fn untrusted_key_store(keys: LinkKeys) -> KeyStore {
    let failing = (0..4)
        .map(|_| {
            secrets_manager::answer(
                500,
                r#"{"__type": "InternalServiceError", "message": "replayed"}"#,
            )
        })
        .collect();
    let client = secrets_manager::client(&StaticReplayClient::new(failing));
    let refresh = Duration::from_mins(5);
    let read_at = SystemTime::now() - refresh - STALE_GRACE - Duration::from_mins(1);
    KeyStore::from_secret(client, "links".to_owned(), keys, read_at, refresh)
}

/// The DynamoDB double of recorded mode's replay tests.
pub mod table;
