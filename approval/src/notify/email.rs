//! The approval email: an HTML part and a text part with the same content.
//! Everything the requester wrote is escaped in the HTML, and quoted after
//! the buttons in the text; the buttons are plain links to the confirmation
//! page.

use std::fmt::Write as _;

use serde_json::Value;

use super::request::ApprovalRequest;
use crate::html::escape;
use crate::link::SealedLink;
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

/// Renders the email for `request` with links that work until `expires_at`.
pub(crate) fn render(request: &ApprovalRequest, links: &ButtonLinks, expires_at: u64) -> Email {
    let rows = detail_rows(request.details.as_ref());
    let expires = rfc3339(expires_at);
    Email {
        subject: request.subject.clone(),
        html: html(request, &rows, links, &expires),
        text: text(request, &rows, links, &expires),
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

fn html(
    request: &ApprovalRequest,
    rows: &[(String, String)],
    links: &ButtonLinks,
    expires: &str,
) -> String {
    let mut html = String::with_capacity(4096);
    html.push_str(concat!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    ));
    let _ = write!(html, "<title>{}</title></head>", escape(&request.subject));
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
        escape(&request.subject)
    );
    if let Some(summary) = &request.summary {
        let _ = write!(
            html,
            "<p style=\"margin:0 0 16px;white-space:pre-wrap\">{}</p>",
            escape(summary)
        );
    }
    if !rows.is_empty() {
        html.push_str(
            "<table cellpadding=\"6\" cellspacing=\"0\" \
             style=\"border-collapse:collapse;margin:0 0 20px;font-size:14px;width:100%\">",
        );
        for (key, value) in rows {
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
        approve = escape(&links.approve),
        reject = escape(&links.reject),
    );
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;font-size:14px\">{NOTICE}</p>\
         <p style=\"margin:0 0 8px;font-size:14px\">The links work until <strong>{}</strong> (UTC).</p>\
         <p style=\"margin:0;font-size:13px;color:#52606d\">{FORWARDING}</p>",
        escape(expires)
    );
    html.push_str("</td></tr></table></body></html>");
    html
}

fn text(
    request: &ApprovalRequest,
    rows: &[(String, String)],
    links: &ButtonLinks,
    expires: &str,
) -> String {
    // The buttons come first and the requester's words after them, quoted, so
    // that no text of theirs can pass for an `Approve:` line and its link.
    let mut text = String::with_capacity(2048);
    let _ = write!(
        text,
        "Approval requested\n\nApprove:\n{}\n\nReject:\n{}\n\n{NOTICE}\n\
         The links work until {expires} (UTC).\n{FORWARDING}\n\n\
         The request, as its sender wrote it:\n",
        links.approve, links.reject
    );
    let mut written = request.subject.clone();
    if let Some(summary) = &request.summary {
        let _ = write!(written, "\n\n{summary}");
    }
    if !rows.is_empty() {
        written.push('\n');
    }
    for (key, value) in rows {
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
            assert!(
                part.contains("https://approve.example/?l=APPROVE_LINK"),
                "{part}"
            );
            assert!(
                part.contains("https://approve.example/?l=REJECT_LINK"),
                "{part}"
            );
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
