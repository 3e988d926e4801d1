//! The link keys a warm function holds, read again from the secret every
//! `LINK_KEY_REFRESH_SECONDS` (default 300), so that a rotation reaches every
//! warm instance: the notifier seals with the new `current` key, and a key
//! removed from the secret stops opening links.
//!
//! - A request reads the secret only when the keys are older than the refresh
//!   interval; every other request uses the keys in memory.
//! - A failed read keeps the last good keys working for at most
//!   [`STALE_GRACE`] past the refresh interval, logging each failure, and the
//!   next read waits a while, so an outage does not add a call to every
//!   request. Past the grace the keys are refused ([`KeysUnavailable`]) rather
//!   than trusted: approval-http answers "try again in a minute" and the
//!   notifier fails transiently, to be retried.
//! - A successful read replaces the keys whole: a key no longer in the secret
//!   no longer opens anything.
//!
//! Key ages are measured on the wall clock: it keeps counting while Lambda
//! freezes a function between invocations. Should it be set back, the keys
//! are read again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;

use super::key::{KeyError, LinkKeys};
use super::secret::read_secret;

/// Seconds between reads of the link-key secret.
pub(crate) const REFRESH_SECONDS_VAR: &str = "LINK_KEY_REFRESH_SECONDS";
/// The refresh interval when `LINK_KEY_REFRESH_SECONDS` is not set.
pub(crate) const DEFAULT_REFRESH: Duration = Duration::from_mins(5);
/// How long past the refresh interval the last good keys stay in use while
/// the secret cannot be read.
pub const STALE_GRACE: Duration = Duration::from_mins(15);
/// The longest wait before reading the secret again after a failed read.
const RETRY_AFTER_AT_MOST: Duration = Duration::from_secs(30);
/// A read that takes longer counts as failed: the request waiting on it
/// should get its page well within the function's timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// The link keys a warm function holds, read again from the secret on an
/// interval as the module docs describe. Give it to
/// [`ApprovalHttp::with_key_store`](crate::ApprovalHttp::with_key_store) or
/// [`ApprovalNotifier::with_key_store`](crate::ApprovalNotifier::with_key_store).
#[derive(Debug)]
pub struct KeyStore {
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// `LINK_KEY` (or a test's keys): never read again.
    Fixed(Arc<LinkKeys>),
    Secret {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        refresh_every: Duration,
        state: Mutex<State>,
    },
}

#[derive(Debug)]
struct State {
    keys: Arc<LinkKeys>,
    /// When `keys` were read.
    read_at: SystemTime,
    /// When the secret is read next.
    next_read: SystemTime,
    /// Why the last read failed, while reads fail.
    failure: Option<KeyError>,
}

/// The secret could not be read for longer than the keys may be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the link keys were last read {age_seconds} s ago and cannot be read again ({reason}); \
     they are trusted for at most {limit_seconds} s"
)]
pub struct KeysUnavailable {
    pub(crate) age_seconds: u64,
    pub(crate) limit_seconds: u64,
    pub(crate) reason: KeyError,
}

impl KeyStore {
    /// Keys that never change: `LINK_KEY`, or a test's.
    pub fn fixed(keys: LinkKeys) -> Self {
        Self {
            source: Source::Fixed(Arc::new(keys)),
        }
    }

    /// Keys just read from `secret_id` at `read_at`, read again every
    /// `refresh_every`.
    pub fn from_secret(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        keys: LinkKeys,
        read_at: SystemTime,
        refresh_every: Duration,
    ) -> Self {
        Self {
            source: Source::Secret {
                client,
                secret_id,
                refresh_every,
                state: Mutex::new(State {
                    keys: Arc::new(keys),
                    read_at,
                    next_read: read_at + refresh_every,
                    failure: None,
                }),
            },
        }
    }

    /// The keys to seal and open links with now.
    pub(crate) async fn keys(&self) -> Result<Arc<LinkKeys>, KeysUnavailable> {
        self.keys_at(SystemTime::now()).await
    }

