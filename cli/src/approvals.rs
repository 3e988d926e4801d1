//! `sfn-callback approvals show|revoke|list`: the operator's view of recorded
//! approvals (`APPROVAL_TABLE`, or `--table`). Never prints a token, a sealed
//! token or a link id: requests are named by their request id, tokens by
//! their fingerprint.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};
use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::completion::Completion;
use sfn_callback::config::Config;
use sfn_callback_approval::record::delivery::{self, Delivered, NotDelivered};
use sfn_callback_approval::record::ledger::{
    LedgerAction, LedgerEntry, LedgerOutcome, ScannerWindow, Visitor,
};
use sfn_callback_approval::record::vote::{COMPLETION_LEASE_SECONDS, CastVote};
use sfn_callback_approval::record::{
    ApprovalTable, CompletionState, RecordedSettings, RequestHistory, RequestId, RequestStatus,
    StoredRequest, Withdrawal,
};
use sfn_callback_approval::{link as link_seal, now_micros, now_unix, rfc3339};

use crate::failure::Failure;
use crate::{exit, link};

/// The error a revoked request's task fails with.
pub const REVOKED_ERROR: &str = "ApprovalRevoked";

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Print a request, its approvers, its votes and its ledger.
    Show {
        /// The request id, from the notifier's log line or `approvals list`.
        request_id: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The approval table (default: `APPROVAL_TABLE`).
        #[arg(long)]
        table: Option<String>,
    },
    /// Withdraw every link of a pending request (they answer 410 "withdrawn").
    Revoke {
        /// The request id.
        request_id: String,
        /// Also fail the task with `ApprovalRevoked` (needs the link key:
        /// `LINK_KEY_SECRET_ARN`, or `LINK_KEY` locally).
        #[arg(long)]
        fail: bool,
        /// The approval table (default: `APPROVAL_TABLE`).
        #[arg(long)]
        table: Option<String>,
    },
    /// Send a decided request's decision to Step Functions again, when its
    /// delivery was cut short (`list --pending` shows it as "not sent").
    /// Needs the link key (`LINK_KEY_SECRET_ARN`, or `LINK_KEY` locally).
    Resend {
        /// The request id.
        request_id: String,
        /// The approval table (default: `APPROVAL_TABLE`).
        #[arg(long)]
        table: Option<String>,
    },
    /// List recorded requests, oldest first.
    List {
        /// Only the requests that still wait for votes.
        #[arg(long)]
        pending: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// The approval table (default: `APPROVAL_TABLE`).
        #[arg(long)]
        table: Option<String>,
    },
}

/// Runs one `approvals` command; the exit codes are the CLI's.
pub async fn run(command: ApprovalsCommand) -> ExitCode {
    let outcome = match command {
        ApprovalsCommand::Show {
            request_id,
            json,
            table,
        } => show(table, &request_id, json).await,
        ApprovalsCommand::Revoke {
            request_id,
            fail,
            table,
        } => revoke(table, &request_id, fail).await,
        ApprovalsCommand::Resend { request_id, table } => resend(table, &request_id).await,
        ApprovalsCommand::List {
            pending,
            json,
            table,
        } => list(table, pending, json).await,
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => crate::failed(&failure),
    }
}

/// The table named by `--table`, else by `APPROVAL_TABLE`.
async fn table(name: Option<String>) -> Result<ApprovalTable, Failure> {
    let name = match name.filter(|name| !name.trim().is_empty()) {
        Some(name) => name,
        None => RecordedSettings::table_from_env().ok_or_else(|| {
            Failure::Invalid("no approval table: pass --table or set APPROVAL_TABLE".to_owned())
        })?,
    };
    let sdk_config = sfn_callback::aws::sdk_config().await;
    Ok(ApprovalTable::from_sdk_config(&sdk_config, name))
}

fn request_id(text: &str) -> Result<RequestId, Failure> {
    RequestId::parse(text.trim())
        .map_err(|err| Failure::Invalid(format!("{text:?} is not a request id ({err})")))
}

/// The failure of a request `id` that `table` does not hold, `more` said after.
fn no_request(id: &RequestId, table: &ApprovalTable, more: &str) -> Failure {
    Failure::Invalid(format!("no request {id} in {}{more}", table.name()))
}

