//! The decision form the confirmation page posts: `link`, `decision`
//! (`approve` or `reject`) and an optional `comment`, as
//! `application/x-www-form-urlencoded`.

use std::fmt;

use crate::link::{Action, MAX_SEALED_CHARS};

/// The longest comment, as the page's `maxlength` counts it.
pub const MAX_COMMENT_CHARS: usize = 1_000;
/// The most bytes one comment character takes in the posted body: up to 4
/// bytes of UTF-8, each sent percent-encoded as 3 (a line break, which
/// `maxlength` counts once, is sent as `%0D%0A`: 6).
const MAX_POSTED_BYTES_PER_CHAR: usize = 4 * 3;
/// The largest form body read: what the page posts with the longest link that
/// opens (URL-safe base64, posted as it is) and the longest comment, so that
/// every comment the page allows gets through.
pub const MAX_BODY_BYTES: usize = "link=".len()
    + MAX_SEALED_CHARS
    + "&decision=approve".len()
    + "&comment=".len()
    + MAX_COMMENT_CHARS * MAX_POSTED_BYTES_PER_CHAR;

/// A decision form that passed every check but the link's own.
#[derive(Clone, PartialEq, Eq)]
pub struct DecisionForm {
    /// The sealed link from the hidden field, not yet opened.
    pub link: String,
    /// The button the approver pressed.
    pub decision: Action,
    /// Trimmed; `None` when blank.
    pub comment: Option<String>,
}

impl fmt::Debug for DecisionForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link decides the request: not for logs.
        f.debug_struct("DecisionForm")
            .field("link", &format_args!("<{} chars>", self.link.len()))
            .field("decision", &self.decision)
            .field("comment", &self.comment.as_ref().map(|c| c.chars().count()))
            .finish()
    }
}

/// Why a form body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The body is longer than [`MAX_BODY_BYTES`].
    #[error("the form is {bytes} bytes; the limit is {MAX_BODY_BYTES}")]
    TooLarge {
        /// The body's length.
        bytes: usize,
    },
    /// No `link` field, or a blank one.
    #[error("the form has no link")]
    MissingLink,
    /// No `decision` field.
    #[error("the form has no decision")]
    MissingDecision,
    /// `decision` is neither `approve` nor `reject`.
    #[error("the decision is neither approve nor reject")]
    UnknownDecision,
    /// A field comes more than once.
    #[error("the form has more than one {field}")]
    Repeated {
        /// The field's name.
        field: &'static str,
    },
    /// The comment is longer than [`MAX_COMMENT_CHARS`] characters.
    #[error("the comment is {chars} characters; the limit is {MAX_COMMENT_CHARS}")]
    CommentTooLong {
        /// Its length in characters.
        chars: usize,
    },
}

/// Parses a form body. Unknown fields are ignored; a repeated field is refused,
/// because which one the approver meant is unknowable.
pub fn parse(body: &[u8]) -> Result<DecisionForm, FormError> {
    let [link, decision, comment] =
        read_fields(body, MAX_BODY_BYTES, ["link", "decision", "comment"])?;
    let link = link
        .map(|link| link.trim().to_owned())
        .filter(|link| !link.is_empty())
        .ok_or(FormError::MissingLink)?;
    let decision = decision.ok_or(FormError::MissingDecision)?;
    let decision = Action::parse(decision.trim()).ok_or(FormError::UnknownDecision)?;
    Ok(DecisionForm {
        link,
        decision,
        comment: read_comment(comment)?,
    })
}

/// The values of the fields `names` in a form body of at most `max_bytes`,
/// in that order. Other fields are ignored; a repeated field is refused.
fn read_fields<const N: usize>(
    body: &[u8],
    max_bytes: usize,
    names: [&'static str; N],
) -> Result<[Option<String>; N], FormError> {
    if body.len() > max_bytes {
        return Err(FormError::TooLarge { bytes: body.len() });
    }
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    for (name, value) in form_urlencoded::parse(body) {
        let Some((field, slot)) = names
            .iter()
            .zip(values.iter_mut())
            .find(|(field, _)| **field == name)
        else {
            continue;
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(FormError::Repeated { field });
        }
    }
    Ok(values)
}

/// The comment as the approver meant it: trimmed, `None` when blank, at most
/// [`MAX_COMMENT_CHARS`] characters.
fn read_comment(comment: Option<String>) -> Result<Option<String>, FormError> {
    // Browsers count a line break as one character for `maxlength` but send two.
    let comment = comment
        .map(|comment| comment.replace("\r\n", "\n").trim().to_owned())
        .filter(|comment| !comment.is_empty());
    if let Some(comment) = &comment {
        let chars = comment.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(FormError::CommentTooLong { chars });
        }
    }
    Ok(comment)
}

/// The largest vote form read in recorded mode: the button and the longest
/// comment.
pub const MAX_VOTE_BODY_BYTES: usize =
    "decision=approve".len() + "&comment=".len() + MAX_COMMENT_CHARS * MAX_POSTED_BYTES_PER_CHAR;

/// The form a recorded-mode ballot posts: the link's own button and an
/// optional comment. The link in the path says what is voted; the button only
/// confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteForm {
    /// The button pressed, if the form named one.
    pub decision: Option<Action>,
    /// Trimmed; `None` when blank.
    pub comment: Option<String>,
}

