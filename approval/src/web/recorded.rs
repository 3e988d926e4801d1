//! Recorded mode's answers to `GET|HEAD|POST /a/{link id}`.
//!
//! - A malformed id is 400, an id the table does not know 404 (a forged id is
//!   simply unknown), and so is any other path: a stateless `?l=` link too, so
//!   that nothing read from the table can be turned into a link.
//! - GET and HEAD show the ballot: the approver the link was sent to, "N of Q
//!   approvals", the request as the email showed it, and one button, the
//!   link's action. They change nothing and call no Step Functions.
//! - POST votes (see [`crate::record::vote`]); the vote that decides the
//!   request sends its completion.
//! - A link no longer allowed is 403, a withdrawn request 410, an expired
//!   link 410, a decided request 409 naming who decided, a second vote 409.
//!
//! Every view and vote on a known link is one ledger record; an answer whose
//! record cannot be written is 503, so nothing is shown or refused unrecorded.
//! Logs name the request by its id and the task by its token's fingerprint,
//! never the link id, the token or a key.

use lambda_http::http::Method;
use lambda_http::{Request, RequestExt};
use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::outcome::{Classify, ErrorClass};

use super::form::{self, FormError, MAX_VOTE_BODY_BYTES};
use super::page::{self, Page};
use super::recorded_page::{self as pages, RequestView};
use super::route::{Route, route};
use super::router::query_link;
use super::send::send_completion;
use super::visitor::visitor;
use crate::link::{Action, KeyStore};
use crate::now_micros;
use crate::record::ledger::{LedgerAction, LedgerEntry, LedgerOutcome, ScannerWindow, Visitor};
use crate::record::link::LinkRecord;
use crate::record::vote::{Ballot, COMPLETION_LEASE_SECONDS, Cast};
use crate::record::{
    ApprovalTable, CompletionState, RecordedSettings, RequestStatus, StoredRequest, TableError,
};

/// What recorded mode needs beyond the keys and the Step Functions client.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) table: ApprovalTable,
    pub(crate) settings: RecordedSettings,
}

/// A known link, opened or posted.
struct Visit {
    link: LinkRecord,
    request: StoredRequest,
    visitor: Visitor,
    at_micros: u64,
}

impl Visit {
    fn now(&self) -> u64 {
        self.at_micros / 1_000_000
    }
}

