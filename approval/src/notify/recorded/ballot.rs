//! Who votes and how many must approve: the request's `to`, `quorum` and
//! `requestedBy` checked against `APPROVERS_ALLOWED`. A request that does not
//! pass is refused whole, before anything is written or sent.

use std::fmt;

use serde_json::Value;

use crate::notify::request::{ApprovalRequest, check_address};
use crate::record::ApproversAllowed;

/// The approvers of a request that passed, and its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ballot {
    /// Lowercase, in request order, each once, without `requested_by`.
    pub(crate) approvers: Vec<String>,
    /// Approvals needed: from 1 to the number of approvers.
    pub(crate) quorum: u32,
    /// The requester, lowercase.
    pub(crate) requested_by: Option<String>,
}

/// Why a request is refused: the cause its task is failed with. It names the
/// address or the quorum at fault, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(String);

impl Refusal {
    pub(crate) fn cause(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `request` against `allowed`: every address in `to` must be
/// allowed, and the approvers other than the requester must be able to reach
/// the quorum.
pub(crate) fn check(
    request: &ApprovalRequest,
    allowed: &ApproversAllowed,
) -> Result<Ballot, Refusal> {
    for (index, address) in request.to.iter().enumerate() {
        if !allowed.allows(address) {
            return Err(Refusal(format!(
                "to[{index}] {address} is not allowed to approve: APPROVERS_ALLOWED \
                 lists neither the address nor its @domain"
            )));
        }
    }
    let requested_by = requested_by(request.requested_by.as_ref())?;
    let mut approvers: Vec<String> = Vec::with_capacity(request.to.len());
    let mut requester_named = false;
    for address in &request.to {
        let address = address.trim().to_ascii_lowercase();
        if requested_by.as_deref() == Some(address.as_str()) {
            requester_named = true;
        } else if !approvers.contains(&address) {
            approvers.push(address);
        }
    }
    let quorum = quorum(request.quorum.as_ref())?;
    let voters = approvers.len();
    let reachable = usize::try_from(quorum)
        .ok()
        .filter(|&needed| needed <= voters)
        .and_then(|needed| u32::try_from(needed).ok());
    let Some(reachable) = reachable else {
        let counted = if requester_named {
            format!(
                " (requestedBy {} is in to, and the requester never counts toward the quorum)",
                requested_by.as_deref().unwrap_or_default()
            )
        } else {
            String::new()
        };
        return Err(Refusal(format!(
            "quorum is {quorum}, but only {voters} approver{} can vote{counted}",
            if voters == 1 { "" } else { "s" }
        )));
    };
    Ok(Ballot {
        approvers,
        quorum: reachable,
        requested_by,
    })
}

/// `quorum`: a whole number from 1; absent means 1.
fn quorum(given: Option<&Value>) -> Result<u64, Refusal> {
    let Some(given) = given else {
        return Ok(1);
    };
    match given.as_u64() {
        Some(0) => Err(Refusal("quorum is 0: it must be at least 1".to_owned())),
        Some(quorum) => Ok(quorum),
        None => Err(Refusal(
            "quorum must be a whole number of approvals, at least 1".to_owned(),
        )),
    }
}

/// `requestedBy`: an address, lowercase; absent is none.
fn requested_by(given: Option<&Value>) -> Result<Option<String>, Refusal> {
    let Some(given) = given else {
        return Ok(None);
    };
    let Some(address) = given.as_str() else {
        return Err(Refusal(
            "requestedBy must be the requester's email address, as a string".to_owned(),
        ));
    };
    check_address(address)
        .map_err(|reason| Refusal(format!("requestedBy is not an email address: {reason}")))?;
    Ok(Some(address.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use sfn_callback::TaskToken;

    use super::*;

    fn allowed() -> ApproversAllowed {
        ApproversAllowed::parse("@example.com,lead@partner.example").unwrap()
    }

    fn request(to: &[&str], quorum: Option<u64>, requested_by: Option<&str>) -> ApprovalRequest {
        let quorum = quorum.map(Value::from);
        let requested_by = requested_by.map(Value::from);
        ApprovalRequest {
            token: TaskToken::new("AQCEAAAAKgAAAAMAAAAAAAAAAeMc").unwrap(),
            to: to.iter().map(|&a| a.to_owned()).collect(),
            subject: "Approve deploy 42".into(),
            summary: None,
            details: None,
            expires_in_seconds: 3600,
            quorum,
            requested_by,
        }
    }

    /// The refusal of a request to a@example.com once `change` changed it.
    fn refusal_of_one_approver_with(change: impl FnOnce(&mut ApprovalRequest)) -> Refusal {
        let mut request = request(&["a@example.com"], None, None);
        change(&mut request);
        check(&request, &allowed()).unwrap_err()
    }

    #[test]
    fn allowed_approvers_with_a_reachable_quorum_pass_lowercase_and_once() {
        let ballot = check(
            &request(
                &[
                    "Alice@Example.com",
                    "lead@partner.example",
                    "alice@example.com",
                ],
                Some(2),
                None,
            ),
            &allowed(),
        )
        .unwrap();
        assert_eq!(
            ballot.approvers,
            ["alice@example.com", "lead@partner.example"]
        );
        assert_eq!(ballot.quorum, 2);
    }

    #[test]
    fn the_quorum_defaults_to_one() {
        let ballot = check(&request(&["a@example.com"], None, None), &allowed()).unwrap();
        assert_eq!(ballot.quorum, 1);
    }

    #[test]
    fn an_address_not_allowed_refuses_the_request_naming_it() {
        let refusal = check(
            &request(&["a@example.com", "mallory@evil.example"], None, None),
            &allowed(),
        )
        .unwrap_err();
        assert!(
            refusal.cause().contains("mallory@evil.example"),
            "{refusal}"
        );
        assert!(refusal.cause().contains("to[1]"), "{refusal}");
    }

    #[test]
    fn a_quorum_the_approvers_cannot_reach_is_refused() {
        for quorum in [0, 3, u64::from(u32::MAX) + 1] {
            let refusal = check(
                &request(&["a@example.com", "b@example.com"], Some(quorum), None),
                &allowed(),
            )
            .unwrap_err();
            assert!(refusal.cause().contains("quorum is"), "{refusal}");
        }
    }

    #[test]
    fn the_requester_is_no_approver_and_cannot_make_the_quorum() {
        let to = ["a@example.com", "carol@example.com"];
        let refusal = check(
            &request(&to, Some(2), Some("Carol@example.com")),
            &allowed(),
        )
        .unwrap_err();
        assert!(
            refusal
                .cause()
                .contains("requestedBy carol@example.com is in to"),
            "{refusal}"
        );
        let ballot = check(
            &request(&to, Some(1), Some("carol@example.com")),
            &allowed(),
        )
        .unwrap();
        assert_eq!(ballot.approvers, ["a@example.com"]);
        assert_eq!(ballot.requested_by.as_deref(), Some("carol@example.com"));
    }

    #[test]
    fn a_quorum_that_is_not_a_whole_number_is_refused() {
        for quorum in [
            Value::from(-1),
            Value::from("two"),
            Value::from(1.5),
            Value::Bool(true),
        ] {
            let refusal = refusal_of_one_approver_with(|request| request.quorum = Some(quorum));
            assert!(refusal.cause().contains("whole number"), "{refusal}");
        }
    }

    #[test]
    fn a_requested_by_that_is_not_an_address_is_refused() {
        for given in [Value::from("carol"), Value::from(42)] {
            let refusal =
                refusal_of_one_approver_with(|request| request.requested_by = Some(given));
            assert!(refusal.cause().contains("requestedBy"), "{refusal}");
        }
    }

    #[test]
    fn a_requester_outside_the_allowed_list_may_still_ask() {
        let ballot = check(
            &request(&["a@example.com"], None, Some("someone@elsewhere.example")),
            &allowed(),
        )
        .unwrap();
        assert_eq!(ballot.approvers, ["a@example.com"]);
    }
}
