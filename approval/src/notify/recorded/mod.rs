//! The notifier in recorded mode (`APPROVAL_TABLE` set): the request is
//! checked against `APPROVERS_ALLOWED` and its quorum, recorded in the
//! approval table with its token sealed, and every approver gets an email of
//! their own with links of their own.
//!
//! | module | job |
//! |---|---|
//! | `ballot` (internal) | who votes and how many must approve: the check that refuses a request |
//! | [`refuse`] | failing a refused request's task with `ApprovalRequestInvalid` |
//! | `send` (internal) | one email per approver not emailed yet |

mod ballot;
pub mod refuse;
mod send;

use sfn_callback::client::{CallbackClient, Deadline};

use self::ballot::Refusal;
pub(crate) use self::send::Mail;
use super::error::NotifyError;
use super::request::ApprovalRequest;
use crate::link::{self, KeyStore};
use crate::now_unix;
use crate::record::{ApprovalTable, NewRequest, RecordedSettings, RequestId, RequestTerms};

/// What the notifier needs in recorded mode.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The approval table.
    pub table: ApprovalTable,
    /// `APPROVERS_ALLOWED` and the retention.
    pub settings: RecordedSettings,
    /// Fails the task of a refused request.
    pub callback: CallbackClient,
}

/// What became of a recorded-mode request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Recorded (now or before), and `emails_sent` approvers emailed now.
    Sent {
        request_id: RequestId,
        emails_sent: usize,
        expires_at: u64,
    },
    /// Refused: its task was failed with `ApprovalRequestInvalid` and `cause`.
    Refused {
        request_id: RequestId,
        cause: String,
    },
}

impl Recording {
    /// Checks, records and emails `request`, or refuses it.
    pub(crate) async fn notify(
        &self,
        mail: Mail<'_>,
        keys: &KeyStore,
        request: &ApprovalRequest,
        deadline: Deadline,
    ) -> Result<Recorded, NotifyError> {
        let request_id = RequestId::for_token(&request.token);
        let ballot = match ballot::check(request, &self.settings.approvers_allowed) {
            Ok(ballot) => ballot,
            Err(refusal) => return self.refuse(request, request_id, &refusal, deadline).await,
        };
        let keys = keys.keys().await?;
        let now = now_unix();
        let new = NewRequest {
            terms: RequestTerms {
                id: request_id.clone(),
                sealed_token: link::seal_token(&keys, &request.token)?,
                token_fingerprint: request.token.fingerprint().to_string(),
                subject: request.subject.clone(),
                summary: request.summary.clone(),
                details: request.details.clone(),
                approvers: ballot.approvers,
                quorum: ballot.quorum,
                requested_by: ballot.requested_by,
                created_at: now,
                expires_at: now.saturating_add(request.expires_in_seconds),
            },
            retention_days: self.settings.retention_days,
        };
        let created = self.table.create_request(&new).await?;
        let stored = created.request();
        let emails_sent = send::email_unsent(&self.table, mail, stored).await?;
        tracing::info!(
            request_id = %request_id,
            token = %request.token,
            redelivered = matches!(created, crate::record::Created::Existing(_)),
            emails_sent,
            approvers = stored.terms.approvers.len(),
            quorum = stored.terms.quorum,
            "approval request recorded"
        );
        Ok(Recorded::Sent {
            request_id,
            emails_sent,
            expires_at: stored.terms.expires_at,
        })
    }

    async fn refuse(
        &self,
        request: &ApprovalRequest,
        request_id: RequestId,
        refusal: &Refusal,
        deadline: Deadline,
    ) -> Result<Recorded, NotifyError> {
        let done = refuse::fail_task(&self.callback, &request.token, refusal, deadline).await?;
        tracing::warn!(
            request_id = %request_id,
            token = %request.token,
            outcome = ?done,
            error_type = refuse::REQUEST_INVALID_ERROR,
            cause = %refusal,
            "approval request refused; its task was failed"
        );
        Ok(Recorded::Refused {
            request_id,
            cause: refusal.cause().to_owned(),
        })
    }
}
