//! The link-key secret: its JSON value, `{"current": "<base64>", "previous":
//! "<base64>"}`, and reading it from Secrets Manager. Errors never quote it.

use serde::{Deserialize, Serialize};

use super::key::{KeyError, LinkKey, LinkKeys};

/// The Secrets Manager value: `{"current": "<base64>", "previous": "<base64>"}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SecretValue {
    current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

impl LinkKeys {
    /// Reads the Secrets Manager value `{"current": "<base64 of 32 bytes>",
    /// "previous": "<optional base64>"}`. An empty `previous` counts as none.
    pub(crate) fn from_secret_json(text: &str) -> Result<Self, KeyError> {
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
}

/// Reads and parses the keys secret.
pub(crate) async fn read_secret(
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
    use crate::link::test_keys::{KEY_A, KEY_B};

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
    fn secret_json_round_trips() {
        let keys = LinkKeys::new(
            LinkKey::generate().unwrap(),
            Some(LinkKey::generate().unwrap()),
        );
        assert_eq!(LinkKeys::from_secret_json(&keys.to_secret_json()), Ok(keys));
    }

    fn secrets_manager(status: u16, body: &str) -> aws_sdk_secretsmanager::Client {
        use aws_smithy_http_client::test_util::StaticReplayClient;

        use crate::link::test_secrets_manager::{answer, client};

        client(&StaticReplayClient::new(vec![answer(status, body)]))
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
}
