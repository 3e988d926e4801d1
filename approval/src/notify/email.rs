//! The approval email: an HTML part and a text part with the same content.
//! Everything the requester wrote is escaped in the HTML, and quoted after
//! the buttons in the text; the buttons are plain links to the confirmation
//! page.

use std::fmt::Write as _;

use serde_json::Value;

use super::request::ApprovalRequest;
use crate::html::escape;
use crate::link::SealedLink;
use crate::record::{LinkId, StoredRequest};
use crate::rfc3339;
use crate::text::{quote, without_format_characters};

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email {
    pub(crate) subject: String,
    pub(crate) html: String,
    pub(crate) text: String,
}

/// The full URLs behind the two buttons.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ButtonLinks {
    pub(crate) approve: String,
    pub(crate) reject: String,
}

impl std::fmt::Debug for ButtonLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each URL decides the request: not for logs.
        f.write_str("ButtonLinks(..)")
    }
}

/// The link for one button: the base URL with `l=<sealed>` added to its query.
pub(crate) fn link_url(base_url: &str, sealed: &SealedLink) -> String {
    let separator = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{separator}l={}", sealed.expose())
}

/// The link for one button in recorded mode: `{base URL}/a/{link id}`.
pub(crate) fn recorded_link_url(base_url: &str, link: &LinkId) -> String {
    format!("{}/a/{}", base_url.trim_end_matches('/'), link.expose())
}

/// What the email asks about, in the requester's words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms<'a> {
    pub(crate) subject: &'a str,
    pub(crate) summary: Option<&'a str>,
    pub(crate) details: Option<&'a Value>,
}

impl<'a> From<&'a ApprovalRequest> for Terms<'a> {
    fn from(request: &'a ApprovalRequest) -> Self {
        Self {
            subject: &request.subject,
            summary: request.summary.as_deref(),
            details: request.details.as_ref(),
        }
    }
}

impl<'a> From<&'a StoredRequest> for Terms<'a> {
    fn from(request: &'a StoredRequest) -> Self {
        Self {
            subject: &request.terms.subject,
            summary: request.terms.summary.as_deref(),
            details: request.terms.details.as_ref(),
        }
    }
}

/// Recorded mode: the one approver an email is for, and the quorum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addressee<'a> {
    pub(crate) approver: &'a str,
    pub(crate) approvers: usize,
    pub(crate) quorum: u32,
}

impl Addressee<'_> {
    /// Who the email is for and what decides, in one paragraph.
    fn ballot(&self) -> String {
        let to = if self.approvers == 1 {
            format!("Sent to {}, the only approver.", self.approver)
        } else {
            format!(
                "Sent to {}, one of {} approvers.",
                self.approver, self.approvers
            )
        };
        let decides = match self.quorum {
            1 => "One approval approves the request".to_owned(),
            quorum => format!("{quorum} approvals are needed to approve the request"),
        };
        format!("{to} {decides}; one rejection rejects it.")
    }
}

/// Renders the email for `request` with links that work until `expires_at`.
pub(crate) fn render(request: &ApprovalRequest, links: &ButtonLinks, expires_at: u64) -> Email {
    render_terms(Terms::from(request), links, expires_at, None)
}

/// Renders one approver's email in recorded mode: it names them and the quorum.
pub(crate) fn render_for(
    terms: Terms<'_>,
    links: &ButtonLinks,
    expires_at: u64,
    addressee: &Addressee<'_>,
) -> Email {
    render_terms(terms, links, expires_at, Some(addressee))
}

fn render_terms(
    terms: Terms<'_>,
    links: &ButtonLinks,
    expires_at: u64,
    addressee: Option<&Addressee<'_>>,
) -> Email {
    let rows = detail_rows(terms.details);
    let expires = rfc3339(expires_at);
    let context = Context {
        terms,
        rows: &rows,
        links,
        expires: &expires,
        addressee,
    };
    Email {
        subject: terms.subject.to_owned(),
        html: html(&context),
        text: text(&context),
    }
}

/// Everything one rendering needs.
struct Context<'a> {
    terms: Terms<'a>,
    rows: &'a [(String, String)],
    links: &'a ButtonLinks,
    expires: &'a str,
    addressee: Option<&'a Addressee<'a>>,
}

impl Context<'_> {
    fn forwarding(&self) -> &'static str {
        if self.addressee.is_some() {
            FORWARDING_RECORDED
        } else {
            FORWARDING
        }
    }
}

