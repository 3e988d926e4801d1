//! The ids of recorded mode.
//!
//! - A [`RequestId`] names an approval request in logs, the ledger and the
//!   operator's commands. It is derived from the task token one way, so a
//!   redelivered request finds its record, and the id tells nothing of the
//!   token.
//! - A [`LinkId`] is the bearer secret of one approver's link: 128 random bits.
//!   It carries no meaning, so a forged id is simply unknown. The table keeps
//!   only its SHA-256 ([`LinkId::digest`]): a read of the table gives no
//!   working link.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::Generate;
use sfn_callback::token::TaskToken;
use sha2::{Digest, Sha256};

/// Random or hashed bytes in an id.
pub const ID_BYTES: usize = 16;
/// Characters in an id: 16 bytes in unpadded base64url.
pub const ID_CHARS: usize = 22;

/// Keeps the request id apart from every other hash of the token.
const REQUEST_ID_DOMAIN: &[u8] = b"sfn-callback approval request\0";

/// Text that is not an id: the wrong length or alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id: expected {ID_CHARS} base64url characters")]
pub struct MalformedId;

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngFailed;

/// The name of one approval request. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    /// The id of the request for `token`: always the same for the same token.
    pub fn for_token(token: &TaskToken) -> Self {
        let digest = Sha256::new()
            .chain_update(REQUEST_ID_DOMAIN)
            .chain_update(token.expose().as_bytes())
            .finalize();
        Self(URL_SAFE_NO_PAD.encode(&digest[..ID_BYTES]))
    }

    /// An id as an operator typed it.
    pub fn parse(text: &str) -> Result<Self, MalformedId> {
        check_id(text).map(|()| Self(text.to_owned()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One approver's link: a bearer secret. It has no `Display`, and its `Debug`
/// hides it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkId(String);

impl LinkId {
    /// A fresh id of 128 random bits.
    pub fn generate() -> Result<Self, RngFailed> {
        let bytes = <[u8; ID_BYTES]>::try_generate().map_err(|_| RngFailed)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The id in a link's path.
    pub fn parse(text: &str) -> Result<Self, MalformedId> {
        check_id(text).map(|()| Self(text.to_owned()))
    }

    /// The id itself, for the link in the email. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the table keeps instead of the id: its SHA-256 in base64url.
    pub fn digest(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkId(..)")
    }
}

/// 22 characters of the base64url alphabet that decode to 16 bytes (the last
/// character carries 2 spare bits, which must be zero).
fn check_id(text: &str) -> Result<(), MalformedId> {
    if text.len() != ID_CHARS {
        return Err(MalformedId);
    }
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(bytes) if bytes.len() == ID_BYTES => Ok(()),
        _ => Err(MalformedId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request id of the task token `text`.
    fn request_id_of(text: &str) -> RequestId {
        RequestId::for_token(&TaskToken::new(text).unwrap())
    }

    #[test]
    fn the_same_token_gives_the_same_request_id() {
        let a = request_id_of("AQCEAAAAKgAAAAMAAAAAAAAAAeMc");
        assert_eq!(a, request_id_of("AQCEAAAAKgAAAAMAAAAAAAAAAeMc"));
        assert_ne!(a, request_id_of("AQCEAAAAKgAAAAMAAAAAAAAAAeMd"));
        assert_eq!(a.as_str().len(), ID_CHARS);
        assert_eq!(RequestId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn generated_link_ids_are_22_characters_and_differ() {
        let a = LinkId::generate().unwrap();
        let b = LinkId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), ID_CHARS);
        assert_eq!(LinkId::parse(a.expose()), Ok(a));
    }

    #[test]
    fn the_digest_is_not_the_id_and_is_stable() {
        let id = LinkId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(id.digest(), id.clone().digest());
        assert!(!id.digest().contains(id.expose()));
    }

    #[test]
    fn debug_hides_the_link_id() {
        let id = LinkId::generate().unwrap();
        assert!(!format!("{id:?}").contains(id.expose()));
    }

    #[test]
    fn wrong_length_alphabet_or_spare_bits_are_malformed() {
        for text in [
            "",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(LinkId::parse(text), Err(MalformedId), "{text:?}");
        }
    }
}
