//! Approval links: the keys they are sealed with, and sealing and opening them.
//!
//! | module | job |
//! |---|---|
//! | [`key`] | key material: a key, its id, the current and previous keys |
//! | `secret` (internal) | the Secrets Manager secret: its JSON value ([`LinkKeys::to_secret_json`]) and reading it |
//! | [`source`] | where the keys come from, from the environment |
//! | [`store`] | the keys a warm function holds, read again on an interval |
//! | [`seal`](mod@seal) | sealing and opening links |

pub mod key;
pub mod seal;
mod secret;
pub mod source;
pub mod store;

pub use key::{KeyError, KeyId, LinkKey, LinkKeys};
pub(crate) use seal::MAX_SEALED_CHARS;
pub use seal::{
    Action, LinkData, OpenError, SEAL_BUDGET_CHARS, SealError, SealedLink, open, seal, seal_with,
};
pub use source::{KeySettingError, KeySource};
pub use store::{KeyStore, KeysUnavailable};

/// Two keys as base64, for the tests of the key modules.
#[cfg(test)]
pub(crate) mod test_keys {
    pub const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    pub const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
}

/// A Secrets Manager double for the tests of the key modules: replayed
/// answers and a client that reads them without retrying.
#[cfg(test)]
pub(crate) mod test_secrets_manager {
    use aws_sdk_secretsmanager::config::retry::RetryConfig;
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    /// A replayed Secrets Manager answer: `status` with the JSON `body`.
    pub fn answer(status: u16, body: &str) -> ReplayEvent {
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://secretsmanager.us-east-1.amazonaws.com/")
                .body(SdkBody::empty())
                .unwrap(),
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(SdkBody::from(body.to_owned()))
                .unwrap(),
        )
    }

    /// A client whose calls get the answers of `replay`, in order.
    pub fn client(replay: &StaticReplayClient) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .http_client(replay.clone())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}
