//! Where the link keys come from, decided from the environment: the
//! Secrets Manager secret (`LINK_KEY_SECRET_ARN`, read again every
//! `LINK_KEY_REFRESH_SECONDS`), or for local use the key itself (`LINK_KEY`).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use sfn_callback::config::{ConfigError, setting};

use super::key::{KeyError, LinkKey, LinkKeys};
use super::secret::read_secret;
use super::store::{DEFAULT_REFRESH, KeyStore, REFRESH_SECONDS_VAR};

/// The Secrets Manager secret that holds the keys (the way to run in AWS).
pub(crate) const SECRET_ARN_VAR: &str = "LINK_KEY_SECRET_ARN";
/// The key itself, as base64 (for local use only).
pub(crate) const INLINE_KEY_VAR: &str = "LINK_KEY";

/// A key setting that cannot be used, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySettingError {
    /// Neither `LINK_KEY_SECRET_ARN` nor `LINK_KEY` is set.
    #[error(
        "no link key: set {SECRET_ARN_VAR} to the Secrets Manager secret that holds the keys \
         (or, for local use only, {INLINE_KEY_VAR} to a base64 key)"
    )]
    Missing,
    /// The variable is set, but no usable keys come of it.
    #[error("environment variable {variable}: the link key {reason}")]
    Unusable {
        /// The environment variable.
        variable: &'static str,
        /// Why its key, or the secret it names, is unusable.
        reason: KeyError,
    },
    /// `LINK_KEY_REFRESH_SECONDS` is not a number of seconds from 1 to 86,400.
    #[error(transparent)]
    Setting(#[from] ConfigError),
}

/// Where the keys come from, decided from the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `LINK_KEY_SECRET_ARN`: read the secret at cold start, and again every
    /// `refresh_every` (`LINK_KEY_REFRESH_SECONDS`).
    SecretsManager {
        /// The secret's ARN (or name).
        secret_id: String,
        /// How often a warm function reads it again.
        refresh_every: Duration,
    },
    /// `LINK_KEY`: the key itself, for local use only.
    Inline(LinkKeys),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager {
                secret_id,
                refresh_every,
            } => f
                .debug_struct("SecretsManager")
                .field("secret_id", secret_id)
                .field("refresh_every", refresh_every)
                .finish(),
            Self::Inline(keys) => f.debug_tuple("Inline").field(keys).finish(),
        }
    }
}

impl KeySource {
    /// Reads `LINK_KEY_SECRET_ARN` (with `LINK_KEY_REFRESH_SECONDS`), else
    /// `LINK_KEY`, from the process environment.
    pub fn from_env() -> Result<Self, KeySettingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the key settings through `lookup`. The secret wins when both are set.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, KeySettingError> {
        let set = |name| lookup(name).filter(|value: &String| !value.trim().is_empty());
        if let Some(secret_id) = set(SECRET_ARN_VAR) {
            if set(INLINE_KEY_VAR).is_some() {
                tracing::warn!("{INLINE_KEY_VAR} is ignored because {SECRET_ARN_VAR} is set");
            }
            let refresh_seconds = setting(
                &lookup,
                REFRESH_SECONDS_VAR,
                DEFAULT_REFRESH.as_secs(),
                1..=86_400,
            )?;
            return Ok(Self::SecretsManager {
                secret_id: secret_id.trim().to_owned(),
                refresh_every: Duration::from_secs(refresh_seconds),
            });
        }
        let Some(inline) = set(INLINE_KEY_VAR) else {
            return Err(KeySettingError::Missing);
        };
        let key = LinkKey::from_base64(&inline).map_err(|reason| KeySettingError::Unusable {
            variable: INLINE_KEY_VAR,
            reason,
        })?;
        tracing::warn!(
            key_id = %key.id(),
            "the link key comes from {INLINE_KEY_VAR}: for local use only; in AWS set {SECRET_ARN_VAR}"
        );
        Ok(Self::Inline(LinkKeys::single(key)))
    }

    /// The keys: as given, or read from Secrets Manager once (for a
    /// short-lived process such as the CLI).
    pub async fn load(self, sdk_config: &SdkConfig) -> Result<LinkKeys, KeySettingError> {
        match self {
            Self::Inline(keys) => Ok(keys),
            Self::SecretsManager { secret_id, .. } => {
                let client = aws_sdk_secretsmanager::Client::new(sdk_config);
                read_at_start(&client, &secret_id).await
            }
        }
    }

