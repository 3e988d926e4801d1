//! The pages of recorded mode: the ballot a link opens, and the answer to each
//! vote. Like every page, plain HTML without scripts; everything the requester
//! or an approver wrote is escaped, and the requester's text is shown without
//! format characters, as in the email.

use std::fmt::Write as _;

use serde_json::Value;

use super::form::MAX_COMMENT_CHARS;
use super::page::Page;
use crate::html::escape;
use crate::link::Action;
use crate::notify::email::detail_rows;
use crate::rfc3339;
use crate::text::without_format_characters;

/// What the ballot shows of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) subject: &'a str,
    pub(crate) summary: Option<&'a str>,
    pub(crate) details: Option<&'a Value>,
    pub(crate) approvals: u32,
    pub(crate) quorum: u32,
    /// When the link stops working, unix seconds.
    pub(crate) expires_at: u64,
}

/// "1 of 2 approvals".
pub(crate) fn progress(approvals: u32, quorum: u32) -> String {
    let noun = if quorum == 1 { "approval" } else { "approvals" };
    format!("{approvals} of {quorum} {noun}")
}

/// 200: the page a link opens. Names the approver it was sent to, the progress,
/// the request as the email showed it, and one button: the link's action.
pub(crate) fn ballot(approver: &str, action: Action, request: &RequestView<'_>) -> Page {
    let mut body = String::with_capacity(4096);
    let heading = match action {
        Action::Approve => "Approve this request?",
        Action::Reject => "Reject this request?",
    };
    let _ = write!(
        body,
        "<h1>{heading}</h1>\
         <p class=\"muted\">This link was sent to <strong class=\"approver\">{}</strong>.</p>\
         <p class=\"progress\">{} so far.</p>",
        escape(approver),
        escape(&progress(request.approvals, request.quorum)),
    );
    request_section(&mut body, request);
    let _ = write!(
        body,
        "<p class=\"muted\">Nothing has been decided yet. Your vote counts only when you \
         press the button below. This link works until {} (UTC).</p>",
        escape(&rfc3339(request.expires_at))
    );
    let (value, label) = match action {
        Action::Approve => ("approve", "Approve"),
        Action::Reject => ("reject", "Reject"),
    };
    let _ = write!(
        body,
        "<form method=\"post\">\
         <label for=\"comment\">Comment (optional)</label>\
         <textarea id=\"comment\" name=\"comment\" maxlength=\"{MAX_COMMENT_CHARS}\"></textarea>\
         <div class=\"buttons\"><button type=\"submit\" name=\"decision\" value=\"{value}\" \
         class=\"primary {value}\">{label}</button></div></form>"
    );
    Page::new(200, "Confirm your vote", &body)
}

/// The subject, summary and details table, as the email shows them.
fn request_section(body: &mut String, request: &RequestView<'_>) {
    let _ = write!(
        body,
        "<p><strong>{}</strong></p>",
        escape(&without_format_characters(request.subject))
    );
    if let Some(summary) = request.summary {
        let _ = write!(
            body,
            "<p class=\"summary\">{}</p>",
            escape(&without_format_characters(summary))
        );
    }
    let rows = detail_rows(request.details);
    if !rows.is_empty() {
        body.push_str("<table class=\"details\">");
        for (key, value) in rows {
            let _ = write!(
                body,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(&key),
                escape(&value)
            );
        }
        body.push_str("</table>");
    }
}

/// 200: the vote was counted and the request still waits for more approvals.
pub(crate) fn vote_counted(approvals: u32, quorum: u32) -> Page {
    let missing = quorum.saturating_sub(approvals);
    let more = if missing == 1 {
        "1 more approval arrives".to_owned()
    } else {
        format!("{missing} more approvals arrive")
    };
    Page::new(
        200,
        "Approval recorded",
        &format!(
            "<h1>Your approval is recorded</h1><p class=\"progress\">{} so far.</p>\
             <p>The workflow continues once {more}. Nothing more is needed from you.</p>\
             <p class=\"muted\">You can close this page.</p>",
            escape(&progress(approvals, quorum))
        ),
    )
}

