//! Human approval by email, recorded mode: the notifier emails each of two
//! approvers links of their own, `approval-http` (on 127.0.0.1) records each
//! view and vote in the approval table, and the task completes once both have
//! approved (a quorum of 2). A person can click (interactive runs), or the
//! demo clicks for both approvers. The ledger is printed at the end.

use std::io::IsTerminal;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use sfn_callback_tests::approval::{
    ApprovalWorld, RecordedRequest, fetch, link_labelled, post_vote,
};
use sfn_callback_tests::{Result, built_binary, statemachine};

/// How long a person gets to click.
const HUMAN_WAIT: Duration = Duration::from_mins(5);
const APPROVERS: [&str; 2] = ["alice@example.com", "bob@example.com"];

pub async fn run() -> Result<()> {
    println!(
        "Starting moto (Step Functions, Secrets Manager, DynamoDB; SES on a second moto), approval-http behind a local Function URL, and approval-notifier in recorded mode ..."
    );
    let mut world = ApprovalWorld::start_recorded().await?;
    let request = RecordedRequest::new("Approve deploy 42", &APPROVERS)
        .quorum(2)
        .requested_by("carol@example.com");
    let notified = world.request_recorded("demo-approval", &request).await?;
    let answer = notified.answer.into_response()?;
    let request_id = answer["requestId"]
        .as_str()
        .ok_or("the notifier named no request id")?
        .to_owned();
    println!(
        "Request {request_id}: 2 approvals needed of {}; carol@example.com asked and cannot count.",
        APPROVERS.join(" and ")
    );
    let mut approve_links = Vec::new();
    for approver in APPROVERS {
        let email = world
            .emails_to(approver)?
            .pop()
            .ok_or_else(|| format!("no email to {approver}"))?;
        let file = email.save_html(&format!("demo-approval-{approver}.html"))?;
        let approve = link_labelled(&email.html, "Approve")?;
        println!(
            "  {approver}: file://{}\n    Approve: {approve} ({} characters; the id means nothing without the table)",
            file.display(),
            approve.len()
        );
        approve_links.push((approver, approve));
    }

    let interactive =
        std::io::stdin().is_terminal() && std::env::var("CI").map_or(true, |ci| ci != "true");
    if interactive {
        println!(
            "Open both emails and approve on each page. Waiting up to {} s ...",
            HUMAN_WAIT.as_secs()
        );
        let started = Instant::now();
        while statemachine::status(&world.sfn, &notified.execution).await?
            == ExecutionStatus::Running
        {
            if started.elapsed() > HUMAN_WAIT {
                println!("No decision; the demo votes for both approvers.");
                vote_for_both(&world, &notified.execution, &approve_links).await?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    } else {
        println!(
            "Non-interactive run: each approver opens their link (GET: a page, nothing decided) and approves (POST) ..."
        );
        vote_for_both(&world, &notified.execution, &approve_links).await?;
    }
    crate::print_executions(&world.sfn, &[("demo-approval", notified.execution)]).await;
    print_ledger(&world, &request_id)
}

async fn vote_for_both(
    world: &ApprovalWorld,
    execution: &str,
    links: &[(&str, String)],
) -> Result<()> {
    for (approver, link) in links {
        let page = fetch("GET", link.clone()).await?;
        println!(
            "  {approver}: GET  -> {} (the page names them and the progress)",
            page.status
        );
        let voted = post_vote(link.clone(), "approve", "approved in the demo").await?;
        let status = statemachine::status(&world.sfn, execution).await?;
        println!(
            "  {approver}: POST -> {} (vote recorded); the execution is {}",
            voted.status,
            status.as_str()
        );
    }
    Ok(())
}

/// `sfn-callback approvals show`: the request, its votes and its ledger.
fn print_ledger(world: &ApprovalWorld, request_id: &str) -> Result<()> {
    println!();
    println!(
        "The ledger: every view and vote, from where, how soon after sending. The demo clicks \
         within seconds of sending, as a mail scanner would, so its views are flagged."
    );
    println!("$ sfn-callback approvals show {request_id}");
    let output = Command::new(built_binary("sfn-callback")?)
        .args(["approvals", "show", request_id])
        .env_clear()
        .envs(world.peer.function_env())
        .env("APPROVAL_TABLE", world.table()?.name())
        .output()?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        return Err(format!(
            "sfn-callback approvals show failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}
