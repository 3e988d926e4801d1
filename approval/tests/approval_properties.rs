//! Property tests (proptest) of the approval code that reads what anyone can
//! send: the sealed-link opener (the `l` parameter of every GET and POST) and
//! the decision form parser.
//!
//! Links: any text opens to an error, never a panic; a link we sealed opens to
//! exactly what was sealed; any change to its bytes (a flipped bit, a cut, an
//! extra byte, another key) is refused as malformed or tampered, never as
//! expired, so the answer tells a forger nothing about what is inside.
//! Forms: any body parses or is refused with a `FormError`, never a panic; a form
//! built from random field values is read as a model of the format says.
//! Recorded mode: any path routes without a panic, and only `/a/` followed by a
//! well-formed id names a link; any vote body parses or is refused.
//!
//! `cargo test` runs proptest's default of 256 cases per property; `make fuzz`
//! runs 200,000 (`PROPTEST_CASES`).

#![allow(
    clippy::unwrap_used,
    reason = "generators and helpers of a test: a panic is a failed test"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use sfn_callback::TaskToken;
use sfn_callback_approval::link::{self, Action, LinkData, LinkKey, LinkKeys, OpenError};
use sfn_callback_approval::record::LinkId;
use sfn_callback_approval::web::form::{self, FormError, MAX_BODY_BYTES, MAX_COMMENT_CHARS};
use sfn_callback_approval::web::route::{Route, route_of_path};

const NOW: u64 = 1_800_000_000;

fn keys() -> LinkKeys {
    LinkKeys::new(LinkKey::new([7; 32]), Some(LinkKey::new([8; 32])))
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::Approve), Just(Action::Reject)]
}

/// Link data as the notifier makes it: a valid token, an expiry after `NOW`,
/// and any subject and summary.
fn link_data() -> impl Strategy<Value = LinkData> {
    (
        "[A-Za-z0-9+/=]{1,700}",
        action(),
        NOW + 1..NOW + 60 * 60 * 24 * 30,
        proptest::option::of(any::<String>()),
        proptest::option::of(".{0,300}"),
    )
        .prop_map(|(token, action, expires_at, subject, summary)| LinkData {
            token: TaskToken::new(token).unwrap(),
            action,
            expires_at,
            subject,
            summary,
        })
}

fn sealed_bytes(data: &LinkData, key: &LinkKey) -> Vec<u8> {
    let sealed = link::seal_with(key, data).unwrap();
    URL_SAFE_NO_PAD.decode(sealed.expose()).unwrap()
}

/// Refused, and as nothing that depends on the sealed contents.
fn assert_refused_blind(opened: Result<LinkData, OpenError>) -> Result<(), TestCaseError> {
    match opened {
        Err(OpenError::Malformed | OpenError::Tampered) => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "a changed link must be refused as malformed or tampered, got {other:?}"
        ))),
    }
}

