//! Sealed links: the task token, the intended action and the expiry, encrypted
//! and authenticated so that nobody can read the token from a link or change
//! anything in it.
//!
//! A sealed link is URL-safe base64 (no padding) of:
//!
//! ```text
//! version (1 byte) | key id (4 bytes) | nonce (24 bytes) | XChaCha20-Poly1305(DEFLATE(JSON)) + tag (16 bytes)
//! └──── header: in the clear, authenticated as associated data ────┘
//! ```
//!
//! The header says which key opens the link, so links sealed before a key
//! rotation still open with `previous`. Every check that could tell an attacker
//! something happens only after the AEAD has accepted the link: a forged link
//! is "tampered" and never "expired", and the AEAD compares the tag in constant
//! time.
//!
//! Recorded mode keeps the task token in its table sealed the same way
//! ([`seal_token`], [`open_token`]): the same keys and AEAD, the bare token as
//! plaintext, and its own version byte in the authenticated header. A stored
//! token therefore never opens as a link, nor a link as a stored token, and a
//! read of the table alone completes no task.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sfn_callback::token::TaskToken;

use super::key::{KeyId, LinkKey, LinkKeys};

/// The format of the sealed bytes; a new layout gets a new number.
const VERSION: u8 = 1;
/// The format of a task token sealed for the table: its own number, so that
/// the header (authenticated as associated data) tells the two purposes apart.
const STORED_TOKEN_VERSION: u8 = 0x81;
const HEADER_BYTES: usize = 1 + 4;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// DEFLATE level: links are sealed once per email, so spend the time.
const COMPRESSION_LEVEL: u8 = 9;
/// Ceiling on the inflated plaintext: a 2,048-character token plus the longest
/// subject and summary fit many times over.
const MAX_PLAINTEXT_BYTES: usize = 64 * 1024;
/// Longer text is refused before any decoding work: far more than any link
/// [`seal`] makes (2,263 characters for a 2,048-character random token).
pub(crate) const MAX_SEALED_CHARS: usize = 16 * 1024;

/// Sealed text longer than this drops the optional summary, then the subject.
/// With a base URL it keeps a link under 2,000 characters, which every mail
/// client keeps whole; only a token near its 2,048-character maximum goes
/// over, and that stays far under Outlook's ~4 KB.
pub const SEAL_BUDGET_CHARS: usize = 1_800;

/// What the approver is asked to do; a link carries the one its button offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    // Serialized as one letter: every byte of a link counts.
    /// Approve: the task succeeds (SendTaskSuccess).
    #[serde(rename = "a")]
    Approve,
    /// Reject: the task fails with `ApprovalRejected` (SendTaskFailure).
    #[serde(rename = "r")]
    Reject,
}

impl Action {
    /// The form value: `approve` or `reject`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }

    /// Reads a form value: `approve` or `reject`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "approve" => Some(Self::Approve),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// What a link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkData {
    /// The task the decision completes; sealed, so no one reads it from the link.
    pub token: TaskToken,
    /// The button the link belongs to; the page highlights it.
    pub action: Action,
    /// Unix seconds; the link works while the clock is before this.
    pub expires_at: u64,
    /// Shown on the confirmation page; dropped after the summary when the
    /// link is too long.
    pub subject: Option<String>,
    /// Shown on the confirmation page under the subject; dropped first when
    /// the link is too long.
    pub summary: Option<String>,
}

/// The sealed text of a link: the `l` query parameter.
///
/// Anyone holding it can decide the request, so `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedLink(String);

impl SealedLink {
    /// The text, for the one place that puts it in a URL or a form.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in characters (all ASCII).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (a sealed link never is).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SealedLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedLink({} chars)", self.0.len())
    }
}

/// Why a link could not be sealed. None of these should happen in practice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The operating system's random number generator gave no nonce.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// The link data could not be serialized.
    #[error("the link data could not be encoded: {reason}")]
    Encode {
        /// The serializer's message.
        reason: String,
    },
    /// The cipher refused to encrypt.
    #[error("encryption failed")]
    Encrypt,
}

