//! End to end: human approval by email against moto. The state machine's
//! Lambda task hands the request to `approval-notifier`, the email goes out
//! through SES, and the links lead to `approval-http` behind a Function URL.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use sfn_callback_tests::approval::{
    APPROVER, ApprovalWorld, fetch, input_value, link_labelled, post_form,
};
use sfn_callback_tests::{Result, statemachine};

const LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_link_then_confirm_succeeds_the_execution_with_the_decision() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("approve", "Approve deploy 42")
        .await?;
    assert!(
        email.destinations.to_string().contains(APPROVER),
        "{:?}",
        email.destinations
    );
    let approve = link_labelled(&email.html, "Approve")?;
    assert!(approve.starts_with(&world.http.url()), "{approve}");

    let page = fetch("GET", approve.clone()).await?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Approve deploy 42"));
    let link = input_value(&page.body, "link")?;
    let decided = post_form(approve, link, "approve", "ship it").await?;

    assert_eq!(decided.status, 200, "{}", decided.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output().unwrap_or_default())?;
    assert_eq!(output["approval"]["decision"], "approved");
    assert_eq!(output["approval"]["comment"], "ship it");
    assert!(
        output["approval"]["decidedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_fails_the_execution_with_approval_rejected_seen_by_catch() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("reject", "Approve deploy 43")
        .await?;
    let reject = link_labelled(&email.html, "Reject")?;

    let page = fetch("GET", reject.clone()).await?;
    let decided = post_form(
        reject,
        input_value(&page.body, "link")?,
        "reject",
        "not on a Friday",
    )
    .await?;

    assert_eq!(decided.status, 200, "{}", decided.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        (described.status(), described.error()),
        (&ExecutionStatus::Failed, Some("ApprovalRejected"))
    );
    let history = statemachine::history(&world.sfn, &execution).await?;
    assert!(
        statemachine::entered_states(&history).contains(&"Rejected".to_owned()),
        "the Catch routed it"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_decision_gets_409_and_changes_nothing() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world.request_approval("twice", "Approve deploy 44").await?;
    let approve = link_labelled(&email.html, "Approve")?;
    let link = input_value(&fetch("GET", approve.clone()).await?.body, "link")?;
    assert_eq!(
        post_form(approve.clone(), link.clone(), "approve", "")
            .await?
            .status,
        200
    );
    let first = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;

    // A second Approve. (A Reject here would be SendTaskFailure, which moto accepts
    // on a closed task with 200 where AWS answers TaskTimedOut: FACTS. The router's
    // replay tests cover that answer.)
    let second = post_form(approve, link, "approve", "again").await?;

    assert_eq!(second.status, 409, "{}", second.body);
    let after = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        (after.status(), after.output()),
        (first.status(), first.output())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_head_alone_decide_nothing() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("scanned", "Approve deploy 45")
        .await?;
    let approve = link_labelled(&email.html, "Approve")?;

    // What a mail scanner does: fetch every link, more than once.
    for method in ["HEAD", "GET", "GET"] {
        let page = fetch(method, approve.clone()).await?;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        statemachine::status(&world.sfn, &execution).await?,
        ExecutionStatus::Running
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_link_gets_400_and_reaches_no_step_functions() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("tampered", "Approve deploy 46")
        .await?;
    let approve = link_labelled(&email.html, "Approve")?;
    let mut tampered = approve.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered)?;

    let page = fetch("GET", tampered.clone()).await?;
    let posted = post_form(
        world.http.url(),
        tampered.rsplit("l=").next().unwrap_or_default().to_owned(),
        "approve",
        "",
    )
    .await?;

    assert_eq!((page.status, posted.status), (400, 400));
    assert_eq!(
        statemachine::status(&world.sfn, &execution).await?,
        ExecutionStatus::Running
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_logs_never_show_the_token() -> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("secret", "Approve deploy 47")
        .await?;
    let history = statemachine::history(&world.sfn, &execution).await?;
    let token = history
        .iter()
        .find_map(|e| {
            e.task_scheduled_event_details()
                .map(|d| d.parameters().to_owned())
        })
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .and_then(|p| p["Payload"]["taskToken"].as_str().map(str::to_owned))
        .ok_or("no token in the history")?;
    let approve = link_labelled(&email.html, "Approve")?;
    let page = fetch("GET", approve.clone()).await?;
    let decided = post_form(approve, input_value(&page.body, "link")?, "approve", "").await?;

    for text in [
        &email.html,
        &page.body,
        &decided.body,
        &world.http.log_text().await,
        &world.notifier.log_text(),
    ] {
        assert!(
            !text.contains(&token),
            "a page, the email or a log shows the token"
        );
    }
    Ok(())
}
