//! The task token: valid by construction, and impossible to log by accident.

use std::fmt;

use sha2::{Digest, Sha256};

/// Step Functions accepts task tokens of 1 to 2,048 characters.
pub const MAX_TOKEN_CHARS: usize = 2048;

/// A Step Functions task token that passed validation.
///
/// `Debug` and `Display` print only a fingerprint (`token:` and the first 8 hex
/// digits of its SHA-256), so a token cannot reach a log through `{}` or `{:?}`.
/// The raw value is available only through [`TaskToken::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskToken(Box<str>);

/// Why a string is not a task token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty.
    #[error("task token is empty")]
    Empty,
    /// The token is over [`MAX_TOKEN_CHARS`].
    #[error("task token is {chars} characters long; the limit is {MAX_TOKEN_CHARS}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The token has a space, most likely a `+` that was URL-decoded.
    #[error(
        "task token has a space at character {position}; a '+' was probably URL-decoded into a space"
    )]
    Space {
        /// The character index of the space.
        position: usize,
    },
    /// The token has other whitespace or a control character.
    #[error(
        "task token has whitespace or a control character (U+{code:04X}) at character {position}"
    )]
    ControlOrWhitespace {
        /// The character index.
        position: usize,
        /// The character's code point.
        code: u32,
    },
}

impl TaskToken {
    /// Validates `raw` as a task token.
    pub fn new(raw: impl Into<String>) -> Result<Self, TokenError> {
        let raw: String = raw.into();
        if raw.is_empty() {
            return Err(TokenError::Empty);
        }
        let mut chars = 0;
        for (position, c) in raw.chars().enumerate() {
            chars += 1;
            if c == ' ' {
                return Err(TokenError::Space { position });
            }
            if c.is_whitespace() || c.is_control() {
                return Err(TokenError::ControlOrWhitespace {
                    position,
                    code: u32::from(c),
                });
            }
        }
        if chars > MAX_TOKEN_CHARS {
            return Err(TokenError::TooLong { chars });
        }
        Ok(Self(raw.into_boxed_str()))
    }

    /// The raw token, for the one place that sends it to Step Functions.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, stable, non-reversible name for this token, safe to log.
    pub fn fingerprint(&self) -> Fingerprint {
        let digest = Sha256::digest(self.0.as_bytes());
        Fingerprint([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken({})", self.fingerprint())
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fingerprint(), f)
    }
}

/// The first 8 hex digits of a token's SHA-256, printed as `token:1a2b3c4d`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 4]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("token:")?;
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALISTIC: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";

    #[test]
    fn realistic_token_with_plus_slash_and_equals_is_valid() {
        assert_eq!(
            TaskToken::new(REALISTIC).map(|t| t.expose().to_owned()),
            Ok(REALISTIC.to_owned())
        );
    }

    #[test]
    fn empty_token_is_rejected() {
        assert_eq!(TaskToken::new(""), Err(TokenError::Empty));
    }

    #[test]
    fn token_of_2048_characters_is_valid_and_2049_is_too_long() {
        assert!(TaskToken::new("a".repeat(2048)).is_ok());
        assert_eq!(
            TaskToken::new("a".repeat(2049)),
            Err(TokenError::TooLong { chars: 2049 })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(TaskToken::new("é".repeat(2048)).is_ok());
    }

    #[test]
    fn space_error_hints_at_url_decoded_plus() {
        let err = TaskToken::new("abc def").unwrap_err();
        assert_eq!(err, TokenError::Space { position: 3 });
        assert!(err.to_string().contains("'+' was probably URL-decoded"));
    }

    #[test]
    fn newline_tab_and_nul_are_rejected() {
        for (raw, code) in [("a\nb", 0x0a), ("a\tb", 0x09), ("a\0b", 0x00)] {
            assert_eq!(
                TaskToken::new(raw),
                Err(TokenError::ControlOrWhitespace { position: 1, code })
            );
        }
    }

    #[test]
    fn debug_and_display_show_only_the_fingerprint() {
        let token = TaskToken::new(REALISTIC).unwrap();
        for shown in [
            format!("{token}"),
            format!("{token:?}"),
            format!("{:?}", Some(&token)),
        ] {
            assert!(!shown.contains("AQCE"), "{shown}");
            assert!(shown.contains("token:"), "{shown}");
        }
    }

    #[test]
    fn fingerprint_is_first_8_hex_digits_of_sha256() {
        // sha256("abc") = ba7816bf...
        let token = TaskToken::new("abc").unwrap();
        assert_eq!(token.fingerprint().to_string(), "token:ba7816bf");
    }
}
