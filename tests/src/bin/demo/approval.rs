//! Human approval by email: the notifier emails sealed links, `approval-http`
//! serves the confirmation page on 127.0.0.1, and a person (or, when
//! non-interactive, the demo itself) clicks Approve and confirms.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use sfn_callback_tests::approval::{ApprovalWorld, fetch, link_labelled, post_form};
use sfn_callback_tests::{Result, statemachine};

/// How long a person gets to click.
const HUMAN_WAIT: Duration = Duration::from_mins(5);

pub async fn run() -> Result<()> {
    println!(
        "Starting moto (Step Functions, Secrets Manager; SES on a second moto), approval-http behind a local Function URL, and approval-notifier ..."
    );
    let mut world = ApprovalWorld::start().await?;
    let (execution, email) = world
        .request_approval("demo-approval", "Approve deploy 42")
        .await?;
    let email_file = email.save_html("demo-approval-email.html")?;
    let approve = link_labelled(&email.html, "Approve")?;
    println!(
        "The email went out through SES. Open it in a browser: file://{}",
        email_file.display()
    );
    println!(
        "Its Approve link ({} characters; the token inside is sealed, not readable):",
        approve.len()
    );
    println!("  {approve}");

    let interactive =
        std::io::stdin().is_terminal() && std::env::var("CI").map_or(true, |ci| ci != "true");
    if interactive {
        println!(
            "Click Approve or Reject, then confirm on the page. Waiting up to {} s ...",
            HUMAN_WAIT.as_secs()
        );
        let started = Instant::now();
        while statemachine::status(&world.sfn, &execution).await? == ExecutionStatus::Running {
            if started.elapsed() > HUMAN_WAIT {
                println!("No decision; the demo decides itself.");
                decide(&approve).await?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    } else {
        println!(
            "Non-interactive run: the demo opens the link (GET: a confirmation page, nothing decided) and confirms Approve (POST) ..."
        );
        decide(&approve).await?;
    }
    crate::print_executions(&world.sfn, &[("demo-approval", execution)]).await;
    Ok(())
}

async fn decide(approve: &str) -> Result<()> {
    let page = fetch("GET", approve.to_owned()).await?;
    println!("  GET  -> {} (confirmation page)", page.status);
    let decided = post_form(
        approve.to_owned(),
        page.form_link()?,
        "approve",
        "approved in the demo",
    )
    .await?;
    println!("  POST -> {} (decision recorded)", decided.status);
    Ok(())
}
