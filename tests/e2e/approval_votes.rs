//! End to end: recorded mode's page and votes against moto. The notifier
//! records the request in moto's DynamoDB and emails each approver their own
//! `/a/{id}` links; `approval-http` behind a local Function URL shows the
//! ballot, counts the votes, keeps the ledger and completes the task once.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use sfn_callback_tests::approval::{
    ApprovalWorld, RecordedRequest, fetch, fetch_with_headers, link_labelled, post_vote,
};
use sfn_callback_tests::fault_proxy::{FaultPlan, FaultProxy};
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

/// The URL behind the button `label` of the last email to `approver`.
fn button(world: &ApprovalWorld, approver: &str, label: &str) -> Result<String> {
    let email = world
        .emails_to(approver)?
        .pop()
        .ok_or_else(|| format!("no email to {approver}"))?;
    link_labelled(&email.html, label)
}

/// Requests an approval of `approvers` with `quorum`; returns the execution
/// and the request id the notifier answered.
async fn request(
    world: &mut ApprovalWorld,
    name: &str,
    approvers: &[&str],
    quorum: u32,
) -> Result<(String, String)> {
    let request = RecordedRequest::new(&format!("Approve {name}"), approvers).quorum(quorum);
    let notified = world.request_recorded(name, &request).await?;
    let answer = notified.answer.into_response()?;
    let request_id = answer["requestId"]
        .as_str()
        .ok_or_else(|| format!("no requestId in {answer}"))?
        .to_owned();
    Ok((notified.execution, request_id))
}

/// A recorded world with one request, as [`request`] makes it: the world,
/// the execution and the request id.
async fn world_with_request(
    name: &str,
    approvers: &[&str],
    quorum: u32,
) -> Result<(ApprovalWorld, String, String)> {
    let mut world = ApprovalWorld::start_recorded().await?;
    let (execution, request_id) = request(&mut world, name, approvers, quorum).await?;
    Ok((world, execution, request_id))
}

