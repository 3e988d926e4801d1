//! The link keys: 32-byte XChaCha20-Poly1305 keys, loaded at cold start (and
//! read again on an interval by the [`KeyStore`]), with a `previous` key so
//! that rotation does not break links already sent.
//!
//! A key never appears in `Debug` output or in an error message: only its id,
//! the first 4 bytes of its SHA-256, which is also what a sealed link names.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use chacha20poly1305::aead::Generate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key_store::{DEFAULT_REFRESH, KeyStore, REFRESH_SECONDS_VAR};
use crate::config::{ConfigError, setting};

/// Bytes in a link key.
pub const KEY_BYTES: usize = 32;
/// The Secrets Manager secret that holds the keys (the way to run in AWS).
pub const SECRET_ARN_VAR: &str = "LINK_KEY_SECRET_ARN";
/// The key itself, as base64 (for local use only).
pub const INLINE_KEY_VAR: &str = "LINK_KEY";

/// Key text may come from any tool: standard or URL-safe alphabet, padded or not.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// The name a sealed link gives its key: the first 4 bytes of the key's SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One 32-byte link key. `Debug` shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey {
    bytes: [u8; KEY_BYTES],
    id: KeyId,
}

impl LinkKey {
    pub fn new(bytes: [u8; KEY_BYTES]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = KeyId([digest[0], digest[1], digest[2], digest[3]]);
        Self { bytes, id }
    }

    /// A fresh random key from the operating system's RNG.
    pub fn generate() -> Result<Self, KeyError> {
        let bytes = <[u8; KEY_BYTES]>::try_generate().map_err(|_| KeyError::Rng)?;
        Ok(Self::new(bytes))
    }

    /// A key from base64 text (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let decoded = STANDARD_LENIENT
            .decode(text)
            .or_else(|_| URL_SAFE_LENIENT.decode(text))
            .map_err(|_| KeyError::NotBase64)?;
        let bytes =
            <[u8; KEY_BYTES]>::try_from(decoded.as_slice()).map_err(|_| KeyError::WrongLength {
                bytes: decoded.len(),
            })?;
        Ok(Self::new(bytes))
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key as standard base64, for provisioning (a secret, a local
    /// `LINK_KEY`). Named so that every use stands out in review.
    pub fn expose_base64(&self) -> String {
        general_purpose::STANDARD.encode(self.bytes)
    }

    /// The raw key, for the cipher.
    pub(crate) fn expose_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkKey(id={})", self.id)
    }
}

/// The keys a function holds: links are sealed with `current`, and open with
/// whichever key their id names, so links sealed with `previous` keep working
/// through a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkKeys {
    pub current: LinkKey,
    pub previous: Option<LinkKey>,
}

/// The Secrets Manager value: `{"current": "<base64>", "previous": "<base64>"}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SecretValue {
    current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

impl LinkKeys {
    pub fn new(current: LinkKey, previous: Option<LinkKey>) -> Self {
        Self { current, previous }
    }

    /// Only one key, as before the first rotation.
    pub fn single(current: LinkKey) -> Self {
        Self::new(current, None)
    }

    /// Reads the Secrets Manager value `{"current": "<base64 of 32 bytes>",
    /// "previous": "<optional base64>"}`. An empty `previous` counts as none.
    pub fn from_secret_json(text: &str) -> Result<Self, KeyError> {
        // serde's message could quote a key, so only the shape is reported.
        let value: SecretValue = serde_json::from_str(text).map_err(|_| KeyError::SecretShape)?;
        let current = LinkKey::from_base64(&value.current).map_err(|err| KeyError::Field {
            field: "current",
            reason: Box::new(err),
        })?;
        let previous = match value.previous.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(LinkKey::from_base64(text).map_err(|err| KeyError::Field {
                field: "previous",
                reason: Box::new(err),
            })?),
        };
        Ok(Self::new(current, previous))
    }

    /// The Secrets Manager value for these keys, for provisioning and tests.
    pub fn to_secret_json(&self) -> String {
        let value = SecretValue {
            current: self.current.expose_base64(),
            previous: self.previous.as_ref().map(LinkKey::expose_base64),
        };
        // Two strings in a struct: serializing cannot fail.
        serde_json::to_string(&value).unwrap_or_default()
    }

    /// The key a sealed link names, if we hold it.
    pub fn by_id(&self, id: KeyId) -> Option<&LinkKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|key| key.id == id)
    }
}

/// Why a key could not be read. Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not base64")]
    NotBase64,
    #[error("decodes to {bytes} bytes; a link key is {KEY_BYTES} bytes")]
    WrongLength { bytes: usize },
    #[error(
        r#"is not JSON of the form {{"current": "<base64 of 32 bytes>", "previous": "<optional base64>"}}"#
    )]
    SecretShape,
    #[error("field \"{field}\" {reason}")]
    Field {
        field: &'static str,
        reason: Box<KeyError>,
    },
    #[error("could not be read from Secrets Manager ({code})")]
    SecretsManager { code: String },
    #[error("has no SecretString (a binary secret is not supported)")]
    NotAString,
    #[error("the operating system's random number generator failed")]
    Rng,
}