impl Recorded {
    /// Answers one GET, HEAD or POST.
    pub(crate) async fn handle(
        &self,
        keys: &KeyStore,
        client: &CallbackClient,
        request: &Request,
    ) -> Page {
        let id = match route(request) {
            Route::Link(id) => id,
            Route::MalformedLink => {
                tracing::info!(outcome = "malformed id", "link refused");
                return page::invalid_link();
            }
            Route::Unknown => {
                let stateless = query_link(request).is_some();
                tracing::info!(
                    outcome = "no such page",
                    stateless_link = stateless,
                    "link refused"
                );
                return pages::unknown_link();
            }
        };
        let link = match self.table.link(&id).await {
            Ok(Some(link)) => link,
            Ok(None) => {
                tracing::info!(outcome = "unknown id", "link refused");
                return pages::unknown_link();
            }
            Err(err) => return table_failed(&err),
        };
        let stored = match self.table.request(&link.request_id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                tracing::warn!(request_id = %link.request_id, "link refused: its request is gone");
                return pages::unknown_link();
            }
            Err(err) => return table_failed(&err),
        };
        let visit = Visit {
            link,
            request: stored,
            visitor: visitor(request),
            at_micros: now_micros(),
        };
        if request.method() == Method::POST {
            let deadline = request
                .lambda_context_ref()
                .map_or(Deadline::NONE, |context| {
                    Deadline::from_epoch_millis(context.deadline)
                });
            self.vote(keys, client, &visit, request.body().as_ref(), deadline)
                .await
        } else {
            self.view(&visit).await
        }
    }

    /// GET or HEAD: the ballot, or why there is none. No Step Functions call.
    async fn view(&self, visit: &Visit) -> Page {
        let (page, outcome) = match self.refusal(visit) {
            Some(refused) => refused,
            None => match self
                .table
                .vote_of(&visit.request.terms.id, &visit.link.approver)
                .await
            {
                Ok(Some(vote)) => (
                    pages::already_voted(vote.decision_text(), Some(vote.decided_at)),
                    LedgerOutcome::AlreadyVoted,
                ),
                Ok(None) => (ballot(visit), LedgerOutcome::Shown),
                Err(err) => return table_failed(&err),
            },
        };
        self.answer_recorded(visit, LedgerAction::View, outcome, page)
            .await
    }

    /// POST: reads the form and casts the vote.
    async fn vote(
        &self,
        keys: &KeyStore,
        client: &CallbackClient,
        visit: &Visit,
        body: &[u8],
        deadline: Deadline,
    ) -> Page {
        let action = ledger_action(visit.link.action);
        let form = match form::parse_vote(body) {
            Ok(form)
                if form
                    .decision
                    .is_none_or(|button| button == visit.link.action) =>
            {
                form
            }
            Ok(_) => {
                let page = page::bad_form("the button pressed is not the link's");
                return self
                    .answer_recorded(visit, action, LedgerOutcome::InvalidForm, page)
                    .await;
            }
            Err(err) => {
                let page = match err {
                    FormError::TooLarge { bytes } => {
                        tracing::info!(
                            bytes,
                            limit = MAX_VOTE_BODY_BYTES,
                            "vote refused: too large"
                        );
                        page::body_too_large()
                    }
                    other => page::bad_form(&other.to_string()),
                };
                return self
                    .answer_recorded(visit, action, LedgerOutcome::InvalidForm, page)
                    .await;
            }
        };
        if self.refusal(visit).is_some() {
            return self.refused_vote(keys, client, visit, deadline).await;
        }
        let ballot = Ballot {
            approver: visit.link.approver.clone(),
            decision: visit.link.action,
            comment: form.comment,
            at: visit.now(),
        };
        let entry = self.entry(visit, action, LedgerOutcome::Accepted);
        match self
            .table
            .cast(visit.request.clone(), &ballot, &entry)
            .await
        {
            Ok(Cast::Counted { approvals }) => {
                tracing::info!(
                    request_id = %visit.request.terms.id,
                    action = action.as_str(),
                    approvals,
                    quorum = visit.request.terms.quorum,
                    "vote counted"
                );
                pages::vote_counted(approvals, visit.request.terms.quorum)
            }
            Ok(Cast::Decided(decided)) => {
                tracing::info!(
                    request_id = %decided.terms.id,
                    decision = decided.status.as_str(),
                    "vote decided the request"
                );
                send_completion(&self.table, keys, client, &decided, deadline).await
            }
            Ok(Cast::AlreadyVoted(vote)) => {
                let page = pages::already_voted(vote.decision_text(), Some(vote.decided_at));
                self.answer_recorded(visit, action, LedgerOutcome::AlreadyVoted, page)
                    .await
            }
            Ok(Cast::Closed(closed)) => {
                let visit = Visit {
                    link: visit.link.clone(),
                    request: closed,
                    visitor: visit.visitor.clone(),
                    at_micros: visit.at_micros,
                };
                self.refused_vote(keys, client, &visit, deadline).await
            }
            Err(err) => table_failed(&err),
        }
    }

    /// A vote on a request that takes none: recorded, then refused. On a
    /// decided request whose completion was claimed but never sent, once the
    /// claim's lease is over, this vote claims it again and sends it.
    async fn refused_vote(
        &self,
        keys: &KeyStore,
        client: &CallbackClient,
        visit: &Visit,
        deadline: Deadline,
    ) -> Page {
        let action = ledger_action(visit.link.action);
        let Some((refused, outcome)) = self.refusal(visit) else {
            // Not reached: callers come here only with a refusal.
            return page::server_error();
        };
        let entry = self.entry(visit, action, outcome);
        if let Err(err) = self.table.record(&entry, visit.request.ttl).await {
            return ledger_failed(&visit.request, &err);
        }
        log_use(visit, action, outcome);
        if outcome != LedgerOutcome::AlreadyDecided {
            return refused;
        }
        let request = &visit.request;
        match request.completion {
            Some(CompletionState::Claimed { at })
                if visit.now() >= at.saturating_add(COMPLETION_LEASE_SECONDS) =>
            {
                match self
                    .table
                    .reclaim_completion(&request.terms.id, at, visit.now())
                    .await
                {
                    Ok(true) => {
                        tracing::warn!(
                            request_id = %request.terms.id,
                            claimed_at = at,
                            "completion claimed again after its lease: sending it"
                        );
                        send_completion(&self.table, keys, client, request, deadline).await
                    }
                    Ok(false) => refused,
                    Err(err) => table_failed(&err),
                }
            }
            // While the claim holds, its holder may still be sending: a
            // second vote, even the decider's, is a second vote (409).
            _ => refused,
        }
    }

    /// Why `visit` takes no vote, if it takes none: in this order, an
    /// approver no longer allowed, a withdrawn request, a decided one, an
    /// expired link.
    fn refusal(&self, visit: &Visit) -> Option<(Page, LedgerOutcome)> {
        if !self.settings.approvers_allowed.allows(&visit.link.approver) {
            return Some((pages::not_allowed(), LedgerOutcome::NotAllowed));
        }
        match visit.request.status {
            RequestStatus::Withdrawn => {
                return Some((pages::withdrawn(), LedgerOutcome::Withdrawn));
            }
            RequestStatus::Approved | RequestStatus::Rejected => {
                return Some((
                    decided_page(&visit.request, visit.link.action),
                    LedgerOutcome::AlreadyDecided,
                ));
            }
            RequestStatus::Pending => {}
        }
        if visit.link.is_expired(visit.now()) {
            return Some((page::expired(visit.link.expires_at), LedgerOutcome::Expired));
        }
        None
    }

    /// The ledger record of `action` with `outcome` on `visit`.
    fn entry(&self, visit: &Visit, action: LedgerAction, outcome: LedgerOutcome) -> LedgerEntry {
        LedgerEntry::new(
            visit.request.terms.id.clone(),
            &visit.link.approver,
            action,
            outcome,
            visit.at_micros,
            visit.visitor.clone(),
            // This approver's own email, not the request's first one.
            visit.link.created_at.or(visit.request.sent_at),
            ScannerWindow {
                seconds: self.settings.scanner_window_seconds,
            },
        )
    }

    /// Records `action` with `outcome`, then answers `page`; 503 when the
    /// record cannot be written.
    async fn answer_recorded(
        &self,
        visit: &Visit,
        action: LedgerAction,
        outcome: LedgerOutcome,
        page: Page,
    ) -> Page {
        let entry = self.entry(visit, action, outcome);
        match self.table.record(&entry, visit.request.ttl).await {
            Ok(()) => {
                log_use(visit, action, outcome);
                page
            }
            Err(err) => ledger_failed(&visit.request, &err),
        }
    }
}

