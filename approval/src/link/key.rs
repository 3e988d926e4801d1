//! Link key material: 32-byte XChaCha20-Poly1305 keys, with a `previous` key
//! so that rotation does not break links already sent.
//!
//! A key never appears in `Debug` output or in an error message: only its id,
//! the first 4 bytes of its SHA-256, which is also what a sealed link names.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use chacha20poly1305::aead::Generate;
use sha2::{Digest, Sha256};

/// Bytes in a link key.
pub const KEY_BYTES: usize = 32;

/// Key text may come from any tool: standard or URL-safe alphabet, padded or not.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// The name a sealed link gives its key: the first 4 bytes of the key's
/// SHA-256, displayed as 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub(crate) [u8; 4]);

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
    /// The key with these 32 bytes.
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
    pub(crate) fn from_base64(text: &str) -> Result<Self, KeyError> {
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

    /// The key's id: what a sealed link names, and all that logs show of it.
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
    /// Seals new links, and opens the links that name it.
    pub current: LinkKey,
    /// The key before the last rotation: opens the links sealed with it,
    /// seals nothing.
    pub previous: Option<LinkKey>,
}

impl LinkKeys {
    /// The current key and, after a rotation, the previous one.
    pub fn new(current: LinkKey, previous: Option<LinkKey>) -> Self {
        Self { current, previous }
    }

    /// Only one key, as before the first rotation.
    pub fn single(current: LinkKey) -> Self {
        Self::new(current, None)
    }

    /// The key a sealed link names, if we hold it.
    pub(crate) fn by_id(&self, id: KeyId) -> Option<&LinkKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|key| key.id == id)
    }
}

/// Why a key could not be read. Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key text is not base64.
    #[error("is not base64")]
    NotBase64,
    /// The key text decodes to anything but [`KEY_BYTES`] bytes.
    #[error("decodes to {bytes} bytes; a link key is {KEY_BYTES} bytes")]
    WrongLength {
        /// The bytes it decodes to.
        bytes: usize,
    },
    /// The secret is not the expected JSON object.
    #[error(
        r#"is not JSON of the form {{"current": "<base64 of 32 bytes>", "previous": "<optional base64>"}}"#
    )]
    SecretShape,
    /// A field of the secret holds no usable key.
    #[error("field \"{field}\" {reason}")]
    Field {
        /// `current` or `previous`.
        field: &'static str,
        /// What is wrong with its key.
        reason: Box<KeyError>,
    },
    /// Secrets Manager did not give the secret.
    #[error("could not be read from Secrets Manager ({code})")]
    SecretsManager {
        /// Its error code (`ResourceNotFoundException`, ...), or `timed out`
        /// or `no answer`.
        code: String,
    },
    /// The secret is binary: a `SecretString` is needed.
    #[error("has no SecretString (a binary secret is not supported)")]
    NotAString,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::test_keys::KEY_B;

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
}
