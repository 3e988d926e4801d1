//! Emailing the approvers of a recorded request: one email per approver, each
//! with links of their own, and only to approvers not emailed before, so a
//! redelivered request sends nobody a second email.
//!
//! Per approver: two fresh link ids are recorded, then the email goes out,
//! then the approver is marked emailed. A failure stops there and the request
//! is retried; links whose email never went out are known to nobody and die
//! with the request.

use std::collections::HashSet;

use crate::link::SealError;
use crate::notify::email::{self, Addressee, ButtonLinks, Terms};
use crate::notify::error::NotifyError;
use crate::notify::ses;
use crate::record::{ApprovalTable, ApproverLinks, LinkId, RequestStatus, StoredRequest};
use crate::{now_unix, rfc3339};

/// Where the emails come from and where their links point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mail<'a> {
    pub(crate) ses: &'a aws_sdk_sesv2::Client,
    pub(crate) from: &'a str,
    pub(crate) base_url: &'a str,
}

/// Emails every approver of `request` not emailed yet; how many emails went out.
pub(crate) async fn email_unsent(
    table: &ApprovalTable,
    mail: Mail<'_>,
    request: &StoredRequest,
) -> Result<usize, NotifyError> {
    if request.status != RequestStatus::Pending || now_unix() >= request.terms.expires_at {
        tracing::info!(
            request_id = %request.terms.id,
            token = %request.terms.token_fingerprint,
            status = request.status.as_str(),
            expires_at = %rfc3339(request.terms.expires_at),
            "approval request no longer pending; no email sent"
        );
        return Ok(0);
    }
    let emailed: HashSet<String> = table
        .approvers(&request.terms.id)
        .await?
        .into_iter()
        .filter(|approver| approver.emailed_at.is_some())
        .map(|approver| approver.address)
        .collect();
    let mut sent = 0;
    for (index, approver) in request.terms.approvers.iter().enumerate() {
        if emailed.contains(approver) {
            continue;
        }
        let message_id = email_one(table, mail, request, approver).await?;
        sent += 1;
        tracing::info!(
            request_id = %request.terms.id,
            token = %request.terms.token_fingerprint,
            approver = index + 1,
            approvers = request.terms.approvers.len(),
            quorum = request.terms.quorum,
            message_id = message_id.as_deref(),
            expires_at = %rfc3339(request.terms.expires_at),
            "approval email sent"
        );
    }
    Ok(sent)
}

/// Records fresh links for `approver`, emails them, and marks them emailed.
async fn email_one(
    table: &ApprovalTable,
    mail: Mail<'_>,
    request: &StoredRequest,
    approver: &str,
) -> Result<Option<String>, NotifyError> {
    let links = ApproverLinks {
        approve: LinkId::generate().map_err(|_| SealError::Rng)?,
        reject: LinkId::generate().map_err(|_| SealError::Rng)?,
    };
    table.put_links(request, approver, &links).await?;
    let buttons = ButtonLinks {
        approve: email::recorded_link_url(mail.base_url, &links.approve),
        reject: email::recorded_link_url(mail.base_url, &links.reject),
    };
    let addressee = Addressee {
        approver,
        approvers: request.terms.approvers.len(),
        quorum: request.terms.quorum,
    };
    let email = email::render_for(
        Terms::from(request),
        &buttons,
        request.terms.expires_at,
        &addressee,
    );
    let to = [approver.to_owned()];
    let message_id = ses::send_email(mail.ses, mail.from, &to, &email).await?;
    table
        .mark_emailed(
            &request.terms.id,
            approver,
            now_unix(),
            message_id.as_deref(),
        )
        .await?;
    Ok(message_id)
}