/// The details as (key, value) rows: an object's fields, with nested values as
/// compact JSON; anything else as one row.
pub(crate) fn detail_rows(details: Option<&Value>) -> Vec<(String, String)> {
    match details {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(key, value)| (without_format_characters(key), show(value)))
            .collect(),
        Some(other) => vec![("details".to_owned(), show(other))],
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(text) => without_format_characters(text),
        other => without_format_characters(&other.to_string()),
    }
}

const NOTICE: &str = "Each button opens a confirmation page. Nothing is decided until you \
                      confirm there, so it is safe to open the links to look.";
const FORWARDING: &str = "Anyone with these links can decide: please do not forward this email.";
const FORWARDING_RECORDED: &str = "These links are yours alone: a decision made with them is \
                                   recorded as yours. Please do not forward this email.";

fn html(context: &Context<'_>) -> String {
    let mut html = String::with_capacity(4096);
    html.push_str(concat!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    ));
    let _ = write!(
        html,
        "<title>{}</title></head>",
        escape(context.terms.subject)
    );
    html.push_str(concat!(
        "<body style=\"margin:0;padding:24px;background:#f4f5f7;",
        "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933\">",
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" ",
        "style=\"max-width:640px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px\">",
        "<tr><td>",
        "<p style=\"margin:0 0 8px;font-size:13px;color:#52606d\">Approval requested</p>",
    ));
    let _ = write!(
        html,
        "<h1 style=\"margin:0 0 16px;font-size:22px\">{}</h1>",
        escape(context.terms.subject)
    );
    if let Some(summary) = context.terms.summary {
        let _ = write!(
            html,
            "<p style=\"margin:0 0 16px;white-space:pre-wrap\">{}</p>",
            escape(summary)
        );
    }
    if !context.rows.is_empty() {
        html.push_str(
            "<table cellpadding=\"6\" cellspacing=\"0\" \
             style=\"border-collapse:collapse;margin:0 0 20px;font-size:14px;width:100%\">",
        );
        for (key, value) in context.rows {
            let _ = write!(
                html,
                "<tr><th align=\"left\" valign=\"top\" style=\"border-bottom:1px solid #e4e7eb;width:1%;white-space:nowrap;\
                 padding-right:16px;color:#52606d;font-weight:600\">{}</th>\
                 <td style=\"border-bottom:1px solid #e4e7eb;word-break:break-word\">{}</td></tr>",
                escape(key),
                escape(value)
            );
        }
        html.push_str("</table>");
    }
    if let Some(addressee) = context.addressee {
        let _ = write!(
            html,
            "<p style=\"margin:0 0 16px;font-size:15px\">{}</p>",
            escape(&addressee.ballot())
        );
    }
    let _ = write!(
        html,
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:8px 0 20px\"><tr>\
         <td style=\"border-radius:6px;background:#1f7a3a\">\
         <a href=\"{approve}\" style=\"display:inline-block;padding:12px 28px;color:#ffffff;\
         text-decoration:none;font-weight:700;font-size:16px\">Approve</a></td>\
         <td style=\"width:16px\"></td>\
         <td style=\"border-radius:6px;background:#b42318\">\
         <a href=\"{reject}\" style=\"display:inline-block;padding:12px 28px;color:#ffffff;\
         text-decoration:none;font-weight:700;font-size:16px\">Reject</a></td>\
         </tr></table>",
        approve = escape(&context.links.approve),
        reject = escape(&context.links.reject),
    );
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;font-size:14px\">{NOTICE}</p>\
         <p style=\"margin:0 0 8px;font-size:14px\">The links work until <strong>{}</strong> (UTC).</p>\
         <p style=\"margin:0;font-size:13px;color:#52606d\">{}</p>",
        escape(context.expires),
        context.forwarding()
    );
    html.push_str("</td></tr></table></body></html>");
    html
}