    /// The keys to use at `now`, read again from the secret if they are due.
    /// Concurrent callers wait for one read rather than each making one.
    pub(crate) async fn keys_at(&self, now: SystemTime) -> Result<Arc<LinkKeys>, KeysUnavailable> {
        let (client, secret_id, refresh_every, state) = match &self.source {
            Source::Fixed(keys) => return Ok(Arc::clone(keys)),
            Source::Secret {
                client,
                secret_id,
                refresh_every,
                state,
            } => (client, secret_id, *refresh_every, state),
        };
        let mut state = state.lock().await;
        // A clock set back would otherwise put off the next read by as much.
        if now >= state.next_read || now < state.read_at {
            let read = tokio::time::timeout(READ_TIMEOUT, read_secret(client, secret_id)).await;
            let read = read.unwrap_or_else(|_| {
                Err(KeyError::SecretsManager {
                    code: "timed out".to_owned(),
                })
            });
            state.reread(read, now, refresh_every);
        }
        let age = now.duration_since(state.read_at).unwrap_or_default();
        let limit = refresh_every + STALE_GRACE;
        if age > limit {
            return Err(KeysUnavailable {
                age_seconds: age.as_secs(),
                limit_seconds: limit.as_secs(),
                reason: state.failure.clone().unwrap_or(KeyError::SecretsManager {
                    code: "no answer".to_owned(),
                }),
            });
        }
        Ok(Arc::clone(&state.keys))
    }
}