proptest! {
    #[test]
    fn any_text_as_a_link_is_refused_without_panicking(text in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,400}",
    ]) {
        assert_refused_blind(link::open(&keys(), &text, NOW))?;
    }

    #[test]
    fn any_bytes_in_link_form_are_refused_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        first in any::<u8>(),
    ) {
        let mut bytes = bytes;
        if let Some(version) = bytes.first_mut() {
            // Half the time, the right version byte, to get past the first check.
            *version = if first % 2 == 0 { 1 } else { first };
        }
        assert_refused_blind(link::open(&keys(), &URL_SAFE_NO_PAD.encode(bytes), NOW))?;
    }

    #[test]
    fn a_sealed_link_opens_to_exactly_what_was_sealed(data in link_data(), with_previous in any::<bool>()) {
        let keys = keys();
        let key = if with_previous { keys.previous.clone().unwrap() } else { keys.current.clone() };
        let sealed = link::seal_with(&key, &data).unwrap();
        prop_assert!(sealed.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(link::open(&keys, sealed.expose(), NOW).unwrap(), data);
    }

    #[test]
    fn an_authentic_link_past_its_expiry_is_expired(data in link_data(), late in prop_oneof![Just(0_u64), 0..1_000_000_u64]) {
        let sealed = link::seal_with(&keys().current, &data).unwrap();
        let opened = link::open(&keys(), sealed.expose(), data.expires_at + late);
        prop_assert_eq!(opened, Err(OpenError::Expired { at: data.expires_at }));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_refused_blind(data in link_data(), at in any::<prop::sample::Index>(), bit in 0..8_u8) {
        let mut bytes = sealed_bytes(&data, &keys().current);
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        // Even long past expiry: a changed link is never reported as expired.
        assert_refused_blind(link::open(&keys(), &URL_SAFE_NO_PAD.encode(bytes), data.expires_at + 1))?;
    }

    #[test]
    fn a_cut_or_lengthened_link_is_refused_blind(
        data in link_data(),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..40),
        lengthen in any::<bool>(),
    ) {
        let mut bytes = sealed_bytes(&data, &keys().current);
        if lengthen {
            bytes.extend_from_slice(&extra);
        } else {
            bytes.truncate(cut.index(bytes.len()));
        }
        assert_refused_blind(link::open(&keys(), &URL_SAFE_NO_PAD.encode(bytes), NOW))?;
    }

    #[test]
    fn a_link_sealed_with_a_key_we_do_not_hold_is_tampered(data in link_data(), key in any::<[u8; 32]>()) {
        prop_assume!(key != [7; 32] && key != [8; 32]);
        let sealed = link::seal_with(&LinkKey::new(key), &data).unwrap();
        prop_assert_eq!(link::open(&keys(), sealed.expose(), NOW), Err(OpenError::Tampered));
    }

    #[test]
    fn a_sealed_link_keeps_to_its_budget_unless_the_token_alone_exceeds_it(data in link_data()) {
        let keys = keys();
        let sealed = link::seal(&keys, &data).unwrap();
        let bare = LinkData { subject: None, summary: None, ..data.clone() };
        if link::seal_with(&keys.current, &bare).unwrap().len() <= link::SEAL_BUDGET_CHARS {
            prop_assert!(sealed.len() <= link::SEAL_BUDGET_CHARS, "{} chars", sealed.len());
        }
        let opened = link::open(&keys, sealed.expose(), NOW).unwrap();
        prop_assert_eq!((&opened.token, opened.action, opened.expires_at), (&data.token, data.action, data.expires_at));
    }

    #[test]
    fn any_form_body_parses_or_is_refused_without_panicking(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "[a-z=&%+0-9A-F ]{0,300}".prop_map(String::into_bytes),
        (MAX_BODY_BYTES - 1..MAX_BODY_BYTES + 2).prop_map(|n| vec![b'a'; n]),
    ]) {
        match form::parse(&body) {
            Ok(form) => {
                prop_assert!(!form.link.is_empty());
                prop_assert_eq!(form.link.trim(), form.link.as_str());
                if let Some(comment) = &form.comment {
                    prop_assert!(!comment.is_empty() && comment.chars().count() <= MAX_COMMENT_CHARS);
                }
            }
            Err(FormError::TooLarge { bytes }) => prop_assert!(bytes > MAX_BODY_BYTES),
            Err(_) => {}
        }
    }

    #[test]
    fn a_form_is_read_as_its_fields_say(
        link in proptest::option::of(".{0,60}"),
        decision in proptest::option::of(prop_oneof![
            Just("approve".to_owned()), Just("reject".to_owned()), Just(" approve ".to_owned()), ".{0,10}",
        ]),
        comment in proptest::option::of(prop_oneof![".{0,80}", "[a \r\n]{0,1100}"]),
        noise in proptest::collection::vec(("[a-z]{1,8}", ".{0,20}"), 0..4),
        order in any::<prop::sample::Index>(),
    ) {
        let mut fields: Vec<(String, String)> = noise
            .into_iter()
            .filter(|(name, _)| !["link", "decision", "comment"].contains(&name.as_str()))
            .collect();
        for (name, value) in [("link", &link), ("decision", &decision), ("comment", &comment)] {
            if let Some(value) = value {
                let at = order.index(fields.len() + 1);
                fields.insert(at, (name.to_owned(), value.clone()));
            }
        }
        let body = form_body(&fields);

        // The model, from the module's documentation.
        let want_link = link.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let want_decision = decision.as_deref().map(|d| match d.trim() {
            "approve" => Some(Action::Approve),
            "reject" => Some(Action::Reject),
            _ => None,
        });
        let want_comment = comment
            .as_deref()
            .map(|c| c.replace("\r\n", "\n").trim().to_owned())
            .filter(|c| !c.is_empty());
        let parsed = form::parse(body.as_bytes());
        if body.len() > MAX_BODY_BYTES {
            prop_assert_eq!(parsed, Err(FormError::TooLarge { bytes: body.len() }));
        } else if want_link.is_none() {
            prop_assert_eq!(parsed, Err(FormError::MissingLink));
        } else if want_decision.is_none() {
            prop_assert_eq!(parsed, Err(FormError::MissingDecision));
        } else if want_decision == Some(None) {
            prop_assert_eq!(parsed, Err(FormError::UnknownDecision));
        } else if let Some(chars) = want_comment.as_ref().map(|c| c.chars().count()).filter(|&n| n > MAX_COMMENT_CHARS) {
            prop_assert_eq!(parsed, Err(FormError::CommentTooLong { chars }));
        } else {
            let form = parsed.unwrap();
            prop_assert_eq!(Some(form.link.as_str()), want_link);
            prop_assert_eq!(Some(form.decision), want_decision.flatten());
            prop_assert_eq!(form.comment, want_comment);
        }
    }

    #[test]
    fn a_repeated_field_is_refused(field in prop_oneof![Just("link"), Just("decision"), Just("comment")]) {
        let mut fields = vec![
            ("link".to_owned(), "abc".to_owned()),
            ("decision".to_owned(), "approve".to_owned()),
            ("comment".to_owned(), "ok".to_owned()),
        ];
        fields.push((field.to_owned(), "again".to_owned()));
        prop_assert_eq!(form::parse(form_body(&fields).as_bytes()), Err(FormError::Repeated { field }));
    }
}