/// 409: this approver has voted on the request already.
pub(crate) fn already_voted(decision: &str, decided_at: Option<u64>) -> Page {
    let when = decided_at.map_or_else(String::new, |at| format!(" at {} (UTC)", rfc3339(at)));
    Page::new(
        409,
        "You have already voted",
        &format!(
            "<h1>You have already voted</h1><p>Your vote ({}) was recorded{}. Each approver \
             votes once, so nothing has changed.</p><p class=\"muted\">You can close this page.</p>",
            escape(decision),
            escape(&when)
        ),
    )
}

/// 409: the request was decided; says what and by whom. With `unsent`, the
/// completion is not known to have reached the workflow: the page offers the
/// link's button to send it again (which works once the claim's lease is over).
pub(crate) fn decided(
    decision: &str,
    by: &[String],
    decided_at: Option<u64>,
    unsent: Option<Action>,
) -> Page {
    let who = if by.is_empty() {
        "its approvers".to_owned()
    } else {
        by.join(", ")
    };
    let when = decided_at.map_or_else(String::new, |at| format!(" at {} (UTC)", rfc3339(at)));
    let mut body = format!(
        "<h1>This request is already {decision}</h1>\
         <p>It was {decision} by <strong class=\"decided-by\">{who}</strong>{when}, so \
         there is nothing more to decide.</p>",
        decision = escape(decision),
        who = escape(&who),
        when = escape(&when),
    );
    match unsent {
        Some(action) => {
            let value = action.as_str();
            let _ = write!(
                body,
                "<p>The workflow has not confirmed the decision yet. If it is still waiting \
                 a minute from now, press the button to tell it again.</p>\
                 <form method=\"post\"><div class=\"buttons\"><button type=\"submit\" \
                 name=\"decision\" value=\"{value}\" class=\"secondary\">Tell the workflow \
                 again</button></div></form>"
            );
        }
        None => {
            body.push_str(
                "<p class=\"muted\">Thank you for checking. You can close this page.</p>",
            );
        }
    }
    Page::new(409, "Already decided", &body)
}

/// 410: the request was withdrawn.
pub(crate) fn withdrawn() -> Page {
    Page::new(
        410,
        "Withdrawn",
        "<h1>This request was withdrawn</h1><p>The request is no longer waiting for a \
         decision: it was withdrawn, so this link no longer works.</p>\
         <p class=\"muted\">You can close this page.</p>",
    )
}

/// 403: the approver is no longer allowed to approve.
pub(crate) fn not_allowed() -> Page {
    Page::new(
        403,
        "Not allowed",
        "<h1>You can no longer decide this request</h1><p>The list of people allowed to \
         approve has changed since this link was sent.</p>\
         <p>Please contact the person who sent the request.</p>",
    )
}

/// 404: no link is known by this id (never made, or expired and deleted).
pub(crate) fn unknown_link() -> Page {
    super::page::link_trouble(
        404,
        "Unknown link",
        "This link is not known",
        "There is no approval request behind this link.",
    )
}