/// Parses a ballot's form body. Unknown fields are ignored; a repeated field
/// is refused.
pub fn parse_vote(body: &[u8]) -> Result<VoteForm, FormError> {
    let [decision, comment] = read_fields(body, MAX_VOTE_BODY_BYTES, ["decision", "comment"])?;
    let decision = decision
        .map(|decision| Action::parse(decision.trim()).ok_or(FormError::UnknownDecision))
        .transpose()?;
    Ok(VoteForm {
        decision,
        comment: read_comment(comment)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approve_with_a_comment_is_read() {
        let form = parse(b"link=abc_-9&decision=approve&comment=Looks+good%21").unwrap();
        assert_eq!(
            form,
            DecisionForm {
                link: "abc_-9".into(),
                decision: Action::Approve,
                comment: Some("Looks good!".into()),
            }
        );
    }

    #[test]
    fn reject_without_a_comment_has_none() {
        let form = parse(b"link=abc&decision=reject&comment=++").unwrap();
        assert_eq!((form.decision, form.comment), (Action::Reject, None));
    }

    #[test]
    fn missing_link_or_decision_is_refused() {
        assert_eq!(parse(b"decision=approve"), Err(FormError::MissingLink));
        assert_eq!(
            parse(b"link=&decision=approve"),
            Err(FormError::MissingLink)
        );
        assert_eq!(parse(b"link=abc"), Err(FormError::MissingDecision));
    }

    #[test]
    fn unknown_decision_is_refused() {
        assert_eq!(
            parse(b"link=abc&decision=maybe"),
            Err(FormError::UnknownDecision)
        );
    }

    #[test]
    fn repeated_decision_is_refused() {
        assert_eq!(
            parse(b"link=abc&decision=approve&decision=reject"),
            Err(FormError::Repeated { field: "decision" })
        );
    }

    #[test]
    fn comment_of_1000_characters_is_accepted_and_1001_refused() {
        let body = |n: usize| format!("link=abc&decision=reject&comment={}", "%C3%A9".repeat(n));
        assert!(parse(body(1_000).as_bytes()).is_ok());
        assert_eq!(
            parse(body(1_001).as_bytes()),
            Err(FormError::CommentTooLong { chars: 1_001 })
        );
    }

    #[test]
    fn line_breaks_count_once_in_the_comment() {
        let comment = "a%0D%0A".repeat(500);
        let body = format!("link=abc&decision=reject&comment={comment}");
        let form = parse(body.as_bytes()).unwrap();
        assert_eq!(form.comment.unwrap().chars().count(), 999);
    }

    #[test]
    fn longest_comment_in_cjk_with_the_longest_link_is_read() {
        // 1,000 characters of 3 bytes each, percent-encoded: 9,000 bytes, and a
        // link as long as the one sealed for a 2,048-character token.
        let comment = "你".repeat(MAX_COMMENT_CHARS);
        let link = "A".repeat(2_263);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("link", &link)
            .append_pair("decision", "approve")
            .append_pair("comment", &comment)
            .finish();

        let form = parse(body.as_bytes()).unwrap();

        assert_eq!(form.comment, Some(comment));
        assert_eq!(form.link, link);
    }

    #[test]
    fn longest_link_with_the_longest_comment_of_four_byte_characters_is_read() {
        let comment = "𝄞".repeat(MAX_COMMENT_CHARS);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("link", &"A".repeat(MAX_SEALED_CHARS))
            .append_pair("decision", "approve")
            .append_pair("comment", &comment)
            .finish();

        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert_eq!(parse(body.as_bytes()).unwrap().comment, Some(comment));
    }

    #[test]
    fn body_over_the_limit_is_too_large() {
        let body = vec![b'a'; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse(&body),
            Err(FormError::TooLarge {
                bytes: MAX_BODY_BYTES + 1
            })
        );
    }

    #[test]
    fn garbage_bytes_are_refused_without_panicking() {
        for body in [
            &b"\xff\xfe%%%=&&=="[..],
            b"%zz=%",
            b"link=%ff&decision=approve%00",
            b"",
        ] {
            assert!(parse(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn a_vote_form_has_its_button_and_comment() {
        assert_eq!(
            parse_vote(b"decision=reject&comment=+not+now+"),
            Ok(VoteForm {
                decision: Some(Action::Reject),
                comment: Some("not now".into())
            })
        );
        assert_eq!(
            parse_vote(b""),
            Ok(VoteForm {
                decision: None,
                comment: None
            })
        );
    }

    #[test]
    fn a_vote_form_with_a_repeated_or_unknown_decision_is_refused() {
        assert_eq!(
            parse_vote(b"decision=approve&decision=approve"),
            Err(FormError::Repeated { field: "decision" })
        );
        assert_eq!(
            parse_vote(b"decision=maybe"),
            Err(FormError::UnknownDecision)
        );
    }

    #[test]
    fn the_longest_vote_comment_is_read_and_a_longer_body_refused() {
        let comment = "𝄞".repeat(MAX_COMMENT_CHARS);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("decision", "approve")
            .append_pair("comment", &comment)
            .finish();
        assert_eq!(body.len(), MAX_VOTE_BODY_BYTES);
        assert_eq!(parse_vote(body.as_bytes()).unwrap().comment, Some(comment));
        assert!(matches!(
            parse_vote(&vec![b'a'; MAX_VOTE_BODY_BYTES + 1]),
            Err(FormError::TooLarge { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_link() {
        let form = parse(b"link=SEALED-LINK-TEXT&decision=approve").unwrap();
        assert!(!format!("{form:?}").contains("SEALED-LINK-TEXT"));
    }
}