/// Why a link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not a link of ours at all: bad base64, too short, unknown version.
    #[error("the link is malformed")]
    Malformed,
    /// Changed, forged, or sealed with a key we do not hold. Deliberately one
    /// case: a caller learns nothing about which check failed.
    #[error("the link was changed or not made by us")]
    Tampered,
    /// Authentic, but too late.
    #[error("the link expired at unix time {at}")]
    Expired {
        /// When it expired, in unix seconds.
        at: u64,
    },
}

/// The JSON inside the seal, with one-letter names to keep links short.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(rename = "t", borrow)]
    token: Cow<'a, str>,
    #[serde(rename = "a")]
    action: Action,
    #[serde(rename = "e")]
    expires_at: u64,
    #[serde(rename = "s", default, borrow, skip_serializing_if = "Option::is_none")]
    subject: Option<Cow<'a, str>>,
    #[serde(rename = "m", default, borrow, skip_serializing_if = "Option::is_none")]
    summary: Option<Cow<'a, str>>,
}

/// Seals `data` with the current key, keeping the sealed text within
/// [`SEAL_BUDGET_CHARS`] by dropping the summary, then the subject, when they
/// make it too long. The token, action and expiry are never dropped, so a link
/// for a very long token may still exceed the budget.
pub fn seal(keys: &LinkKeys, data: &LinkData) -> Result<SealedLink, SealError> {
    let mut data = Cow::Borrowed(data);
    loop {
        let sealed = seal_with(&keys.current, &data)?;
        if sealed.len() <= SEAL_BUDGET_CHARS {
            return Ok(sealed);
        }
        if data.summary.is_some() {
            data.to_mut().summary = None;
        } else if data.subject.is_some() {
            data.to_mut().subject = None;
        } else {
            return Ok(sealed);
        }
    }
}

/// Seals `data` with `key`, everything kept, whatever the length.
pub fn seal_with(key: &LinkKey, data: &LinkData) -> Result<SealedLink, SealError> {
    let wire = Wire {
        token: Cow::Borrowed(data.token.expose()),
        action: data.action,
        expires_at: data.expires_at,
        subject: data.subject.as_deref().map(Cow::Borrowed),
        summary: data.summary.as_deref().map(Cow::Borrowed),
    };
    let json = serde_json::to_vec(&wire).map_err(|err| SealError::Encode {
        reason: err.to_string(),
    })?;
    let compressed = miniz_oxide::deflate::compress_to_vec(&json, COMPRESSION_LEVEL);
    encrypt(key, VERSION, &compressed).map(SealedLink)
}

/// Seals `token` with the current key, for the approval table: unreadable
/// without the link key, and never a link (see the module docs).
pub fn seal_token(keys: &LinkKeys, token: &TaskToken) -> Result<String, SealError> {
    encrypt(
        &keys.current,
        STORED_TOKEN_VERSION,
        token.expose().as_bytes(),
    )
}

/// Opens a token sealed by [`seal_token`] with whichever of `keys` it names.
/// It has no expiry: the request it belongs to has its own.
pub fn open_token(keys: &LinkKeys, sealed: &str) -> Result<TaskToken, OpenError> {
    let plaintext = decrypt(keys, STORED_TOKEN_VERSION, sealed)?;
    let text = String::from_utf8(plaintext).map_err(|_| OpenError::Malformed)?;
    TaskToken::new(text).map_err(|_| OpenError::Malformed)
}

/// `version | key id | nonce | ciphertext + tag` in unpadded base64url, the
/// header authenticated as associated data.
fn encrypt(key: &LinkKey, version: u8, plaintext: &[u8]) -> Result<String, SealError> {
    let header = header(version, key.id());
    let nonce = XNonce::try_generate().map_err(|_| SealError::Rng)?;
    let sealed = cipher(key)
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &header,
            },
        )
        .map_err(|_| SealError::Encrypt)?;

    let mut bytes = Vec::with_capacity(HEADER_BYTES + NONCE_BYTES + sealed.len());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The plaintext of text [`encrypt`] made with `version`, opened with