/// 503: the vote is on record and decided the request, but the workflow has
/// not been told yet. Posting again (after a minute) finishes the job.
pub(crate) fn vote_recorded_not_sent() -> Page {
    Page::new(
        503,
        "Please try again in a minute",
        "<h1>Your vote is recorded; please try again in a minute</h1>\
         <p>Your vote is on record and decides the request, but the workflow could not be \
         told just now because the service is busy.</p>\
         <p>Open the link from the email again in a minute and press its button: that \
         tells the workflow. Your vote will not be counted twice.</p>",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SCRIPT: &str = "<script>alert(1)</script>";

    fn view(details: &Value) -> RequestView<'_> {
        RequestView {
            subject: "Approve deploy 42",
            summary: Some("Release 1.4.2"),
            details: Some(details),
            approvals: 1,
            quorum: 2,
            expires_at: 1_750_000_000,
        }
    }

    #[test]
    fn the_ballot_names_the_approver_and_the_progress() {
        let details = json!({"build": 42});
        let html = ballot("alice@example.com", Action::Approve, &view(&details)).html;
        assert!(html.contains("alice@example.com"), "{html}");
        assert!(html.contains("1 of 2 approvals"), "{html}");
    }

    #[test]
    fn the_ballot_shows_the_subject_summary_and_details_table() {
        let details = json!({"build": 42, "services": ["api", "web"], "owner": "ops"});
        let html = ballot("alice@example.com", Action::Approve, &view(&details)).html;
        assert!(html.contains("Approve deploy 42"));
        assert!(html.contains("Release 1.4.2"));
        assert!(html.contains("<table class=\"details\">"), "{html}");
        assert!(
            html.contains("<tr><th>build</th><td>42</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><th>services</th><td>[&quot;api&quot;,&quot;web&quot;]</td></tr>"),
            "{html}"
        );
    }

    #[test]
    fn the_ballot_has_one_button_the_links_action_and_a_comment() {
        let details = Value::Null;
        for (action, value, other) in [
            (Action::Approve, "approve", "reject"),
            (Action::Reject, "reject", "approve"),
        ] {
            let page = ballot("a@example.com", action, &view(&details));
            assert_eq!(page.status, 200);
            assert!(page.html.contains("<form method=\"post\">"));
            assert!(
                page.html.contains(&format!("value=\"{value}\"")),
                "{action:?}"
            );
            assert!(
                !page.html.contains(&format!("value=\"{other}\"")),
                "{action:?}"
            );
            assert!(page.html.contains("name=\"comment\""));
            assert_eq!(page.html.matches("<button").count(), 1);
            assert!(!page.html.contains("name=\"link\""), "no link in the page");
        }
    }

    #[test]
    fn the_ballot_escapes_and_cleans_what_the_requester_wrote() {
        let details = json!({ SCRIPT: SCRIPT });
        let request = RequestView {
            subject: "Invoice\u{202E}fdp.exe",
            summary: Some(SCRIPT),
            ..view(&details)
        };
        let html = ballot(SCRIPT, Action::Approve, &request).html;
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("Invoicefdp.exe"));
        assert!(!html.contains('\u{202E}'));
    }

    #[test]
    fn progress_reads_n_of_q_approvals() {
        assert_eq!(progress(1, 2), "1 of 2 approvals");
        assert_eq!(progress(0, 1), "0 of 1 approval");
    }

    #[test]
    fn the_decided_page_says_what_and_by_whom() {
        let page = decided(
            "approved",
            &["alice@example.com".into(), "bob@example.com".into()],
            Some(1_750_000_000),
            None,
        );
        assert_eq!(page.status, 409);
        assert!(page.html.contains("approved by <strong class=\"decided-by\">alice@example.com, bob@example.com</strong>"), "{}", page.html);
        assert!(page.html.contains("2025-06-15T15:06:40Z"));
    }

    #[test]
    fn every_recorded_outcome_has_its_status() {
        let statuses: Vec<u16> = [
            vote_counted(1, 2),
            already_voted("approved", None),
            decided("rejected", &[], None, None),
            withdrawn(),
            not_allowed(),
            unknown_link(),
            vote_recorded_not_sent(),
        ]
        .iter()
        .map(|page| page.status)
        .collect();
        assert_eq!(statuses, [200, 409, 409, 410, 403, 404, 503]);
    }

    #[test]
    fn a_decided_page_offers_to_tell_the_workflow_again_only_when_unsent() {
        let by = ["alice@example.com".to_owned()];
        let sent = decided("approved", &by, None, None).html;
        let unsent = decided("approved", &by, None, Some(Action::Approve)).html;
        assert!(!sent.contains("<form"));
        assert!(unsent.contains("<form method=\"post\">"), "{unsent}");
        assert!(unsent.contains("name=\"decision\" value=\"approve\""));
    }

    #[test]
    fn the_withdrawn_page_says_withdrawn() {
        assert!(withdrawn().html.contains("withdrawn"));
    }

    #[test]
    fn the_counted_page_says_how_many_more() {
        let html = vote_counted(1, 3).html;
        assert!(html.contains("1 of 3 approvals"));
        assert!(html.contains("2 more approvals"));
    }
}