proptest! {
    #[test]
    fn any_path_routes_without_panicking_and_only_a_well_formed_id_is_a_link(path in prop_oneof![
        any::<String>(),
        "(/[A-Za-z0-9_./+=-]{0,30}){0,4}",
        "/a/[A-Za-z0-9_+/=-]{0,30}",
    ]) {
        match route_of_path(&path) {
            Route::Link(id) => {
                let suffix = format!("/a/{}", id.expose());
                prop_assert!(path.ends_with(&suffix), "{} does not end with {}", path, suffix);
                prop_assert_eq!(LinkId::parse(id.expose()), Ok(id));
            }
            Route::MalformedLink => prop_assert!(path.contains("/a/")),
            Route::Unknown => {}
        }
    }

    #[test]
    fn a_generated_link_id_always_routes_to_itself(prefix in "(/[a-z]{1,8}){0,2}") {
        let id = LinkId::generate().unwrap();
        prop_assert_eq!(route_of_path(&format!("{prefix}/a/{}", id.expose())), Route::Link(id));
    }

    #[test]
    fn any_vote_body_parses_or_is_refused_without_panicking(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "(decision|comment|link|x)=[^&]{0,50}(&(decision|comment)=[^&]{0,50}){0,3}".prop_map(String::into_bytes),
    ]) {
        if let Ok(vote) = form::parse_vote(&body) {
            prop_assert!(vote.comment.is_none_or(|comment| comment.chars().count() <= MAX_COMMENT_CHARS));
        }
    }
}

/// `application/x-www-form-urlencoded`, as a browser encodes it.
fn form_body(fields: &[(String, String)]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        body.append_pair(name, value);
    }
    body.finish()
}