impl State {
    /// Takes in the result of reading the secret at `now`.
    fn reread(
        &mut self,
        read: Result<LinkKeys, KeyError>,
        now: SystemTime,
        refresh_every: Duration,
    ) {
        match read {
            Ok(keys) => {
                if keys == *self.keys {
                    tracing::debug!(current = %keys.current.id(), "link keys read again, unchanged");
                } else {
                    tracing::info!(
                        current = %keys.current.id(),
                        previous = keys.previous.as_ref().map(|key| tracing::field::display(key.id())),
                        "link keys changed"
                    );
                }
                self.keys = Arc::new(keys);
                self.read_at = now;
                self.next_read = now + refresh_every;
                self.failure = None;
            }
            Err(err) => {
                let age = now.duration_since(self.read_at).unwrap_or_default();
                let trusted_for = (refresh_every + STALE_GRACE).saturating_sub(age);
                tracing::warn!(
                    error = %err,
                    age_seconds = age.as_secs(),
                    trusted_for_seconds = trusted_for.as_secs(),
                    "link keys could not be read again; the last good keys stay in use until they are too old"
                );
                self.next_read = now + refresh_every.min(RETRY_AFTER_AT_MOST);
                self.failure = Some(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use sfn_callback::token::TaskToken;

    use super::*;
    use crate::link::test_secrets_manager::{answer, client};
    use crate::link::{self, Action, LinkData, LinkKey, OpenError};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:links-AbCdEf";
    const REFRESH: Duration = Duration::from_mins(5);

    fn key(byte: u8) -> LinkKey {
        LinkKey::new([byte; 32])
    }

    fn start() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    fn secret_answer(keys: &LinkKeys) -> ReplayEvent {
        answer(
            200,
            &serde_json::json!({ "SecretString": keys.to_secret_json() }).to_string(),
        )
    }

    fn unavailable() -> ReplayEvent {
        answer(
            500,
            r#"{"__type": "InternalServiceError", "message": "replayed"}"#,
        )
    }

    /// A store read at [`start`] with `first`, whose later reads get `answers`.
    fn store(first: LinkKeys, answers: Vec<ReplayEvent>) -> (KeyStore, StaticReplayClient) {
        let replay = StaticReplayClient::new(answers);
        let store =
            KeyStore::from_secret(client(&replay), SECRET.to_owned(), first, start(), REFRESH);
        (store, replay)
    }

    fn sealed_with(key: LinkKey) -> String {
        let data = LinkData {
            token: TaskToken::new("AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==").unwrap(),
            action: Action::Approve,
            expires_at: 2_000_000_000,
            subject: None,
            summary: None,
        };
        link::seal(&LinkKeys::single(key), &data)
            .unwrap()
            .expose()
            .to_owned()
    }

    fn at(seconds: u64) -> SystemTime {
        start() + Duration::from_secs(seconds)
    }

    #[tokio::test]
    async fn requests_within_the_refresh_interval_make_no_secrets_manager_call() {
        let first = LinkKeys::single(key(1));
        let (store, replay) = store(first.clone(), vec![secret_answer(&first)]);

        for second in 0..300 {
            assert_eq!(*store.keys_at(at(second)).await.unwrap(), first);
        }

        assert_eq!(replay.actual_requests().count(), 0);
    }

    #[tokio::test]
    async fn keys_are_read_again_once_the_interval_has_passed_and_then_not_until_the_next() {
        let rotated = LinkKeys::new(key(2), Some(key(1)));
        let (store, replay) = store(LinkKeys::single(key(1)), vec![secret_answer(&rotated)]);

        let keys = store.keys_at(at(300)).await.unwrap();
        for second in 301..600 {
            store.keys_at(at(second)).await.unwrap();
        }

        assert_eq!(*keys, rotated);
        assert_eq!(replay.actual_requests().count(), 1);
    }

    #[tokio::test]
    async fn key_removed_from_the_secret_stops_opening_links_once_read_again() {
        let removed = sealed_with(key(1));
        let twice_rotated = LinkKeys::new(key(3), Some(key(2)));
        let (store, _) = store(
            LinkKeys::single(key(1)),
            vec![secret_answer(&twice_rotated)],
        );
        let before = store.keys_at(at(299)).await.unwrap();
        assert!(link::open(&before, &removed, 1_900_000_000).is_ok());

        let after = store.keys_at(at(300)).await.unwrap();

        assert_eq!(
            link::open(&after, &removed, 1_900_000_000),
            Err(OpenError::Tampered)
        );
    }

    #[tokio::test]
    async fn failed_read_keeps_the_last_good_keys_and_waits_before_trying_again() {
        let first = LinkKeys::single(key(1));
        let (store, replay) = store(first.clone(), vec![unavailable(), unavailable()]);

        let kept = store.keys_at(at(300)).await.unwrap();
        let still_kept = store.keys_at(at(329)).await.unwrap();
        assert_eq!(replay.actual_requests().count(), 1, "no call per request");
        store.keys_at(at(330)).await.unwrap();

        assert_eq!((*kept == first, *still_kept == first), (true, true));
        assert_eq!(replay.actual_requests().count(), 2);
    }

    #[tokio::test]
    async fn keys_past_the_interval_and_the_grace_are_refused_until_a_read_succeeds() {
        let rotated = LinkKeys::new(key(2), Some(key(1)));
        let limit = REFRESH + STALE_GRACE;
        let (store, _) = store(
            LinkKeys::single(key(1)),
            vec![unavailable(), unavailable(), secret_answer(&rotated)],
        );

        let last_trusted = store.keys_at(at(limit.as_secs())).await;
        let refused = store.keys_at(at(limit.as_secs() + 31)).await.unwrap_err();
        let recovered = store.keys_at(at(limit.as_secs() + 62)).await.unwrap();

        assert!(last_trusted.is_ok());
        assert_eq!(refused.age_seconds, limit.as_secs() + 31);
        assert_eq!(
            refused.reason,
            KeyError::SecretsManager {
                code: "InternalServiceError".into()
            }
        );
        assert_eq!(*recovered, rotated);
    }

    #[tokio::test]
    async fn keys_are_read_again_when_the_clock_is_set_back() {
        let rotated = LinkKeys::new(key(2), Some(key(1)));
        let (store, replay) = store(LinkKeys::single(key(1)), vec![secret_answer(&rotated)]);

        let keys = store
            .keys_at(start() - Duration::from_hours(1))
            .await
            .unwrap();

        assert_eq!(*keys, rotated);
        assert_eq!(replay.actual_requests().count(), 1);
    }

    #[tokio::test]
    async fn fixed_keys_are_never_read_again() {
        let store = KeyStore::fixed(LinkKeys::single(key(1)));

        let keys = store.keys_at(at(1_000_000)).await.unwrap();

        assert_eq!(*keys, LinkKeys::single(key(1)));
    }
}