async fn show(table_name: Option<String>, id: &str, as_json: bool) -> Result<u8, Failure> {
    let id = request_id(id)?;
    let table = table(table_name).await?;
    let Some(history) = table.history(&id).await? else {
        return Err(no_request(
            &id,
            &table,
            " (never recorded, or expired and deleted)",
        ));
    };
    if as_json {
        println!("{}", history_json(&history));
    } else {
        print!("{}", history_text(&history));
    }
    Ok(exit::DONE)
}

async fn revoke(table_name: Option<String>, id: &str, fail: bool) -> Result<u8, Failure> {
    let id = request_id(id)?;
    let table = table(table_name).await?;
    let request = match table.withdraw(&id, now_unix()).await? {
        Withdrawal::Withdrawn(request) => {
            println!("withdrawn: request {id}; its links now answer 410 \"withdrawn\"");
            record_revoke(&table, &request).await;
            request
        }
        Withdrawal::NotPending(request) if request.status == RequestStatus::Withdrawn => {
            println!("request {id} was withdrawn already");
            request
        }
        Withdrawal::NotPending(request) => {
            println!(
                "not withdrawn: request {id} is {} already{}; nothing was changed",
                request.status.as_str(),
                decided_by(&request)
            );
            return Ok(exit::ALREADY_CLOSED);
        }
        Withdrawal::NotFound => {
            return Err(no_request(&id, &table, ""));
        }
    };
    if !fail {
        return Ok(exit::DONE);
    }
    fail_task(&request).await
}

/// Puts the withdrawal on the request's ledger. The withdrawal itself is
/// done whatever becomes of this record, so a failure is only reported.
async fn record_revoke(table: &ApprovalTable, request: &StoredRequest) {
    let operator = std::env::var("USER")
        .ok()
        .filter(|user| !user.trim().is_empty())
        .map_or_else(|| "operator".to_owned(), |user| format!("operator {user}"));
    let entry = LedgerEntry::new(
        request.terms.id.clone(),
        &operator,
        LedgerAction::Revoke,
        LedgerOutcome::Revoked,
        now_micros(),
        Visitor {
            source_ip: None,
            user_agent: Some(concat!("sfn-callback/", env!("CARGO_PKG_VERSION")).to_owned()),
        },
        request.sent_at,
        ScannerWindow { seconds: 0 },
    );
    if let Err(err) = table.record(&entry, request.ttl).await {
        eprintln!("warning: the withdrawal is done, but its ledger record was not written: {err}");
    }
}

/// The Step Functions client the functions use, with their retry settings.
async fn callback_client() -> Result<CallbackClient, Failure> {
    let config = Config::from_env().map_err(|err| Failure::Invalid(err.to_string()))?;
    Ok(CallbackClient::from_env(config.retry).await)
}

/// Fails the withdrawn request's task with `ApprovalRevoked`.
async fn fail_task(request: &StoredRequest) -> Result<u8, Failure> {
    let keys = link::keys().await.map_err(Failure::Invalid)?;
    let token = link_seal::open_token(&keys, &request.terms.sealed_token).map_err(|err| {
        Failure::Invalid(format!(
            "the request's token does not open with the configured link key: {err}"
        ))
    })?;
    let cause = json!({
        "requestId": request.terms.id.as_str(),
        "revokedAt": rfc3339(now_unix()),
        "reason": "withdrawn by an operator (sfn-callback approvals revoke --fail)",
    });
    let completion = Completion::failure(Some(REVOKED_ERROR.to_owned()), Some(cause.to_string()))
        .map_err(|err| Failure::Invalid(err.to_string()))?;
    let client = callback_client().await?;
    Ok(
        match client.complete(&token, completion, Deadline::NONE).await {
            Ok(done) => crate::report_done("fail", &token, done),
            Err(err) => crate::report_error("fail", &token, &err),
        },
    )
}

