//! The notifier's settings, read once at cold start. A bad value fails init
//! with an error that names the variable.

use sfn_callback::config::ConfigError;

use super::request::check_address;

/// The verified SES identity the email comes from.
pub(crate) const SENDER_EMAIL_VAR: &str = "SENDER_EMAIL";
/// Where the links point: the `approval-http` function's URL.
pub(crate) const APPROVAL_BASE_URL_VAR: &str = "APPROVAL_BASE_URL";

/// What `approval-notifier` needs besides its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierSettings {
    /// The verified SES identity the email comes from (`SENDER_EMAIL`).
    pub sender_email: String,
    /// Where the links point (`APPROVAL_BASE_URL`): the `approval-http`
    /// function's URL, https (plain http only to this machine).
    pub base_url: String,
}

impl NotifierSettings {
    /// Reads the settings from the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need no real environment.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let sender_email = lookup(SENDER_EMAIL_VAR)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Err(reason) = check_address(&sender_email) {
            return Err(ConfigError {
                name: SENDER_EMAIL_VAR,
                value: sender_email,
                expected: format!("expected the verified SES address to send from ({reason})"),
            });
        }
        let base_url = lookup(APPROVAL_BASE_URL_VAR)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Err(reason) = check_base_url(&base_url) {
            return Err(ConfigError {
                name: APPROVAL_BASE_URL_VAR,
                value: base_url,
                expected: format!("expected the approval-http function's URL ({reason})"),
            });
        }
        Ok(Self {
            sender_email,
            base_url,
        })
    }
}

/// The longest link recorded mode sends: short enough for chat tools and the
/// mail clients that cut long links.
pub const MAX_RECORDED_LINK_CHARS: usize = 100;
/// `/a/` and a link id.
const RECORDED_PATH_CHARS: usize = 3 + crate::record::id::ID_CHARS;

/// Recorded mode appends `/a/{link id}` to the base URL: it must have no
/// query, and every link must stay within [`MAX_RECORDED_LINK_CHARS`].
pub(crate) fn check_recorded_base_url(base_url: &str) -> Result<(), ConfigError> {
    let base = base_url.trim_end_matches('/');
    let expected = if base.contains('?') {
        "in recorded mode, the approval-http function's URL without a query: \
         links add /a/{id} to its path"
            .to_owned()
    } else if base.len() + RECORDED_PATH_CHARS > MAX_RECORDED_LINK_CHARS {
        format!(
            "in recorded mode, a URL of at most {} characters (without a trailing /), \
             so that every link stays within {MAX_RECORDED_LINK_CHARS}",
            MAX_RECORDED_LINK_CHARS - RECORDED_PATH_CHARS
        )
    } else {
        return Ok(());
    };
    Err(ConfigError {
        name: APPROVAL_BASE_URL_VAR,
        value: base_url.to_owned(),
        expected,
    })
}

/// An approval link must travel over TLS, except to this machine for local use.
pub(crate) fn check_base_url(url: &str) -> Result<(), &'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it has whitespace");
    }
    if url.contains('#') {
        // A fragment would swallow the `l=` parameter added after it.
        return Err("it must not have a #fragment");
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return if host(rest).is_empty() {
            Err("it has no host")
        } else {
            Ok(())
        };
    }
    if let Some(rest) = url.strip_prefix("http://") {
        // The host, not a prefix: `http://localhost.example.com` is not local.
        return if matches!(host(rest), "127.0.0.1" | "localhost" | "[::1]") {
            Ok(())
        } else {
            Err("it must start with https://, or http:// only for 127.0.0.1 or localhost")
        };
    }
    Err("it must start with https://")
}

/// The host of what follows `scheme://`, without port, path or query.
fn host(rest: &str) -> &str {
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<NotifierSettings, ConfigError> {
        NotifierSettings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn valid_settings_are_read() {
        let settings = settings(&[
            (SENDER_EMAIL_VAR, "approvals@example.com"),
            (
                APPROVAL_BASE_URL_VAR,
                "https://abc.lambda-url.us-east-1.on.aws/",
            ),
        ])
        .unwrap();
        assert_eq!(settings.sender_email, "approvals@example.com");
        assert_eq!(
            settings.base_url,
            "https://abc.lambda-url.us-east-1.on.aws/"
        );
    }

    #[test]
    fn missing_sender_names_the_variable() {
        let err = settings(&[(APPROVAL_BASE_URL_VAR, "https://a.example/")]).unwrap_err();
        assert_eq!(err.name, SENDER_EMAIL_VAR);
    }

    #[test]
    fn missing_base_url_names_the_variable() {
        let err = settings(&[(SENDER_EMAIL_VAR, "a@example.com")]).unwrap_err();
        assert_eq!(err.name, APPROVAL_BASE_URL_VAR);
    }

    #[test]
    fn recorded_mode_takes_a_base_url_of_up_to_75_characters_without_a_query() {
        let longest = format!("https://{}.example/", "a".repeat(75 - 16));
        assert_eq!(longest.trim_end_matches('/').len(), 75);
        assert_eq!(check_recorded_base_url(&longest), Ok(()));
        let too_long = format!("https://{}.example", "a".repeat(76 - 16));
        for bad in [too_long.as_str(), "https://a.example/approve?stage=prod"] {
            let err = check_recorded_base_url(bad).unwrap_err();
            assert_eq!(err.name, APPROVAL_BASE_URL_VAR, "{bad}");
        }
    }

    #[test]
    fn plain_http_is_allowed_only_to_this_machine() {
        for ok in [
            "https://a.example/approve",
            "http://127.0.0.1:9000/lambda-url/approval-http/",
            "http://localhost:9000",
            "http://[::1]:9000/",
        ] {
            assert_eq!(check_base_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://a.example/",
            "http://localhost.evil.example/",
            "http://127.0.0.1.evil.example/",
            "ftp://a.example/",
            "https://",
            "https://a.example/#x",
            "",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }
}
