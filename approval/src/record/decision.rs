//! What a decided request tells Step Functions.
//!
//! - Approved: SendTaskSuccess `{"decision": "approved", "quorum": Q, "votes":
//!   [{"approver", "decision", "comment", "decidedAt"}, ...]}`, the votes in the
//!   order they were cast, times in RFC 3339.
//! - Rejected: SendTaskFailure `ApprovalRejected`, with the cause
//!   `{"rejectedBy": ..., "comment": ...}` as JSON.

use serde_json::json;
use sfn_callback::completion::{Completion, CompletionError};

use super::request::RequestStatus;
use super::vote::{CastVote, in_cast_order};
use crate::link::Action;

/// The error a rejection fails the task with, for the state machine's `Catch`.
pub const REJECTED_ERROR: &str = "ApprovalRejected";

/// The success of a request approved by `votes` with quorum `quorum`.
pub fn approval(quorum: u32, votes: &[CastVote]) -> Completion {
    let mut votes = votes.to_vec();
    in_cast_order(&mut votes);
    let votes: Vec<_> = votes.iter().map(CastVote::to_json).collect();
    Completion::success(&json!({
        "decision": "approved",
        "quorum": quorum,
        "votes": votes,
    }))
}

/// The failure of a request rejected by `vote`.
pub fn rejection(vote: &CastVote) -> Result<Completion, CompletionError> {
    let cause = json!({"rejectedBy": vote.approver, "comment": vote.comment});
    Completion::failure(Some(REJECTED_ERROR.to_owned()), Some(cause.to_string()))
}

/// The completion of a request decided (`status`) by `votes`: `None` when
/// there is nothing to send (not decided), or a rejection without its reject.
pub fn completion(
    status: RequestStatus,
    quorum: u32,
    votes: &[CastVote],
) -> Option<Result<Completion, CompletionError>> {
    match status {
        RequestStatus::Approved => Some(Ok(approval(quorum, votes))),
        RequestStatus::Rejected => votes
            .iter()
            .find(|vote| vote.decision == Action::Reject)
            .map(rejection),
        RequestStatus::Pending | RequestStatus::Withdrawn => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const ALICE: &str = "alice@example.com";
    const BOB: &str = "bob@example.com";

    fn vote(approver: &str, decision: Action, comment: Option<&str>, at: u64) -> CastVote {
        CastVote {
            approver: approver.into(),
            decision,
            comment: comment.map(str::to_owned),
            decided_at: at,
        }
    }

    #[test]
    fn approval_output_has_the_quorum_and_the_votes_in_time_order() {
        let votes = [
            vote(BOB, Action::Approve, None, 1_750_000_060),
            vote(ALICE, Action::Approve, Some("ok"), 1_750_000_000),
        ];
        let Completion::Success { output } = approval(2, &votes) else {
            panic!("not a success");
        };
        let output: Value = serde_json::from_str(&output).unwrap();
        assert_eq!(
            output,
            json!({
                "decision": "approved",
                "quorum": 2,
                "votes": [
                    {"approver": "alice@example.com", "decision": "approved", "comment": "ok", "decidedAt": "2025-06-15T15:06:40Z"},
                    {"approver": "bob@example.com", "decision": "approved", "comment": null, "decidedAt": "2025-06-15T15:07:40Z"},
                ]
            })
        );
    }

    #[test]
    fn rejection_fails_the_task_naming_who_rejected_and_why() {
        let votes = [
            vote(ALICE, Action::Approve, None, 1),
            vote(BOB, Action::Reject, Some("not on a Friday"), 2),
        ];
        let Some(Ok(Completion::Failure { error, cause })) =
            completion(RequestStatus::Rejected, 2, &votes)
        else {
            panic!("not a failure");
        };
        assert_eq!(error.as_deref(), Some("ApprovalRejected"));
        let cause: Value = serde_json::from_str(&cause.unwrap()).unwrap();
        assert_eq!(
            cause,
            json!({"rejectedBy": "bob@example.com", "comment": "not on a Friday"})
        );
    }

    #[test]
    fn nothing_is_sent_for_an_undecided_request_or_a_rejection_without_its_reject() {
        let votes = [vote(ALICE, Action::Approve, None, 1)];
        assert!(completion(RequestStatus::Pending, 1, &votes).is_none());
        assert!(completion(RequestStatus::Withdrawn, 1, &votes).is_none());
        assert!(completion(RequestStatus::Rejected, 1, &votes).is_none());
    }

    #[test]
    fn rejection_without_a_comment_has_a_null_comment() {
        let Ok(Completion::Failure { cause, .. }) = rejection(&vote(BOB, Action::Reject, None, 1))
        else {
            panic!("not a failure");
        };
        let cause: Value = serde_json::from_str(&cause.unwrap()).unwrap();
        assert_eq!(
            cause,
            json!({"rejectedBy": "bob@example.com", "comment": null})
        );
    }
}