/// Takes over a claimed completion whose lease is over and delivers it.
async fn resend(table_name: Option<String>, id: &str) -> Result<u8, Failure> {
    let id = request_id(id)?;
    let table = table(table_name).await?;
    let Some(request) = table.request(&id).await? else {
        return Err(no_request(&id, &table, ""));
    };
    let claimed_at = match (request.status, request.completion) {
        (RequestStatus::Pending | RequestStatus::Withdrawn, _) | (_, None) => {
            return Err(Failure::Invalid(format!(
                "request {id} is {}: there is no decision to send",
                request.status.as_str()
            )));
        }
        (_, Some(CompletionState::Sent)) => {
            println!("request {id}: its decision reached Step Functions already; nothing was sent");
            return Ok(exit::ALREADY_CLOSED);
        }
        (_, Some(CompletionState::Claimed { at })) => at,
    };
    let now = now_unix();
    let lease_ends = claimed_at.saturating_add(COMPLETION_LEASE_SECONDS);
    if now < lease_ends {
        println!(
            "request {id}: a vote is sending its decision now; try again in {} s",
            lease_ends - now
        );
        return Ok(exit::TRY_AGAIN);
    }
    // Everything the sending needs is ready before the claim is taken, so a
    // missing key or setting never leaves the claim held for nothing.
    let keys = link::keys().await.map_err(Failure::Invalid)?;
    let client = callback_client().await?;
    if !table.reclaim_completion(&id, claimed_at, now).await? {
        println!("request {id}: someone else took over sending its decision; nothing was sent");
        return Ok(exit::TRY_AGAIN);
    }
    match delivery::deliver(&table, &keys, &client, &request, Deadline::NONE).await {
        Ok(Delivered { token, outcome }) => Ok(match outcome {
            Ok(done) => crate::report_done("resend", &token, done),
            Err(err) => crate::report_error("resend", &token, &err),
        }),
        Err(NotDelivered::Votes(err)) => Err(err.into()),
        Err(err) => Err(Failure::Invalid(format!("request {id}: {err}"))),
    }
}