/// whichever of `keys` its header names.
fn decrypt(keys: &LinkKeys, version: u8, sealed: &str) -> Result<Vec<u8>, OpenError> {
    if sealed.len() > MAX_SEALED_CHARS {
        return Err(OpenError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| OpenError::Malformed)?;
    if bytes.len() < HEADER_BYTES + NONCE_BYTES + TAG_BYTES || bytes[0] != version {
        return Err(OpenError::Malformed);
    }
    let (header, rest) = bytes.split_at(HEADER_BYTES);
    let (nonce, sealed) = rest.split_at(NONCE_BYTES);
    let key_id = KeyId([header[1], header[2], header[3], header[4]]);
    // An unknown key id is reported exactly like a failed tag.
    let key = keys.by_id(key_id).ok_or(OpenError::Tampered)?;
    let nonce = <[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| OpenError::Malformed)?;
    cipher(key)
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map_err(|_| OpenError::Tampered)
}

/// Opens a sealed link with whichever of `keys` it names, and checks its
/// expiry against `now` (unix seconds) only once it has proved authentic.
pub fn open(keys: &LinkKeys, sealed: &str, now: u64) -> Result<LinkData, OpenError> {
    let compressed = decrypt(keys, VERSION, sealed)?;

    // Authentic from here on: what follows fails only if our own sealing changed.
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_PLAINTEXT_BYTES)
        .map_err(|_| OpenError::Malformed)?;
    let wire: Wire<'_> = serde_json::from_slice(&json).map_err(|_| OpenError::Malformed)?;
    let token = TaskToken::new(wire.token.into_owned()).map_err(|_| OpenError::Malformed)?;
    if now >= wire.expires_at {
        return Err(OpenError::Expired {
            at: wire.expires_at,
        });
    }
    Ok(LinkData {
        token,
        action: wire.action,
        expires_at: wire.expires_at,
        subject: wire.subject.map(Cow::into_owned),
        summary: wire.summary.map(Cow::into_owned),
    })
}

fn header(version: u8, key_id: KeyId) -> [u8; HEADER_BYTES] {
    let [a, b, c, d] = key_id.0;
    [version, a, b, c, d]
}