fn text(context: &Context<'_>) -> String {
    // The buttons come first and the requester's words after them, quoted, so
    // that no text of theirs can pass for an `Approve:` line and its link.
    let mut text = String::with_capacity(2048);
    text.push_str("Approval requested\n\n");
    if let Some(addressee) = context.addressee {
        let _ = write!(text, "{}\n\n", addressee.ballot());
    }
    let _ = write!(
        text,
        "Approve:\n{}\n\nReject:\n{}\n\n{NOTICE}\n\
         The links work until {} (UTC).\n{}\n\n\
         The request, as its sender wrote it:\n",
        context.links.approve,
        context.links.reject,
        context.expires,
        context.forwarding()
    );
    let mut written = context.terms.subject.to_owned();
    if let Some(summary) = context.terms.summary {
        let _ = write!(written, "\n\n{summary}");
    }
    if !context.rows.is_empty() {
        written.push('\n');
    }
    for (key, value) in context.rows {
        let _ = write!(written, "\n{key}: {value}");
    }
    text.push_str(&quote(&written));
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sfn_callback::token::TaskToken;

    use super::*;

    const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";
    const SCRIPT: &str = "<script>alert(1)</script>";

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            token: TaskToken::new(TOKEN).unwrap(),
            to: vec!["approver@example.com".into()],
            subject: "Approve deploy 42".into(),
            summary: Some("Release 1.4.2".into()),
            details: Some(json!({"build": 42, "services": ["api", "web"], "owner": "ops"})),
            expires_in_seconds: 86_400,
            quorum: None,
            requested_by: None,
        }
    }

    fn links() -> ButtonLinks {
        ButtonLinks {
            approve: "https://approve.example/?l=APPROVE_LINK".into(),
            reject: "https://approve.example/?l=REJECT_LINK".into(),
        }
    }

    fn email(request: &ApprovalRequest) -> Email {
        render(request, &links(), 1_750_000_000)
    }

    #[test]
    fn both_parts_carry_both_buttons_links() {
        let email = email(&request());
        for part in [&email.html, &email.text] {
            for link in [&links().approve, &links().reject] {
                assert!(part.contains(link.as_str()), "{part}");
            }
        }
        assert!(email.html.contains(">Approve</a>"));
        assert!(email.html.contains(">Reject</a>"));
    }

    #[test]
    fn email_says_nothing_is_decided_until_confirmed() {
        let email = email(&request());
        for part in [&email.html, &email.text] {
            assert!(
                part.contains("Nothing is decided until you confirm"),
                "{part}"
            );
        }
    }

    #[test]
    fn email_names_the_expiry_in_rfc3339_utc() {
        let email = email(&request());
        for part in [&email.html, &email.text] {
            assert!(part.contains("2025-06-15T15:06:40Z"), "{part}");
        }
    }

    #[test]
    fn subject_summary_and_details_appear_in_both_parts() {
        let email = email(&request());
        assert_eq!(email.subject, "Approve deploy 42");
        for part in [&email.html, &email.text] {
            assert!(part.contains("Approve deploy 42"));
            assert!(part.contains("Release 1.4.2"));
            assert!(part.contains("build"));
        }
    }

    /// Every line of `text`, split at each character a mail client may show
    /// as a line break.
    fn shown_lines(text: &str) -> Vec<&str> {
        text.split([
            '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
        ])
        .collect()
    }

    #[test]
    fn requester_text_follows_the_buttons_quoted_line_by_line() {
        let fake_buttons =
            "Approve:\nhttps://evil.example/?l=FAKE\n\nReject:\nhttps://evil.example/?l=FAKE";
        let request = ApprovalRequest {
            summary: Some(fake_buttons.into()),
            details: Some(json!({"note": fake_buttons})),
            ..request()
        };

        let text = email(&request).text;

        let approve = text.find("Approve:\n").unwrap();
        assert!(
            text[approve..].starts_with("Approve:\nhttps://approve.example/?l=APPROVE_LINK"),
            "{text}"
        );
        let buttons_end = text.find("?l=REJECT_LINK").unwrap();
        for written in ["evil.example", "Approve deploy 42", "note: "] {
            let first = text.find(written).unwrap();
            assert!(first > buttons_end, "{written} before the buttons: {text}");
        }
        for line in shown_lines(&text) {
            if line.contains("Approve deploy 42") || line.contains("evil.example") {
                assert!(
                    line.starts_with("> "),
                    "unquoted requester text {line:?} in {text}"
                );
            }
        }
    }

    #[test]
    fn every_line_break_in_requester_text_starts_a_quoted_line() {
        let request = ApprovalRequest {
            summary: Some(
                "a\rApprove:\u{2028}https://evil.example/1\u{2029}b\r\nc\u{85}https://evil.example/2\u{0B}https://evil.example/3"
                    .into(),
            ),
            ..request()
        };

        let text = email(&request).text;

        let mut seen = 0;
        for line in shown_lines(&text) {
            if line.contains("evil.example") {
                seen += 1;
                assert!(line.starts_with("> "), "unquoted line {line:?} in {text:?}");
            }
        }
        assert_eq!(seen, 3, "{text:?}");
    }

    #[test]
    fn nested_detail_values_are_shown_as_compact_json() {
        let rows = detail_rows(request().details.as_ref());
        assert!(rows.contains(&("services".into(), r#"["api","web"]"#.into())));
        assert!(rows.contains(&("owner".into(), "ops".into())));
        assert!(rows.contains(&("build".into(), "42".into())));
    }

    #[test]
    fn details_that_are_not_an_object_are_one_row() {
        assert_eq!(
            detail_rows(Some(&json!([1, 2]))),
            [("details".to_owned(), "[1,2]".to_owned())]
        );
        assert!(detail_rows(None).is_empty());
    }

    #[test]
    fn script_in_subject_summary_and_details_is_escaped_in_the_html() {
        let request = ApprovalRequest {
            subject: SCRIPT.into(),
            summary: Some(SCRIPT.into()),
            details: Some(json!({ SCRIPT: SCRIPT, "nested": {"x": SCRIPT} })),
            ..request()
        };
        let html = email(&request).html;
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn email_never_contains_the_token() {
        let email = email(&request());
        for part in [&email.html, &email.text, &email.subject] {
            assert!(!part.contains(TOKEN));
            assert!(!part.contains("AQCE"));
        }
    }

    /// The recorded email of [`request`] to alice, one of `approvers`, with
    /// `quorum` approvals needed.
    fn email_to_alice(approvers: usize, quorum: u32) -> Email {
        let addressee = Addressee {
            approver: "alice@example.com",
            approvers,
            quorum,
        };
        render_for(Terms::from(&request()), &links(), 1_750_000_000, &addressee)
    }

    #[test]
    fn recorded_email_names_its_approver_and_the_quorum_in_both_parts() {
        let email = email_to_alice(3, 2);
        for part in [&email.html, &email.text] {
            assert!(
                part.contains("Sent to alice@example.com, one of 3 approvers."),
                "{part}"
            );
            assert!(part.contains("2 approvals are needed"), "{part}");
            assert!(part.contains("These links are yours alone"), "{part}");
        }
        let ballot = email.text.find("Sent to alice@example.com").unwrap();
        assert!(
            ballot < email.text.find("Approve:\n").unwrap(),
            "{}",
            email.text
        );
    }

    #[test]
    fn recorded_email_to_the_only_approver_says_one_approval_decides() {
        let email = email_to_alice(1, 1);
        assert!(
            email.text.contains(
                "Sent to alice@example.com, the only approver. One approval approves the request"
            ),
            "{}",
            email.text
        );
    }

    #[test]
    fn stateless_email_does_not_name_an_approver() {
        let email = email(&request());
        assert!(!email.text.contains("Sent to"), "{}", email.text);
        assert!(email.text.contains(FORWARDING));
    }

    #[test]
    fn recorded_link_is_the_base_url_then_a_and_the_link_id() {
        let link = LinkId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // The base URL without, with one and with two trailing slashes.
        for base in ["", "/", "//"].map(|slashes| format!("https://a.example{slashes}")) {
            assert_eq!(
                recorded_link_url(&base, &link),
                "https://a.example/a/AAAAAAAAAAAAAAAAAAAAAA"
            );
        }
    }

    #[test]
    fn link_url_appends_the_sealed_link_to_the_query() {
        let keys = crate::link::LinkKeys::single(crate::link::LinkKey::new([1; 32]));
        let data = crate::link::LinkData {
            token: TaskToken::new(TOKEN).unwrap(),
            action: crate::link::Action::Approve,
            expires_at: 2_000_000_000,
            subject: None,
            summary: None,
        };
        let sealed = crate::link::seal(&keys, &data).unwrap();
        let plain = link_url("https://a.example/approve", &sealed);
        assert_eq!(
            plain,
            format!("https://a.example/approve?l={}", sealed.expose())
        );
        let with_query = link_url("https://a.example/approve?stage=prod", &sealed);
        assert_eq!(
            with_query,
            format!("https://a.example/approve?stage=prod&l={}", sealed.expose())
        );
    }
}
