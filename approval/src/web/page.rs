//! The pages `approval-http` answers with: the confirmation page and one result
//! page for each outcome, each with its status code. Plain HTML and inline
//! styles; no JavaScript at all, so a scanner that runs scripts decides nothing.
//!
//! No page shows the token. Only the confirmation page carries the sealed link,
//! in its form's hidden field, because submitting the form needs it.

use std::fmt::Write as _;

use super::form::MAX_COMMENT_CHARS;
use crate::html::escape;
use crate::link::{Action, LinkData};
use crate::rfc3339;
use crate::text::without_format_characters;

/// An HTML page and the status it is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) html: String,
}

impl Page {
    pub(crate) fn new(status: u16, title: &str, body: &str) -> Self {
        Self {
            status,
            html: layout(title, body),
        }
    }
}

const STYLE: &str = "\
body{margin:0;padding:24px;background:#f4f5f7;color:#1f2933;\
font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;line-height:1.5}\
main{max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px 28px}\
h1{font-size:22px;margin:0 0 12px}\
.muted{color:#52606d;font-size:14px}\
.summary{white-space:pre-wrap}\
label{display:block;font-weight:600;margin:16px 0 4px}\
textarea{width:100%;box-sizing:border-box;min-height:90px;font:inherit;padding:8px}\
.buttons{display:flex;gap:12px;margin-top:16px;flex-wrap:wrap}\
button{font:inherit;font-weight:700;font-size:16px;padding:10px 24px;border-radius:6px;cursor:pointer}\
.primary.approve{background:#1f7a3a;border:2px solid #1f7a3a;color:#fff}\
.primary.reject{background:#b42318;border:2px solid #b42318;color:#fff}\
.secondary{background:#fff;border:2px solid #9aa5b1;color:#1f2933}\
table.details{border-collapse:collapse;width:100%;font-size:14px;margin:12px 0}\
table.details th{text-align:left;vertical-align:top;color:#52606d;font-weight:600;\
white-space:nowrap;padding:6px 16px 6px 0;border-bottom:1px solid #e4e7eb;width:1%}\
table.details td{padding:6px 0;border-bottom:1px solid #e4e7eb;word-break:break-word}\
.progress{font-weight:600}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex, nofollow\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title),
    )
}

/// The page a link opens: names the request and asks the approver to confirm.
/// The button the link came from comes first and stands out; the other is
/// still there, in case the wrong button was clicked.
pub(crate) fn confirmation(link: &LinkData, sealed: &str) -> Page {
    let mut body = String::with_capacity(2048);
    let heading = match link.action {
        Action::Approve => "Approve this request?",
        Action::Reject => "Reject this request?",
    };
    let _ = write!(body, "<h1>{heading}</h1>");
    // Links sealed by hand, or before the notifier removed them, may still
    // carry format characters.
    if let Some(subject) = &link.subject {
        let subject = without_format_characters(subject);
        let _ = write!(body, "<p><strong>{}</strong></p>", escape(&subject));
    }
    if let Some(summary) = &link.summary {
        let summary = without_format_characters(summary);
        let _ = write!(body, "<p class=\"summary\">{}</p>", escape(&summary));
    }
    let _ = write!(
        body,
        "<p class=\"muted\">Nothing has been decided yet. Your decision counts only when you \
         press a button below. This link works until {} (UTC).</p>",
        escape(&rfc3339(link.expires_at))
    );
    let _ = write!(
        body,
        "<form method=\"post\">\
         <input type=\"hidden\" name=\"link\" value=\"{link}\">\
         <label for=\"comment\">Comment (optional)</label>\
         <textarea id=\"comment\" name=\"comment\" maxlength=\"{MAX_COMMENT_CHARS}\"></textarea>\
         <div class=\"buttons\">",
        link = escape(sealed),
    );
    let other = match link.action {
        Action::Approve => Action::Reject,
        Action::Reject => Action::Approve,
    };
    body.push_str(&button(link.action, "primary"));
    body.push_str(&button(other, "secondary"));
    body.push_str("</div></form>");
    Page::new(200, "Confirm your decision", &body)
}

