//! `sfn-callback link seal|open`: make or inspect an approval link with the
//! configured key (`LINK_KEY_SECRET_ARN`, or `LINK_KEY` locally). `open` shows
//! the action, the expiry and the token's fingerprint, never the token.

use std::path::Path;

use sfn_callback::approval::keys::{KeySource, LinkKeys};
use sfn_callback::approval::link::{self, Action, LinkData, OpenError};
use sfn_callback::approval::{now_unix, rfc3339};

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
pub fn seal(
    keys: &LinkKeys,
    token_file: &Path,
    reject: bool,
    expires_in: u64,
    subject: Option<String>,
) -> Result<String, String> {
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
