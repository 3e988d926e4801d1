//! `sfn-callback link seal|open`: make or inspect an approval link with the
//! configured key (`LINK_KEY_SECRET_ARN`, or `LINK_KEY` locally). `seal` holds
//! a link to the notifier's limits (expiry, subject); `open` shows the action,
//! the expiry and the token's fingerprint, never the token.

use std::path::Path;

use sfn_callback_approval::link::{self, Action, KeySource, LinkData, LinkKeys, OpenError};
use sfn_callback_approval::notify::request;
use sfn_callback_approval::{now_unix, rfc3339};

use crate::input;

/// Loads the link keys the approval functions use.
pub async fn keys() -> Result<LinkKeys, String> {
    let source = KeySource::from_env().map_err(|err| err.to_string())?;
    let sdk_config = sfn_callback::aws::sdk_config().await;
    source
        .load(&sdk_config)
        .await
        .map_err(|err| err.to_string())
}

/// Seals a link for the token in `token_file`; returns the `l` parameter's text.
/// The expiry and the subject pass the notifier's own checks, so a link made
/// by hand can do no more than an emailed one.
pub fn seal(
    keys: &LinkKeys,
    token_file: &Path,
    reject: bool,
    expires_in: u64,
    subject: Option<String>,
) -> Result<String, String> {
    let expires_in =
        request::check_expires_in(expires_in).map_err(|err| format!("--expires-in: {err}"))?;
    let subject = subject
        .map(|subject| request::check_subject(&subject))
        .transpose()
        .map_err(|err| format!("--subject: {err}"))?;
    let data = LinkData {
        token: input::read_token(token_file)?,
        action: if reject {
            Action::Reject
        } else {
            Action::Approve
        },
        expires_at: now_unix().saturating_add(expires_in),
        subject,
        summary: None,
    };
    link::seal(keys, &data)
        .map(|sealed| sealed.expose().to_owned())
        .map_err(|err| err.to_string())
}

/// Opens a link (the `l` parameter, or a whole URL) read from `link_file`.
pub fn open(keys: &LinkKeys, link_file: &Path) -> Result<String, String> {
    let text = input::read_text(link_file)?;
    let text = text.trim();
    let sealed = text.rsplit("l=").next().unwrap_or(text);
    match link::open(keys, sealed, now_unix()) {
        Ok(data) => Ok(format!(
            "action: {:?}\nexpires: {}\ntoken: {}\nsubject: {}",
            data.action,
            rfc3339(data.expires_at),
            data.token.fingerprint(),
            data.subject.as_deref().unwrap_or("-"),
        )),
        Err(OpenError::Expired { at }) => Err(format!(
            "the link is authentic but expired at {}",
            rfc3339(at)
        )),
        Err(err) => Err(format!("the link does not open: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use sfn_callback_approval::link::LinkKey;

    use super::*;

    fn keys() -> LinkKeys {
        LinkKeys::single(LinkKey::new([4; 32]))
    }

    /// A token file of its own for each test, under the system's temp
    /// folder, removed when dropped.
    struct TokenFile(PathBuf);

    impl TokenFile {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "sfn-callback-cli-{}-{name}.token",
                std::process::id()
            ));
            std::fs::write(&path, "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==\n").unwrap();
            Self(path)
        }
    }

    impl Drop for TokenFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn opened(sealed: &str) -> LinkData {
        link::open(&keys(), sealed, now_unix()).unwrap()
    }

    #[test]
    fn link_of_30_days_is_sealed_and_longer_refused_like_the_notifiers() {
        let token = TokenFile::new("expiry");

        let longest = seal(&keys(), &token.0, false, 30 * 86_400, None).unwrap();
        let too_long = seal(&keys(), &token.0, false, 30 * 86_400 + 1, None);
        let zero = seal(&keys(), &token.0, false, 0, None);

        let lifetime = opened(&longest).expires_at - now_unix();
        assert!(
            (30 * 86_400 - 10..=30 * 86_400).contains(&lifetime),
            "{lifetime}"
        );
        for refused in [too_long, zero] {
            let err = refused.unwrap_err();
            assert!(err.contains("30 days"), "{err}");
        }
    }

    #[test]
    fn subject_with_a_line_break_is_refused() {
        let token = TokenFile::new("line-break");

        let err = seal(&keys(), &token.0, false, 3_600, Some("Deploy\r\n7".into())).unwrap_err();

        assert!(err.contains("line break or control character"), "{err}");
    }

    #[test]
    fn subject_over_200_characters_is_refused() {
        let token = TokenFile::new("long-subject");

        let err = seal(&keys(), &token.0, false, 3_600, Some("s".repeat(201))).unwrap_err();

        assert!(err.contains("201 characters; the limit is 200"), "{err}");
    }

    #[test]
    fn format_characters_are_stripped_from_the_sealed_subject() {
        let token = TokenFile::new("format");

        let sealed = seal(
            &keys(),
            &token.0,
            false,
            3_600,
            Some("Deploy\u{202E} 7\u{200B}".into()),
        )
        .unwrap();

        assert_eq!(opened(&sealed).subject.as_deref(), Some("Deploy 7"));
    }
}
