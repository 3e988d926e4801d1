//! Human approval in a real browser: headless Chromium opens the email, the
//! approver clicks Approve, lands on the confirmation page, clicks Approve
//! there, and sees the result; in recorded mode, two of three approvers do so
//! from their own emails. Screenshots are kept in `tests/artifacts/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;
use sfn_callback_tests::approval::{ApprovalWorld, RecordedRequest};
use sfn_callback_tests::browser::Browser;
use sfn_callback_tests::{Result, statemachine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approver_clicks_approve_in_the_email_then_confirms_and_the_execution_succeeds()
-> Result<()> {
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("browser", "Approve deploy 99")
        .await?;
    let email_file = email.save_html("approval-email.html")?;
    let browser = Browser::start().await?;
    let page = &browser.client;

    let (email_shot, confirm) =
        click_approve_in_email(&browser, &email_file, "approval-email.png").await?;
    let confirm_text = page.find(Locator::Css("main")).await?.text().await?;
    let confirm_shot = browser.screenshot("approval-confirmation.png").await?;
    submit_approve(page, &confirm).await?;
    let result_text = page.find(Locator::Css("h1")).await?.text().await?;
    let result_shot = browser.screenshot("approval-result.png").await?;
    browser.close().await?;

    assert!(confirm_text.contains("Approve deploy 99"), "{confirm_text}");
    assert!(
        result_text.to_lowercase().contains("approved"),
        "{result_text}"
    );
    let described =
        statemachine::wait_finished(&world.sfn, &execution, Duration::from_secs(20)).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    for shot in [email_shot, confirm_shot, result_shot] {
        assert!(
            std::fs::metadata(&shot)?.len() > 1000,
            "{} is a real PNG",
            shot.display()
        );
    }
    Ok(())
}

/// Opens `email_file` in the browser, screenshots it as `shot`, clicks its
/// Approve link and waits for the confirmation form.
async fn click_approve_in_email(
    browser: &Browser,
    email_file: &Path,
    shot: &str,
) -> Result<(PathBuf, Element)> {
    let page = &browser.client;
    page.goto(&format!("file://{}", email_file.display()))
        .await?;
    let email_shot = browser.screenshot(shot).await?;
    page.find(Locator::LinkText("Approve"))
        .await?
        .click()
        .await?;
    let form = page
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("form[method=post]"))
        .await?;
    Ok((email_shot, form))
}

/// Clicks the Approve button of `form` and waits for the result page.
async fn submit_approve(page: &Client, form: &Element) -> Result<()> {
    form.find(Locator::Css("button[name=decision][value=approve]"))
        .await?
        .click()
        .await?;
    // The result page has the confirmation page's URL (the form posts to itself):
    // wait until the form is gone.
    let mut waited = 0;
    while !page.find_all(Locator::Css("form")).await?.is_empty() && waited < 200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    Ok(())
}

/// What one approver saw, clicking through their email.
struct ClickedThrough {
    ballot: String,
    result: String,
    shots: Vec<std::path::PathBuf>,
}

/// Opens the last email to `approver` in the browser, clicks its Approve
/// link, and submits the ballot, as a person would; screenshots are named
/// after `name`.
async fn approve_from_email(
    browser: &Browser,
    world: &ApprovalWorld,
    approver: &str,
    name: &str,
) -> Result<ClickedThrough> {
    let email = world
        .emails_to(approver)?
        .pop()
        .ok_or_else(|| format!("no email to {approver}"))?;
    let email_file = email.save_html(&format!("quorum-email-{name}.html"))?;
    let page = &browser.client;
    let (email_shot, form) =
        click_approve_in_email(browser, &email_file, &format!("quorum-email-{name}.png")).await?;
    let ballot = page.find(Locator::Css("main")).await?.text().await?;
    let ballot_shot = browser
        .screenshot(&format!("quorum-ballot-{name}.png"))
        .await?;
    form.find(Locator::Css("textarea[name=comment]"))
        .await?
        .send_keys(&format!("approved by {name}"))
        .await?;
    submit_approve(page, &form).await?;
    let result = page.find(Locator::Css("main")).await?.text().await?;
    let result_shot = browser
        .screenshot(&format!("quorum-result-{name}.png"))
        .await?;
    Ok(ClickedThrough {
        ballot,
        result,
        shots: vec![email_shot, ballot_shot, result_shot],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_approvers_click_through_their_emails_and_the_second_approval_succeeds_it()
-> Result<()> {
    const APPROVERS: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];
    let mut world = ApprovalWorld::start_recorded().await?;
    let request = RecordedRequest::new("Approve deploy 2-of-3", &APPROVERS).quorum(2);
    let execution = world
        .request_recorded("browser-quorum", &request)
        .await?
        .execution;
    let browser = Browser::start().await?;

    let alice = approve_from_email(&browser, &world, APPROVERS[0], "alice").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_one = statemachine::status(&world.sfn, &execution).await?;
    let bob = approve_from_email(&browser, &world, APPROVERS[1], "bob").await?;
    browser.close().await?;

    assert!(alice.ballot.contains(APPROVERS[0]), "{}", alice.ballot);
    assert!(
        alice.ballot.contains("0 of 2 approvals"),
        "{}",
        alice.ballot
    );
    assert!(
        alice.ballot.contains("Approve deploy 2-of-3"),
        "{}",
        alice.ballot
    );
    assert!(
        alice.result.contains("1 of 2 approvals"),
        "{}",
        alice.result
    );
    assert_eq!(after_one, ExecutionStatus::Running);
    assert!(bob.ballot.contains(APPROVERS[1]), "{}", bob.ballot);
    assert!(bob.ballot.contains("1 of 2 approvals"), "{}", bob.ballot);
    assert!(
        bob.result.to_lowercase().contains("approved"),
        "{}",
        bob.result
    );
    let described =
        statemachine::wait_finished(&world.sfn, &execution, Duration::from_secs(20)).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output().unwrap_or_default())?;
    let voters: Vec<&str> = output["approval"]["votes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vote| vote["approver"].as_str())
        .collect();
    assert_eq!(voters, [APPROVERS[0], APPROVERS[1]], "{output}");
    assert_eq!(output["approval"]["votes"][1]["comment"], "approved by bob");
    for shot in alice.shots.iter().chain(&bob.shots) {
        assert!(
            std::fs::metadata(shot)?.len() > 1000,
            "{} is a real PNG",
            shot.display()
        );
    }
    Ok(())
}
