//! End to end: human approval by email against moto. The state machine's
//! Lambda task hands the request to `approval-notifier`, the email goes out
//! through SES, and the links lead to `approval-http` behind a Function URL.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use sfn_callback_tests::approval::{
    APPROVER, ApprovalWorld, Email, fetch, link_labelled, post_form,
};
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);
/// How often both functions re-read the link-key secret in the rotation tests.
const KEY_REFRESH_SECONDS: &str = "1";
/// Long enough for a refresh interval to pass, with room for a slow machine.
const PAST_KEY_REFRESH: Duration = Duration::from_millis(1_500);

/// The functions' settings of the rotation tests.
const REFRESHING_KEYS: &[(&str, &str)] = &[("LINK_KEY_REFRESH_SECONDS", KEY_REFRESH_SECONDS)];

async fn world_refreshing_keys() -> Result<ApprovalWorld> {
    ApprovalWorld::start_with(REFRESHING_KEYS).await
}

/// A world whose functions run with `settings`, with one approval requested:
/// the world, the execution ARN and the URL behind the email's button `label`.
async fn requested_link(
    settings: &[(&str, &str)],
    name: &str,
    subject: &str,
    label: &str,
) -> Result<(ApprovalWorld, String, String)> {
    let mut world = ApprovalWorld::start_with(settings).await?;
    let (execution, link) = world.request_link(name, subject, label).await?;
    Ok((world, execution, link))
}

/// A fresh world with one approval requested: the world, the execution ARN
/// and the email sent.
async fn requested_approval(name: &str, subject: &str) -> Result<(ApprovalWorld, String, Email)> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world.request_approval(name, subject).await?;
    Ok((world, execution, email))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_link_then_confirm_succeeds_the_execution_with_the_decision() -> Result<()> {
    let (world, execution, email) = requested_approval("approve", "Approve deploy 42").await?;
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
    let link = page.form_link()?;
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
    let (world, execution, reject) =
        requested_link(&[], "reject", "Approve deploy 43", "Reject").await?;

    let page = fetch("GET", reject.clone()).await?;
    let decided = post_form(reject, page.form_link()?, "reject", "not on a Friday").await?;

    assert_eq!(decided.status, 200, "{}", decided.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    statemachine::assert_failed_with(&described, "ApprovalRejected");
    let history = statemachine::history(&world.sfn, &execution).await?;
    assert!(
        statemachine::entered_states(&history).contains(&"Rejected".to_owned()),
        "the Catch routed it"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_decision_gets_409_and_changes_nothing() -> Result<()> {
    let (world, execution, approve) =
        requested_link(&[], "twice", "Approve deploy 44", "Approve").await?;
    let link = fetch("GET", approve.clone()).await?.form_link()?;
    assert_eq!(
        post_form(approve.clone(), link.clone(), "approve", "")
            .await?
            .status,
        200
    );
    let first = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;

    // A second Approve. (A Reject here would be SendTaskFailure, which moto accepts
    // on a closed task with 200 where AWS answers TaskTimedOut. The router's
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
    let (world, execution, approve) =
        requested_link(&[], "scanned", "Approve deploy 45", "Approve").await?;

    // What a mail scanner does: fetch every link, more than once.
    for method in ["HEAD", "GET", "GET"] {
        let page = fetch(method, approve.clone()).await?;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_link_gets_400_and_reaches_no_step_functions() -> Result<()> {
    let (world, execution, approve) =
        requested_link(&[], "tampered", "Approve deploy 46", "Approve").await?;
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
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_logs_never_show_the_token() -> Result<()> {
    let (world, execution, email) = requested_approval("secret", "Approve deploy 47").await?;
    let token = world.task_token(&execution).await?;
    let approve = link_labelled(&email.html, "Approve")?;
    let page = fetch("GET", approve.clone()).await?;
    let decided = post_form(approve, page.form_link()?, "approve", "").await?;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_keeps_working_through_one_rotation_and_stops_once_its_key_leaves_the_secret()
-> Result<()> {
    let (mut world, execution, approve) =
        requested_link(REFRESHING_KEYS, "rotated", "Approve deploy 48", "Approve").await?;
    let link = fetch("GET", approve.clone()).await?.form_link()?;

    // Its key becomes `previous`: still held, so the link still opens.
    world.rotate_link_key().await?;
    tokio::time::sleep(PAST_KEY_REFRESH).await;
    let after_one = fetch("GET", approve.clone()).await?;
    // Its key leaves the secret: a warm approval-http must let it go.
    world.rotate_link_key().await?;
    tokio::time::sleep(PAST_KEY_REFRESH).await;
    let shown = fetch("GET", approve.clone()).await?;
    let posted = post_form(approve, link, "approve", "").await?;

    assert_eq!(after_one.status, 200, "{}", after_one.body);
    assert_eq!((shown.status, posted.status), (400, 400), "{}", shown.body);
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_notifier_seals_with_the_rotated_key_that_a_new_approval_http_instance_opens()
-> Result<()> {
    let mut world = world_refreshing_keys().await?;
    // Both functions warm, each having used the first key.
    let (_, first) = world.request_approval("warm", "Approve deploy 49").await?;
    let warmed = fetch("GET", link_labelled(&first.html, "Approve")?).await?;
    assert_eq!(warmed.status, 200, "{}", warmed.body);

    world.rotate_link_key().await?;
    world.rotate_link_key().await?;
    tokio::time::sleep(PAST_KEY_REFRESH).await;
    let (execution, approve) = world
        .request_link("after-rotations", "Approve deploy 50", "Approve")
        .await?;
    let query = approve.split_once('?').ok_or("a link without a query")?.1;
    let scaled_out = world.start_http_instance().await?;
    let on_new_instance = format!("{}?{query}", scaled_out.url());

    let on_warm = fetch("GET", approve).await?;
    let page = fetch("GET", on_new_instance.clone()).await?;
    assert_eq!((on_warm.status, page.status), (200, 200), "{}", page.body);
    let decided = post_form(
        on_new_instance,
        page.form_link()?,
        "approve",
        "after two rotations",
    )
    .await?;

    assert_eq!(decided.status, 200, "{}", decided.body);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_key_secret_keeps_the_last_good_keys_in_use_and_is_logged() -> Result<()> {
    let (mut world, _, approve) =
        requested_link(REFRESHING_KEYS, "before", "Approve deploy 53", "Approve").await?;

    world.delete_link_key_secret().await?;
    tokio::time::sleep(PAST_KEY_REFRESH).await;
    let page = fetch("GET", approve).await?;
    let (_, second) = world.request_approval("after", "Approve deploy 54").await?;
    let sent_after = fetch("GET", link_labelled(&second.html, "Approve")?).await?;

    assert_eq!(
        (page.status, sent_after.status),
        (200, 200),
        "{}",
        page.body
    );
    for log in [world.http.log_text().await, world.notifier.log_text()] {
        assert!(
            log.contains("link keys could not be read again")
                && log.contains("ResourceNotFoundException"),
            "{log}"
        );
    }
    Ok(())
}