/// A key setting that cannot be used, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySettingError {
    #[error(
        "no link key: set {SECRET_ARN_VAR} to the Secrets Manager secret that holds the keys \
         (or, for local use only, {INLINE_KEY_VAR} to a base64 key)"
    )]
    Missing,
    #[error("environment variable {variable}: the link key {reason}")]
    Unusable {
        variable: &'static str,
        reason: KeyError,
    },
    #[error(transparent)]
    Setting(#[from] ConfigError),
}

/// Where the keys come from, decided from the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `LINK_KEY_SECRET_ARN`: read the secret at cold start, and again every
    /// `refresh_every` (`LINK_KEY_REFRESH_SECONDS`).
    SecretsManager {
        secret_id: String,
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
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, KeySettingError> {
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
    pub async fn into_store(self, sdk_config: &SdkConfig) -> Result<KeyStore, KeySettingError> {
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

/// Reads and parses the keys secret.
pub async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<LinkKeys, KeyError> {
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

    let answer = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| KeyError::SecretsManager {
            code: err.code().unwrap_or("no answer").to_owned(),
        })?;
    let text = answer.secret_string().ok_or(KeyError::NotAString)?;
    LinkKeys::from_secret_json(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn secret_with_current_and_previous_is_read() {
        let json = format!(r#"{{"current": "{KEY_A}", "previous": "{KEY_B}"}}"#);
        let keys = LinkKeys::from_secret_json(&json).unwrap();
        assert_eq!(keys.current.expose_base64(), KEY_A);
        assert_eq!(keys.previous.unwrap().expose_base64(), KEY_B);
    }

    #[test]
    fn secret_without_previous_or_with_empty_previous_has_none() {
        for json in [
            format!(r#"{{"current": "{KEY_A}"}}"#),
            format!(r#"{{"current": "{KEY_A}", "previous": ""}}"#),
            format!(r#"{{"current": "{KEY_A}", "previous": null}}"#),
        ] {
            assert_eq!(LinkKeys::from_secret_json(&json).unwrap().previous, None);
        }
    }

    #[test]
    fn key_of_the_wrong_length_names_the_field_and_the_length() {
        let json = r#"{"current": "AAAA"}"#;
        let err = LinkKeys::from_secret_json(json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field \"current\" decodes to 3 bytes; a link key is 32 bytes"
        );
    }

    #[test]
    fn secret_that_is_not_the_expected_json_is_refused_without_quoting_it() {
        let err = LinkKeys::from_secret_json(&format!(r#"{{"curent": "{KEY_A}"}}"#)).unwrap_err();
        assert_eq!(err, KeyError::SecretShape);
        assert!(!err.to_string().contains(KEY_A));
    }

    #[test]
    fn url_safe_and_unpadded_key_text_is_accepted() {
        let standard = LinkKey::from_base64(KEY_B).unwrap();
        let url_safe = KEY_B.replace('+', "-").replace('/', "_");
        assert_eq!(
            LinkKey::from_base64(url_safe.trim_end_matches('=')).unwrap(),
            standard
        );
    }

    #[test]
    fn key_id_is_the_first_4_bytes_of_the_sha256_of_the_key() {
        let key = LinkKey::new([0; 32]);
        // sha256 of 32 zero bytes = 66687aad...
        assert_eq!(key.id().to_string(), "66687aad");
    }

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
    fn secret_json_round_trips() {
        let keys = LinkKeys::new(
            LinkKey::generate().unwrap(),
            Some(LinkKey::generate().unwrap()),
        );
        assert_eq!(LinkKeys::from_secret_json(&keys.to_secret_json()), Ok(keys));
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

    fn secrets_manager(status: u16, body: &str) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
        use aws_smithy_types::body::SdkBody;

        let replay = StaticReplayClient::new(vec![ReplayEvent::new(
            http::Request::builder()
                .uri("https://secretsmanager.us-east-1.amazonaws.com/")
                .body(SdkBody::empty())
                .unwrap(),
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(SdkBody::from(body.to_owned()))
                .unwrap(),
        )]);
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(replay)
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    #[tokio::test]
    async fn keys_are_read_from_the_secret_string() {
        let value = format!(r#"{{"current": "{KEY_A}", "previous": "{KEY_B}"}}"#);
        let client = secrets_manager(
            200,
            &serde_json::json!({ "SecretString": value }).to_string(),
        );

        let keys = read_secret(
            &client,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:links",
        )
        .await
        .unwrap();

        assert_eq!(keys.current, LinkKey::from_base64(KEY_A).unwrap());
        assert_eq!(keys.previous, Some(LinkKey::from_base64(KEY_B).unwrap()));
    }

    #[tokio::test]
    async fn missing_secret_is_reported_with_its_error_code() {
        let body = r#"{"__type": "ResourceNotFoundException", "message": "not found"}"#;
        let client = secrets_manager(400, body);

        let err = read_secret(&client, "links").await.unwrap_err();

        assert_eq!(
            err,
            KeyError::SecretsManager {
                code: "ResourceNotFoundException".into()
            }
        );
    }

    #[tokio::test]
    async fn binary_secret_is_refused() {
        let client = secrets_manager(200, r#"{"SecretBinary": "AAAA"}"#);

        assert_eq!(
            read_secret(&client, "links").await,
            Err(KeyError::NotAString)
        );
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