    /// The keys for a function that stays warm: as given, or read from
    /// Secrets Manager now and again whenever they are older than the refresh
    /// interval. Fails if the first read fails.
    pub(crate) async fn into_store(
        self,
        sdk_config: &SdkConfig,
    ) -> Result<KeyStore, KeySettingError> {
        match self {
            Self::Inline(keys) => Ok(KeyStore::fixed(keys)),
            Self::SecretsManager {
                secret_id,
                refresh_every,
            } => {
                let client = aws_sdk_secretsmanager::Client::new(sdk_config);
                let keys = read_at_start(&client, &secret_id).await?;
                Ok(KeyStore::from_secret(
                    client,
                    secret_id,
                    keys,
                    SystemTime::now(),
                    refresh_every,
                ))
            }
        }
    }
}

/// The first read of the secret: a failure names the variable, and fails Init.
async fn read_at_start(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<LinkKeys, KeySettingError> {
    let keys =
        read_secret(client, secret_id)
            .await
            .map_err(|reason| KeySettingError::Unusable {
                variable: SECRET_ARN_VAR,
                reason,
            })?;
    tracing::info!(
        current = %keys.current.id(),
        previous = keys.previous.as_ref().map(|key| tracing::field::display(key.id())),
        "link keys loaded"
    );
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use sfn_callback_test_support::vars_lookup as lookup;

    use super::*;
    use crate::link::test_keys::{KEY_A, KEY_B};

    #[test]
    fn debug_output_shows_only_the_key_id() {
        let keys = LinkKeys::from_secret_json(&format!(
            r#"{{"current": "{KEY_A}", "previous": "{KEY_B}"}}"#
        ))
        .unwrap();
        let shown = format!("{keys:?} {:?}", KeySource::Inline(keys.clone()));
        assert!(shown.contains(&keys.current.id().to_string()), "{shown}");
        for secret in [KEY_A, KEY_B, "[0, 1, 2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn secret_arn_wins_over_inline_key() {
        let source = KeySource::from_lookup(lookup(&[
            (SECRET_ARN_VAR, "arn:x"),
            (INLINE_KEY_VAR, KEY_A),
        ]))
        .unwrap();
        assert_eq!(
            source,
            KeySource::SecretsManager {
                secret_id: "arn:x".into(),
                refresh_every: DEFAULT_REFRESH,
            }
        );
    }

    #[test]
    fn keys_are_read_again_every_300_seconds_unless_told_otherwise() {
        let refresh = |vars: &[(&str, &str)]| match KeySource::from_lookup(lookup(vars)) {
            Ok(KeySource::SecretsManager { refresh_every, .. }) => Ok(refresh_every),
            other => Err(format!("{other:?}")),
        };

        assert_eq!(
            refresh(&[(SECRET_ARN_VAR, "arn:x")]),
            Ok(Duration::from_mins(5))
        );
        assert_eq!(
            refresh(&[(SECRET_ARN_VAR, "arn:x"), (REFRESH_SECONDS_VAR, "1")]),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn refresh_interval_of_zero_or_over_a_day_names_the_variable() {
        for bad in ["0", "86401", "soon"] {
            let err = KeySource::from_lookup(lookup(&[
                (SECRET_ARN_VAR, "arn:x"),
                (REFRESH_SECONDS_VAR, bad),
            ]))
            .unwrap_err();
            assert!(err.to_string().contains(REFRESH_SECONDS_VAR), "{err}");
        }
    }

    #[test]
    fn inline_key_is_used_when_no_secret_is_named() {
        let source = KeySource::from_lookup(lookup(&[(INLINE_KEY_VAR, KEY_A)])).unwrap();
        assert_eq!(
            source,
            KeySource::Inline(LinkKeys::single(LinkKey::from_base64(KEY_A).unwrap()))
        );
    }

    #[test]
    fn no_key_setting_names_both_variables() {
        let err = KeySource::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains(SECRET_ARN_VAR), "{err}");
        assert!(err.to_string().contains(INLINE_KEY_VAR), "{err}");
    }

    #[test]
    fn bad_inline_key_names_the_variable_without_quoting_it() {
        let err = KeySource::from_lookup(lookup(&[(INLINE_KEY_VAR, "c2VjcmV0")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LINK_KEY: the link key decodes to 6 bytes; a link key is 32 bytes"
        );
    }
}