fn button(action: Action, class: &str) -> String {
    let label = match action {
        Action::Approve => "Approve",
        Action::Reject => "Reject",
    };
    let value = action.as_str();
    format!(
        "<button type=\"submit\" name=\"decision\" value=\"{value}\" class=\"{class} {value}\">{label}</button>"
    )
}

/// 200: the approval reached the workflow.
pub(crate) fn approved() -> Page {
    Page::new(
        200,
        "Approved",
        "<h1>Approved</h1><p>Thank you. Your approval has been recorded and the workflow \
         continues.</p><p class=\"muted\">You can close this page.</p>",
    )
}

/// 200: the rejection reached the workflow.
pub(crate) fn rejected() -> Page {
    Page::new(
        200,
        "Rejected",
        "<h1>Rejected</h1><p>Thank you. Your rejection has been recorded and the workflow \
         has been told.</p><p class=\"muted\">You can close this page.</p>",
    )
}

/// 400: a link that is not ours, or was changed.
pub(crate) fn invalid_link() -> Page {
    link_trouble(
        400,
        "This link does not work",
        "This link does not work",
        "The link is incomplete or has been changed.",
    )
}

/// A page about a link that leads nowhere: `heading`, `what` is wrong, and
/// the advice to open the link again from the email.
pub(crate) fn link_trouble(status: u16, title: &str, heading: &str, what: &str) -> Page {
    Page::new(
        status,
        title,
        &format!(
            "<h1>{heading}</h1><p>{what} Please open it again from the original email, \
             making sure the whole link is used.</p>"
        ),
    )
}

/// 400: a form that cannot be read, with what was wrong (no request data).
pub(crate) fn bad_form(reason: &str) -> Page {
    Page::new(
        400,
        "Your decision could not be read",
        &format!(
            "<h1>Your decision could not be read</h1><p>{}.</p>\
             <p>Please open the link from the email again and submit the form there.</p>",
            escape(&capitalize(reason))
        ),
    )
}

/// 410: an authentic link, past its expiry.
pub(crate) fn expired(expired_at: u64) -> Page {
    Page::new(
        410,
        "This link has expired",
        &format!(
            "<h1>This link has expired</h1><p>It stopped working at {} (UTC), so this \
             request can no longer be decided here.</p>\
             <p class=\"muted\">If a decision is still needed, ask the requester to send a new one.</p>",
            escape(&rfc3339(expired_at))
        ),
    )
}

/// 409: somebody decided already, or the request ended another way. Not an
/// error for the approver: the workflow simply no longer waits.
pub(crate) fn already_decided() -> Page {
    Page::new(
        409,
        "Already decided",
        "<h1>This request is already settled</h1><p>A decision has already been made, or \
         the request is no longer waiting for one, so there is nothing more to do.</p>\
         <p class=\"muted\">Thank you for checking. You can close this page.</p>",
    )
}

/// 503: AWS was busy; the link still works.
pub(crate) fn try_again_later() -> Page {
    Page::new(
        503,
        "Please try again in a minute",
        "<h1>Please try again in a minute</h1><p>Your decision could not be recorded just \
         now because the service is busy. Nothing has been decided.</p>\
         <p>Your link still works: open it again from the email in a minute.</p>",
    )
}

/// 405: a method other than GET, HEAD or POST.
pub(crate) fn method_not_allowed() -> Page {
    Page::new(
        405,
        "Not allowed",
        "<h1>Not allowed</h1><p>This page can only be opened from the link in the approval \
         email.</p>",
    )
}

/// 413: a form body over the limit.
pub(crate) fn body_too_large() -> Page {
    Page::new(
        413,
        "Too much text",
        "<h1>Too much text</h1><p>The form sent was too large. Please keep your comment \
         short and submit again from the email's link.</p>",
    )
}