/// A string attribute of `item`.
fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_fails_the_task_with_approval_rejected_naming_who_rejected_and_why() -> Result<()> {
    let mut world = ApprovalWorld::start_recorded().await?;
    // moto keeps no failure cause: the proxy shows the one sent.
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    let http = world.start_http_instance_via(&proxy).await?;
    let (execution, _) = request(&mut world, "reject", &[ALICE, BOB], 2).await?;
    let reject = button(&world, BOB, "Reject")?.replace(&world.http.url(), &http.url());

    let ballot = fetch("GET", reject.clone()).await?;
    let decided = post_vote(reject, "reject", "not on a Friday").await?;

    assert_eq!(ballot.status, 200, "{}", ballot.body);
    assert_eq!(decided.status, 200, "{}", decided.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    statemachine::assert_failed_with(&described, "ApprovalRejected");
    let failures = proxy.task_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].error.as_deref(), Some("ApprovalRejected"));
    let cause: Value = serde_json::from_str(failures[0].cause.as_deref().unwrap_or_default())?;
    assert_eq!(
        cause,
        serde_json::json!({"rejectedBy": BOB, "comment": "not on a Friday"})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_vote_by_the_same_approver_is_409_and_not_counted() -> Result<()> {
    let (world, execution, _) = world_with_request("twice", &[ALICE, BOB], 2).await?;
    let approve = button(&world, ALICE, "Approve")?;

    let first = post_vote(approve.clone(), "approve", "").await?;
    let second = post_vote(approve.clone(), "approve", "again").await?;
    let view = fetch("GET", approve).await?;

    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("1 of 2 approvals"), "{}", first.body);
    assert_eq!(second.status, 409, "{}", second.body);
    assert_eq!(view.status, 409, "{}", view.body);
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_request_is_410_withdrawn_for_views_and_votes() -> Result<()> {
    let (world, execution, request_id) = world_with_request("withdrawn", &[ALICE], 1).await?;
    let approve = button(&world, ALICE, "Approve")?;
    world.withdraw_in_table(&request_id).await?;

    let view = fetch("GET", approve.clone()).await?;
    let vote = post_vote(approve, "approve", "").await?;

    for page in [&view, &vote] {
        assert_eq!(page.status, 410, "{}", page.body);
        assert!(page.body.contains("withdrawn"), "{}", page.body);
    }
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_is_404_a_malformed_id_400_and_a_stateless_link_404() -> Result<()> {
    let world = ApprovalWorld::start_recorded().await?;
    let base = world.http.url();

    let unknown = fetch("GET", format!("{base}a/AAAAAAAAAAAAAAAAAAAAAA")).await?;
    let unknown_vote = post_vote(format!("{base}a/AAAAAAAAAAAAAAAAAAAAAA"), "approve", "").await?;
    let malformed = fetch("GET", format!("{base}a/not-an-id")).await?;
    let stateless = fetch("GET", format!("{base}?l=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).await?;

    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown_vote.status, 404, "{}", unknown_vote.body);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(stateless.status, 404, "{}", stateless.body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_requests_view_is_409_naming_who_decided() -> Result<()> {
    let (world, execution, _) = world_with_request("decided", &[ALICE, BOB], 1).await?;
    let decided = post_vote(button(&world, ALICE, "Approve")?, "approve", "ok").await?;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let late = fetch("GET", button(&world, BOB, "Approve")?).await?;

    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("approved"), "{}", late.body);
    assert!(late.body.contains(ALICE), "{}", late.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_within_the_scanner_window_is_flagged_with_its_source_and_agent() -> Result<()> {
    let (world, _, request_id) = world_with_request("scanned", &[ALICE], 1).await?;
    let approve = button(&world, ALICE, "Approve")?;

    // The forged X-Forwarded-For must not reach the ledger: the address is the connection's.
    let view = fetch_with_headers(
        "GET",
        approve,
        &[
            ("User-Agent", "Mozilla/5.0 (ledger test)"),
            ("X-Forwarded-For", "203.0.113.99"),
        ],
    )
    .await?;

    assert_eq!(view.status, 200, "{}", view.body);
    let ledger = world.ledger(&request_id).await?;
    let record = ledger
        .iter()
        .find(|item| text(item, "action") == Some("view"))
        .ok_or("no view in the ledger")?;
    assert_eq!(text(record, "outcome"), Some("shown"));
    assert_eq!(text(record, "approver"), Some(ALICE));
    assert_eq!(text(record, "sourceIp"), Some("127.0.0.1"));
    assert_eq!(text(record, "userAgent"), Some("Mozilla/5.0 (ledger test)"));
    assert_eq!(
        record
            .get("suspectedScanner")
            .and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert!(record.contains_key("secondsSinceSent"), "{record:?}");
    assert!(text(record, "at").is_some_and(|at| at.ends_with('Z')));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_votes_of_three_approvers_send_exactly_one_success() -> Result<()> {
    let mut world = ApprovalWorld::start_recorded().await?;
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(world.start_http_instance_via(&proxy).await?);
    }
    let (execution, _) = request(&mut world, "concurrent", &[ALICE, BOB, CAROL], 2).await?;
    let base = world.http.url();
    let mut paths = Vec::new();
    for approver in [ALICE, BOB, CAROL] {
        let url = button(&world, approver, "Approve")?;
        paths.push(
            url.strip_prefix(&base)
                .ok_or("link off the base URL")?
                .to_owned(),
        );
    }

    let votes: Vec<_> = (0..20)
        .map(|n| {
            let url = format!(
                "{}{}",
                instances[n % instances.len()].url(),
                paths[n % paths.len()]
            );
            tokio::spawn(post_vote(url, "approve", "concurrent"))
        })
        .collect();
    let mut statuses = Vec::new();
    let mut unexpected = Vec::new();
    for vote in votes {
        let page = vote.await??;
        statuses.push(page.status);
        if page.status != 200 && page.status != 409 {
            unexpected.push(page.body);
        }
    }

    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let counts = proxy.counts();
    assert_eq!(counts.send_task_success, 1, "{counts}");
    assert_eq!(counts.send_task_failure, 0, "{counts}");
    assert_eq!(
        statuses.iter().filter(|&&status| status == 200).count(),
        2,
        "{statuses:?}"
    );
    assert!(unexpected.is_empty(), "{statuses:?}: {unexpected:?}");
    let output: Value = serde_json::from_str(described.output().unwrap_or_default())?;
    assert_eq!(output["approval"]["decision"], "approved");
    assert_eq!(output["approval"]["quorum"], 2);
    assert_eq!(
        output["approval"]["votes"].as_array().map(Vec::len),
        Some(2)
    );
    let token = world.task_token(&execution).await?;
    for instance in &instances {
        let logs = instance.log_text().await;
        assert!(!logs.contains(&token), "the task token is in the logs");
        for path in &paths {
            let id = path.trim_start_matches("a/");
            assert!(!logs.contains(id), "a link id is in the logs");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_shows_a_token_a_link_id_or_a_key() -> Result<()> {
    let (world, execution, _) = world_with_request("logs", &[ALICE, BOB], 2).await?;
    let token = world.task_token(&execution).await?;
    let mut link_ids = Vec::new();
    for approver in [ALICE, BOB] {
        for label in ["Approve", "Reject"] {
            let url = button(&world, approver, label)?;
            link_ids.push(url.rsplit('/').next().unwrap_or_default().to_owned());
        }
    }
    let approve = button(&world, ALICE, "Approve")?;
    let reject = button(&world, BOB, "Reject")?;
    fetch("GET", approve.clone()).await?;
    post_vote(approve.clone(), "approve", "fine").await?;
    post_vote(approve, "approve", "again").await?;
    fetch("GET", reject.clone()).await?;
    post_vote(reject, "reject", "no").await?;
    statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;

    let logs = format!(
        "{}\n{}",
        world.http.log_text().await,
        world.notifier.log_text()
    );
    assert!(logs.contains("vote counted"), "{logs}");
    assert!(!logs.contains(&token), "the task token is in the logs");
    for id in &link_ids {
        assert_eq!(id.len(), 22, "{id}");
        assert!(!logs.contains(id.as_str()), "a link id is in the logs");
    }
    for key in &world.keys_ever_held {
        assert!(
            !logs.contains(&key.expose_base64()),
            "a link key is in the logs"
        );
    }
    Ok(())
}
