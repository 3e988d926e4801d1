//! Human approval in a real browser: headless Chromium opens the email, the
//! approver clicks Approve, lands on the confirmation page, clicks Approve
//! there, and sees the result. Screenshots are kept in `tests/artifacts/`.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::Locator;
use sfn_callback_tests::approval::ApprovalWorld;
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

    page.goto(&format!("file://{}", email_file.display()))
        .await?;
    let email_shot = browser.screenshot("approval-email.png").await?;
    page.find(Locator::LinkText("Approve"))
        .await?
        .click()
        .await?;
    let confirm = page
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("form[method=post]"))
        .await?;
    let confirm_text = page.find(Locator::Css("main")).await?.text().await?;
    let confirm_shot = browser.screenshot("approval-confirmation.png").await?;
    confirm
        .find(Locator::Css("button[name=decision][value=approve]"))
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