async fn list(
    table_name: Option<String>,
    only_pending: bool,
    as_json: bool,
) -> Result<u8, Failure> {
    let table = table(table_name).await?;
    let requests = table.requests(only_pending, now_unix()).await?;
    if as_json {
        for request in &requests {
            println!("{}", request_json(request));
        }
        return Ok(exit::DONE);
    }
    if requests.is_empty() {
        println!("no {}requests", if only_pending { "pending " } else { "" });
        return Ok(exit::DONE);
    }
    let rows: Vec<[String; 6]> = requests
        .iter()
        .map(|request| {
            [
                request.terms.id.to_string(),
                standing(request, now_unix()),
                format!("{} of {}", request.approvals, request.terms.quorum),
                rfc3339(request.terms.created_at),
                rfc3339(request.terms.expires_at),
                printable(&request.terms.subject),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::table::aligned(
            [
                "REQUEST",
                "STATUS",
                "APPROVALS",
                "CREATED",
                "EXPIRES",
                "SUBJECT"
            ],
            &rows
        )
    );
    Ok(exit::DONE)
}

/// The request's status as an operator needs it: a decision not yet sent,
/// or a pending request whose links have expired, says so.
fn standing(request: &StoredRequest, now: u64) -> String {
    match (request.status, request.completion) {
        (
            RequestStatus::Approved | RequestStatus::Rejected,
            Some(CompletionState::Claimed { .. }),
        ) => {
            format!("{} (not sent: approvals resend)", request.status.as_str())
        }
        (RequestStatus::Pending, _) if request.terms.expires_at <= now => "expired".to_owned(),
        (status, _) => status.as_str().to_owned(),
    }
}

/// " by a, b", or nothing when nobody decided.
fn decided_by(request: &StoredRequest) -> String {
    if request.decided_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", request.decided_by.join(", "))
    }
}

/// The request as the operator sees it: everything but the sealed token.
fn request_json(request: &StoredRequest) -> Value {
    let time = |at: Option<u64>| at.map(rfc3339);
    json!({
        "requestId": request.terms.id.as_str(),
        "status": request.status.as_str(),
        "subject": request.terms.subject,
        "summary": request.terms.summary,
        "details": request.terms.details,
        "approvers": request.terms.approvers,
        "quorum": request.terms.quorum,
        "approvals": request.approvals,
        "requestedBy": request.terms.requested_by,
        "token": request.terms.token_fingerprint,
        "createdAt": rfc3339(request.terms.created_at),
        "sentAt": time(request.sent_at),
        "expiresAt": rfc3339(request.terms.expires_at),
        "decidedAt": time(request.decided_at),
        "decidedBy": request.decided_by,
        "completion": match request.completion {
            None => None,
            Some(CompletionState::Claimed { .. }) => Some("claimed"),
            Some(CompletionState::Sent) => Some("sent"),
        },
        "withdrawnAt": time(request.withdrawn_at),
    })
}

fn history_json(history: &RequestHistory) -> Value {
    let approvers: Vec<Value> = history
        .approvers
        .iter()
        .map(|approver| {
            json!({
                "approver": approver.address,
                "emailedAt": approver.emailed_at.map(rfc3339),
            })
        })
        .collect();
    let votes: Vec<Value> = history.votes.iter().map(CastVote::to_json).collect();
    json!({
        "request": request_json(&history.request),
        "approvers": approvers,
        "votes": votes,
        "ledger": history.ledger,
    })
}

fn history_text(history: &RequestHistory) -> String {
    let request = &history.request;
    let mut text = format!(
        "request      {}\nstatus       {}{} ({} of {} approvals)\nsubject      {}\n",
        request.terms.id,
        standing(request, now_unix()),
        decided_by(request),
        request.approvals,
        request.terms.quorum,
        printable(&request.terms.subject),
    );
    if let Some(requested_by) = &request.terms.requested_by {
        let _ = writeln!(text, "requested by {requested_by}");
    }
    let _ = writeln!(
        text,
        "token        {}\ncreated      {}\nexpires      {}",
        request.terms.token_fingerprint,
        rfc3339(request.terms.created_at),
        rfc3339(request.terms.expires_at)
    );
    text.push_str("approvers\n");
    for approver in &history.approvers {
        let emailed = approver.emailed_at.map_or_else(
            || "not emailed".to_owned(),
            |at| format!("emailed {}", rfc3339(at)),
        );
        let _ = writeln!(text, "  {}  {emailed}", approver.address);
    }
    text.push_str("votes\n");
    if history.votes.is_empty() {
        text.push_str("  none\n");
    }
    for vote in &history.votes {
        let _ = writeln!(
            text,
            "  {}  {}  {}{}",
            vote.approver,
            vote.decision_text(),
            rfc3339(vote.decided_at),
            vote.comment
                .as_ref()
                .map(|comment| format!("  {comment:?}"))
                .unwrap_or_default(),
        );
    }
    text.push_str("ledger\n");
    if history.ledger.is_empty() {
        text.push_str("  none\n");
    }
    for record in &history.ledger {
        let scanner = if record.get("suspectedScanner") == Some(&Value::Bool(true)) {
            "  [suspected scanner]"
        } else {
            ""
        };
        let since = record
            .get("secondsSinceSent")
            .and_then(Value::as_u64)
            .map(|seconds| format!("  {seconds} s after sending"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  {}  {:<7}  {}  {}  from {} ({}){since}{scanner}",
            field(record, "at"),
            field(record, "action"),
            field(record, "approver"),
            field(record, "outcome"),
            field(record, "sourceIp"),
            field(record, "userAgent"),
        );
    }
    text
}

/// A field of a JSON record as text; "-" when absent. Control characters are
/// escaped: a user agent is whatever the visitor sent, and must not move the
/// operator's cursor or fake a line of the ledger.
fn field(record: &Value, name: &str) -> String {
    match record.get(name) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(text)) => printable(text),
        Some(other) => other.to_string(),
    }
}

/// `text` with its control characters escaped (`\u{1b}`), the rest as is.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_a_field_are_escaped() {
        let record = json!({"userAgent": "evil\u{1b}[2K\rfake line\u{9b}"});
        assert_eq!(
            field(&record, "userAgent"),
            "evil\\u{1b}[2K\\u{d}fake line\\u{9b}"
        );
    }

    #[test]
    fn a_missing_field_reads_as_a_dash() {
        let record = json!({"a": "text", "n": 5, "z": null});
        assert_eq!(field(&record, "a"), "text");
        assert_eq!(field(&record, "n"), "5");
        assert_eq!(field(&record, "z"), "-");
        assert_eq!(field(&record, "missing"), "-");
    }
}