/// The ballot for `visit`.
fn ballot(visit: &Visit) -> Page {
    let request = &visit.request;
    pages::ballot(
        &visit.link.approver,
        visit.link.action,
        &RequestView {
            subject: &request.terms.subject,
            summary: request.terms.summary.as_deref(),
            details: request.terms.details.as_ref(),
            approvals: request.approvals,
            quorum: request.terms.quorum,
            expires_at: visit.link.expires_at,
        },
    )
}

/// 409: what was decided, by whom and when; while the completion is only
/// claimed, with the link's button to send it again.
fn decided_page(request: &StoredRequest, action: Action) -> Page {
    let unsent = matches!(request.completion, Some(CompletionState::Claimed { .. }));
    pages::decided(
        request.status.as_str(),
        &request.decided_by,
        request.decided_at,
        unsent.then_some(action),
    )
}

fn ledger_action(action: Action) -> LedgerAction {
    match action {
        Action::Approve => LedgerAction::Approve,
        Action::Reject => LedgerAction::Reject,
    }
}

fn log_use(visit: &Visit, action: LedgerAction, outcome: LedgerOutcome) {
    tracing::info!(
        request_id = %visit.request.terms.id,
        action = action.as_str(),
        outcome = outcome.as_str(),
        "approval link used"
    );
}

/// 503 or 500 for a table that failed, by the one classification.
fn table_failed(err: &TableError) -> Page {
    match err.class() {
        ErrorClass::Transient => {
            tracing::warn!(error = %err, "approval table unavailable");
            page::try_again_later()
        }
        ErrorClass::Permanent => {
            tracing::error!(error = %err, "approval table refused");
            page::server_error()
        }
    }
}

/// Nothing is answered unrecorded: 503 (or 500) when the ledger record failed.
fn ledger_failed(request: &StoredRequest, err: &TableError) -> Page {
    tracing::warn!(request_id = %request.terms.id, error = %err, "ledger record not written: answer withheld");
    table_failed(err)
}