/// 500: something on our side; details are in the log only.
pub(crate) fn server_error() -> Page {
    Page::new(
        500,
        "Something went wrong",
        "<h1>Something went wrong</h1><p>Your decision could not be recorded because of a \
         problem on our side. Nothing has been decided.</p><p>Please contact the person who \
         sent the request.</p>",
    )
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use sfn_callback::token::TaskToken;

    use super::*;

    const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";
    const SCRIPT: &str = "<script>alert(1)</script>";

    fn link(action: Action) -> LinkData {
        LinkData {
            token: TaskToken::new(TOKEN).unwrap(),
            action,
            expires_at: 1_750_000_000,
            subject: Some("Approve deploy 42".into()),
            summary: Some("Release 1.4.2".into()),
        }
    }

    fn all_pages() -> Vec<Page> {
        vec![
            confirmation(&link(Action::Approve), "SEALED"),
            approved(),
            rejected(),
            invalid_link(),
            bad_form("the form has no decision"),
            expired(1_750_000_000),
            already_decided(),
            try_again_later(),
            method_not_allowed(),
            body_too_large(),
            server_error(),
        ]
    }

    #[test]
    fn confirmation_page_names_the_request() {
        let page = confirmation(&link(Action::Approve), "SEALED");
        assert_eq!(page.status, 200);
        assert!(page.html.contains("Approve deploy 42"));
        assert!(page.html.contains("Release 1.4.2"));
    }

    #[test]
    fn confirmation_page_posts_the_sealed_link_the_decision_and_a_comment() {
        let html = confirmation(&link(Action::Approve), "SEALED").html;
        assert!(html.contains("<form method=\"post\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"link\" value=\"SEALED\">"));
        assert!(html.contains("name=\"decision\" value=\"approve\""));
        assert!(html.contains("name=\"decision\" value=\"reject\""));
        assert!(html.contains("<textarea id=\"comment\" name=\"comment\" maxlength=\"1000\">"));
    }

    #[test]
    fn confirmation_page_puts_the_links_action_first_and_highlighted() {
        for (action, first, second) in [
            (
                Action::Approve,
                "value=\"approve\" class=\"primary",
                "value=\"reject\"",
            ),
            (
                Action::Reject,
                "value=\"reject\" class=\"primary",
                "value=\"approve\"",
            ),
        ] {
            let html = confirmation(&link(action), "SEALED").html;
            let first_at = html.find(first).unwrap();
            let second_at = html.find(second).unwrap();
            assert!(first_at < second_at, "{action:?}");
        }
    }

    #[test]
    fn no_page_has_any_script() {
        for page in all_pages() {
            assert!(
                !page.html.to_lowercase().contains("<script"),
                "{}",
                page.html
            );
            assert!(!page.html.contains("onclick"), "{}", page.html);
            assert!(!page.html.contains("javascript:"), "{}", page.html);
        }
    }

    #[test]
    fn no_page_shows_the_token() {
        for page in all_pages() {
            assert!(!page.html.contains(TOKEN), "{}", page.html);
        }
    }

    #[test]
    fn script_in_subject_and_summary_is_escaped() {
        let link = LinkData {
            subject: Some(SCRIPT.into()),
            summary: Some(SCRIPT.into()),
            ..link(Action::Approve)
        };
        let html = confirmation(&link, "SEALED").html;
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn format_characters_in_a_links_subject_and_summary_are_not_shown() {
        // A link sealed before they were stripped at the source, or by hand.
        let link = LinkData {
            subject: Some("Invoice\u{202E}fdp.exe\u{202C}".into()),
            summary: Some("Pay\u{200B} now\u{2067}".into()),
            ..link(Action::Approve)
        };

        let html = confirmation(&link, "SEALED").html;

        assert!(html.contains("Invoicefdp.exe"), "{html}");
        assert!(html.contains("Pay now"), "{html}");
        for format in ['\u{202E}', '\u{202C}', '\u{200B}', '\u{2067}'] {
            assert!(!html.contains(format), "{format:?} in {html}");
        }
    }

    #[test]
    fn expired_page_names_when_the_link_expired() {
        let page = expired(1_750_000_000);
        assert_eq!(page.status, 410);
        assert!(page.html.contains("2025-06-15T15:06:40Z"));
    }

    #[test]
    fn every_outcome_has_its_status() {
        let statuses: Vec<u16> = all_pages().iter().map(|page| page.status).collect();
        assert_eq!(
            statuses,
            [200, 200, 200, 400, 400, 410, 409, 503, 405, 413, 500]
        );
    }

    #[test]
    fn already_decided_page_is_kind_not_an_error() {
        let html = already_decided().html;
        assert!(html.contains("Thank you"));
        assert!(!html.to_lowercase().contains("error"));
    }
}