fn cipher(key: &LinkKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key.expose_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_750_000_000;
    /// A Function URL host, as long as they come.
    const BASE_URL: &str =
        "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws/";

    fn keys() -> LinkKeys {
        LinkKeys::single(LinkKey::new([7; 32]))
    }

    /// Deterministic bytes that DEFLATE cannot shrink, like a token's ciphertext.
    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect()
    }

    /// Shaped like a real token: a fixed header, then base64 of encrypted bytes.
    fn token_of(chars: usize) -> TaskToken {
        let body = base64::engine::general_purpose::STANDARD.encode(noise(chars, 42));
        let text: String = format!("AQCEAAAAKgAAAAMAAAAAAAAAAeMc{body}")
            .chars()
            .take(chars)
            .collect();
        TaskToken::new(text).unwrap()
    }

    fn data(token: TaskToken) -> LinkData {
        LinkData {
            token,
            action: Action::Approve,
            expires_at: NOW + 86_400,
            subject: Some("Approve deploy 42".into()),
            summary: Some("Release 1.4.2 to production, 3 services".into()),
        }
    }

    fn flip_byte(sealed: &SealedLink, index: usize) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap();
        bytes[index] ^= 0x01;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn sealed_link_opens_to_the_same_data() {
        let data = data(token_of(700));
        let sealed = seal(&keys(), &data).unwrap();
        assert_eq!(open(&keys(), sealed.expose(), NOW), Ok(data));
    }

    #[test]
    fn link_without_subject_and_summary_opens() {
        let data = LinkData {
            subject: None,
            summary: None,
            action: Action::Reject,
            ..data(token_of(40))
        };
        let sealed = seal(&keys(), &data).unwrap();
        assert_eq!(open(&keys(), sealed.expose(), NOW), Ok(data));
    }

    #[test]
    fn token_is_not_readable_from_the_link() {
        let data = data(TaskToken::new("a".repeat(300)).unwrap());
        let sealed = seal(&keys(), &data).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap();
        assert!(!bytes.windows(8).any(|w| w == b"aaaaaaaa"));
        assert!(!sealed.expose().contains("aaaa"));
    }

    #[test]
    fn changing_any_byte_of_the_sealed_bytes_never_opens() {
        let sealed = seal(&keys(), &data(token_of(700))).unwrap();
        let len = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap().len();
        for index in 0..len {
            let result = open(&keys(), &flip_byte(&sealed, index), NOW);
            assert!(
                matches!(result, Err(OpenError::Tampered | OpenError::Malformed)),
                "byte {index}: {result:?}"
            );
        }
    }

    #[test]
    fn changing_any_character_of_the_text_never_opens() {
        let sealed = seal(&keys(), &data(token_of(700))).unwrap();
        let text = sealed.expose();
        for (index, c) in text.char_indices() {
            let other = if c == 'A' { 'B' } else { 'A' };
            let mut changed = text.to_owned();
            changed.replace_range(index..=index, &other.to_string());
            let result = open(&keys(), &changed, NOW);
            assert!(
                matches!(result, Err(OpenError::Tampered | OpenError::Malformed)),
                "character {index}: {result:?}"
            );
        }
    }

    #[test]
    fn cut_or_extended_text_never_opens() {
        let sealed = seal(&keys(), &data(token_of(100))).unwrap();
        let text = sealed.expose();
        for cut in 0..text.len() {
            assert!(open(&keys(), &text[..cut], NOW).is_err(), "cut at {cut}");
        }
        assert!(open(&keys(), &format!("{text}A"), NOW).is_err());
        assert!(open(&keys(), &format!("{text}AAAA"), NOW).is_err());
    }

    #[test]
    fn link_sealed_with_another_key_is_tampered() {
        let sealed = seal(&keys(), &data(token_of(100))).unwrap();
        let other = LinkKeys::single(LinkKey::new([8; 32]));
        assert_eq!(open(&other, sealed.expose(), NOW), Err(OpenError::Tampered));
    }

    #[test]
    fn link_naming_our_key_id_but_sealed_with_another_key_is_tampered() {
        let forged = seal_with(&LinkKey::new([8; 32]), &data(token_of(100))).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(forged.expose()).unwrap();
        bytes[1..5].copy_from_slice(&keys().current.id().0);
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(open(&keys(), &forged, NOW), Err(OpenError::Tampered));
    }

    #[test]
    fn expired_link_reports_when_it_expired() {
        let data = LinkData {
            expires_at: NOW - 60,
            ..data(token_of(100))
        };
        let sealed = seal(&keys(), &data).unwrap();
        assert_eq!(
            open(&keys(), sealed.expose(), NOW),
            Err(OpenError::Expired { at: NOW - 60 })
        );
    }

    #[test]
    fn link_works_until_the_second_it_expires() {
        let data = data(token_of(100));
        let sealed = seal(&keys(), &data).unwrap();
        assert!(open(&keys(), sealed.expose(), data.expires_at - 1).is_ok());
        assert_eq!(
            open(&keys(), sealed.expose(), data.expires_at),
            Err(OpenError::Expired {
                at: data.expires_at
            })
        );
    }

    #[test]
    fn tampered_expired_link_is_tampered_not_expired() {
        let data = LinkData {
            expires_at: NOW - 60,
            ..data(token_of(100))
        };
        let sealed = seal(&keys(), &data).unwrap();
        let last = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap().len() - 1;
        assert_eq!(
            open(&keys(), &flip_byte(&sealed, last), NOW),
            Err(OpenError::Tampered)
        );
    }

    #[test]
    fn link_sealed_with_the_previous_key_opens_after_rotation() {
        let old = keys();
        let sealed = seal(&old, &data(token_of(100))).unwrap();
        let rotated = LinkKeys::new(LinkKey::new([9; 32]), Some(old.current));
        assert!(open(&rotated, sealed.expose(), NOW).is_ok());
    }

    #[test]
    fn link_sealed_with_a_retired_key_no_longer_opens() {
        let sealed = seal(&keys(), &data(token_of(100))).unwrap();
        let retired = LinkKeys::new(LinkKey::new([9; 32]), Some(LinkKey::new([10; 32])));
        assert_eq!(
            open(&retired, sealed.expose(), NOW),
            Err(OpenError::Tampered)
        );
    }

    #[test]
    fn new_links_are_sealed_with_the_current_key() {
        let rotated = LinkKeys::new(LinkKey::new([9; 32]), Some(keys().current));
        let sealed = seal(&rotated, &data(token_of(100))).unwrap();
        let only_current = LinkKeys::single(LinkKey::new([9; 32]));
        assert!(open(&only_current, sealed.expose(), NOW).is_ok());
    }

    #[test]
    fn sealed_text_uses_only_url_safe_characters() {
        for seed in 0..200 {
            let token = TaskToken::new(
                base64::engine::general_purpose::STANDARD.encode(noise(300, seed + 1)),
            )
            .unwrap();
            let sealed = seal(&keys(), &data(token)).unwrap();
            assert!(
                sealed
                    .expose()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{}",
                sealed.expose()
            );
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let data = data(token_of(100));
        let first = seal(&keys(), &data).unwrap();
        let second = seal(&keys(), &data).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn malformed_text_is_malformed() {
        for text in [
            "",
            "not base64!",
            "AAAA",
            "a+b/c=",
            &"A".repeat(MAX_SEALED_CHARS + 1),
        ] {
            assert_eq!(
                open(&keys(), text, NOW),
                Err(OpenError::Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn unknown_version_is_malformed() {
        let sealed = seal(&keys(), &data(token_of(100))).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap();
        bytes[0] = 2;
        assert_eq!(
            open(&keys(), &URL_SAFE_NO_PAD.encode(bytes), NOW),
            Err(OpenError::Malformed)
        );
    }

    #[test]
    fn link_for_a_realistic_token_is_well_under_2000_characters() {
        let data = LinkData {
            subject: Some("Approve deploy 42 of payments-api to production (CHG0031337)".into()),
            summary: Some(
                "Release 1.4.2: 14 commits, database migration 0042 (adds an index), \
                 feature flag checkout-v2 stays off. Rollback plan: redeploy 1.4.1."
                    .into(),
            ),
            ..data(token_of(700))
        };
        let sealed = seal(&keys(), &data).unwrap();
        let link = format!("{BASE_URL}?l={}", sealed.expose());
        println!(
            "link length, 700-character token with a subject and a summary: {} characters ({} sealed)",
            link.len(),
            sealed.len()
        );
        assert!(link.len() < 1_500, "{}", link.len());
        assert_eq!(open(&keys(), sealed.expose(), NOW), Ok(data));
    }

    #[test]
    fn link_for_a_realistic_token_with_the_longest_subject_fits_the_budget() {
        let data = LinkData {
            // 200 characters of text that DEFLATE cannot shrink, and a long summary.
            subject: Some(base64::engine::general_purpose::STANDARD.encode(noise(150, 9))),
            summary: Some(base64::engine::general_purpose::STANDARD.encode(noise(3_000, 10))),
            ..data(token_of(700))
        };
        let sealed = seal(&keys(), &data).unwrap();
        let link = format!("{BASE_URL}?l={}", sealed.expose());
        println!(
            "link length, 700-character token with a 200-character incompressible subject: {} characters",
            link.len()
        );
        assert!(link.len() < 2_000, "{}", link.len());
        let opened = open(&keys(), sealed.expose(), NOW).unwrap();
        assert_eq!(opened.subject, data.subject);
    }

    #[test]
    fn link_for_a_2048_character_token_stays_under_outlooks_4kb_limit() {
        let sealed = seal(&keys(), &data(token_of(2_048))).unwrap();
        let link = format!("{BASE_URL}?l={}", sealed.expose());
        println!(
            "link length, 2,048-character random base64 token (subject and summary dropped): {} characters ({} sealed)",
            link.len(),
            sealed.len()
        );
        assert!(link.len() < 4_000, "{}", link.len());
        let opened = open(&keys(), sealed.expose(), NOW).unwrap();
        assert_eq!(opened.token, token_of(2_048));
    }

    #[test]
    fn link_for_a_structured_2048_character_token_is_under_2000_characters() {
        // Real tokens are not random text; a repetitive one compresses away.
        let token = TaskToken::new("AQCEAAAAKgAAAAMAAAAA".repeat(103)[..2_048].to_owned()).unwrap();
        let sealed = seal(&keys(), &data(token)).unwrap();
        let link = format!("{BASE_URL}?l={}", sealed.expose());
        println!(
            "link length, repetitive 2,048-character token: {} characters",
            link.len()
        );
        assert!(link.len() < 2_000, "{}", link.len());
    }

    #[test]
    fn too_long_link_drops_the_summary_first() {
        let data = LinkData {
            summary: Some(base64::engine::general_purpose::STANDARD.encode(noise(900, 5))),
            ..data(token_of(700))
        };
        let sealed = seal(&keys(), &data).unwrap();
        let opened = open(&keys(), sealed.expose(), NOW).unwrap();
        assert!(sealed.len() <= SEAL_BUDGET_CHARS, "{}", sealed.len());
        assert_eq!(opened.summary, None);
        assert_eq!(opened.subject, data.subject);
    }

    #[test]
    fn too_long_link_drops_the_subject_after_the_summary() {
        let data = LinkData {
            subject: Some(base64::engine::general_purpose::STANDARD.encode(noise(150, 6))),
            ..data(token_of(1_550))
        };
        let without_summary = LinkData {
            summary: None,
            ..data.clone()
        };
        // Dropping the summary alone is not enough here.
        assert!(seal_with(&keys().current, &without_summary).unwrap().len() > SEAL_BUDGET_CHARS);

        let sealed = seal(&keys(), &data).unwrap();

        let opened = open(&keys(), sealed.expose(), NOW).unwrap();
        assert!(sealed.len() <= SEAL_BUDGET_CHARS, "{}", sealed.len());
        assert_eq!((opened.subject, opened.summary), (None, None));
    }

    #[test]
    fn sealed_token_opens_to_the_same_token_and_hides_it() {
        let token = token_of(700);
        let sealed = seal_token(&keys(), &token).unwrap();
        assert!(!sealed.contains(&token.expose()[..12]), "{sealed}");
        assert_eq!(open_token(&keys(), &sealed), Ok(token));
    }

    #[test]
    fn sealed_token_opens_with_the_previous_key_after_rotation() {
        let sealed = seal_token(&keys(), &token_of(100)).unwrap();
        let rotated = LinkKeys::new(LinkKey::new([9; 32]), Some(keys().current));
        assert_eq!(open_token(&rotated, &sealed), Ok(token_of(100)));
        let retired = LinkKeys::new(LinkKey::new([9; 32]), Some(LinkKey::new([10; 32])));
        assert_eq!(open_token(&retired, &sealed), Err(OpenError::Tampered));
    }

    #[test]
    fn sealed_token_never_opens_as_a_link() {
        let sealed = seal_token(&keys(), &token_of(100)).unwrap();
        assert_eq!(open(&keys(), &sealed, NOW), Err(OpenError::Malformed));
        // Relabelled as a link, the authenticated header no longer matches.
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        bytes[0] = VERSION;
        let relabelled = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(open(&keys(), &relabelled, NOW), Err(OpenError::Tampered));
    }

    #[test]
    fn link_never_opens_as_a_sealed_token() {
        let sealed = seal(&keys(), &data(token_of(100))).unwrap();
        assert_eq!(
            open_token(&keys(), sealed.expose()),
            Err(OpenError::Malformed)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap();
        bytes[0] = STORED_TOKEN_VERSION;
        let relabelled = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(open_token(&keys(), &relabelled), Err(OpenError::Tampered));
    }

    #[test]
    fn changed_sealed_token_never_opens() {
        let sealed = seal_token(&keys(), &token_of(100)).unwrap();
        let len = URL_SAFE_NO_PAD.decode(&sealed).unwrap().len();
        for index in 0..len {
            let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
            bytes[index] ^= 0x01;
            let result = open_token(&keys(), &URL_SAFE_NO_PAD.encode(bytes));
            assert!(
                matches!(result, Err(OpenError::Tampered | OpenError::Malformed)),
                "byte {index}: {result:?}"
            );
        }
        for text in ["", "AAAA", "not base64!"] {
            assert_eq!(open_token(&keys(), text), Err(OpenError::Malformed));
        }
    }

    #[test]
    fn debug_output_shows_neither_the_token_nor_the_link() {
        let data = data(TaskToken::new("SECRET-TOKEN-TEXT").unwrap());
        let sealed = seal(&keys(), &data).unwrap();
        let shown = format!("{data:?} {sealed:?}");
        assert!(!shown.contains("SECRET-TOKEN-TEXT"), "{shown}");
        assert!(!shown.contains(&sealed.expose()[..20]), "{shown}");
    }
}
