//! `sfn-callback pending` run as a process against moto with its interpreter:
//! executions waiting on SQS and on a Lambda integration, and ones that run
//! without waiting on any callback.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use sfn_callback_tests::fault_proxy::{FaultPlan, FaultProxy};
use sfn_callback_tests::pending_pattern::{
    PendingWorld, json_lines, listed_executions, sfn_callback,
};
use sfn_callback_tests::process_output::{assert_exit_code, assert_printed, text};
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);

/// The executions `pending --json ARGS` lists, by name.
fn listed(world: &PendingWorld, args: &[&str]) -> Result<BTreeSet<String>> {
    let mut all = vec!["pending", "--json"];
    all.extend_from_slice(args);
    listed_executions(&run_ok(world, &all)?)
}

/// A world with executions waiting on SQS, waiting on a Lambda integration,
/// and sleeping without a callback, started in that order.
async fn world_with(
    on_sqs: &[&str],
    on_lambda: &[&str],
    sleeping: &[&str],
) -> Result<PendingWorld> {
    let world = PendingWorld::start().await?;
    for name in on_sqs {
        world.wait_on_sqs(name).await?;
    }
    for name in on_lambda {
        world.wait_on_lambda(name).await?;
    }
    for name in sleeping {
        world.sleep(name).await?;
    }
    Ok(world)
}

/// Runs `sfn-callback ARGS` against the world and checks that it exited 0.
fn run_ok(world: &PendingWorld, args: &[&str]) -> Result<Output> {
    let output = world.cli(args)?;
    assert_exit_code(&output, 0);
    Ok(output)
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_lists_exactly_the_waiting_executions_with_their_state_and_integration()
-> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda"], &["not-waiting"]).await?;

    let output = run_ok(&world, &["pending", "--json"])?;

    let mut rows = json_lines(&output)?;
    rows.sort_by_key(|row| row["execution"].to_string());
    assert_eq!(rows.len(), 2, "{}", text(&output));
    let fields = |row: &Value| {
        (
            row["execution"].clone(),
            row["stateMachine"].clone(),
            row["state"].clone(),
            row["integration"].clone(),
            row["timeoutSeconds"].clone(),
            row["heartbeatSeconds"].clone(),
        )
    };
    assert_eq!(
        fields(&rows[0]),
        (
            "on-lambda".into(),
            "pending-lambda".into(),
            "Notify".into(),
            "lambda".into(),
            Value::Null,
            Value::Null
        )
    );
    assert_eq!(
        fields(&rows[1]),
        (
            "on-sqs".into(),
            "pending-sqs".into(),
            "WaitForWorker".into(),
            "sqs".into(),
            86_400.into(),
            600.into()
        )
    );
    assert!(
        rows[0]["warnings"]
            .to_string()
            .contains("no TimeoutSeconds"),
        "{}",
        rows[0]
    );
    for row in &rows {
        assert!(
            row["waitingSeconds"].as_i64().is_some_and(|s| s >= 0),
            "{row}"
        );
        assert!(
            row["waitingSince"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{row}"
        );
        assert!(
            row["executionArn"]
                .as_str()
                .is_some_and(|arn| arn.starts_with("arn:aws:states:")),
            "{row}"
        );
    }
    assert_printed(&output, "warning: 1 waiting task(s) have no TimeoutSeconds");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_callback_disappears_from_pending() -> Result<()> {
    let world = world_with(&["still-waiting"], &[], &[]).await?;
    let (done, token) = world.wait_on_sqs("completed").await?;
    assert_eq!(listed(&world, &[])?, names(&["completed", "still-waiting"]));

    world
        .sfn
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await?;
    let finished = statemachine::wait_finished(&world.sfn, &done, LIMIT).await?;

    assert_eq!(finished.status(), &ExecutionStatus::Succeeded);
    assert_eq!(listed(&world, &[])?, names(&["still-waiting"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_reads_every_page_when_there_are_more_executions_than_one_page() -> Result<()> {
    let waiting = ["p1", "p2", "p3", "p4", "p5"];
    let world = world_with(&waiting, &[], &["not-waiting"]).await?;

    let output = run_ok(&world, &["pending", "--json", "--page-size", "2"])?;

    assert_eq!(listed_executions(&output)?, names(&waiting));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("scanning: "),
        "a scan of more than one page shows its progress on stderr: {}",
        text(&output)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_than_lists_only_waits_at_least_that_old() -> Result<()> {
    let world = PendingWorld::start().await?;
    world.wait_on_sqs("old").await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    world.wait_on_sqs("new").await?;

    assert_eq!(listed(&world, &["--older-than", "4s"])?, names(&["old"]));
    assert_eq!(listed(&world, &["--older-than", "1h"])?, names(&[]));
    assert_eq!(listed(&world, &[])?, names(&["new", "old"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_aligns_its_columns_and_shows_none_for_a_missing_timeout() -> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda-with-a-longer-name"], &[]).await?;

    let output = run_ok(&world, &["pending"])?;

    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("EXECUTION"), "{stdout}");
    let column = lines[0].find("INTEGRATION");
    let lambda = lines
        .iter()
        .find(|line| line.starts_with("on-lambda"))
        .unwrap_or(&"");
    let sqs = lines
        .iter()
        .find(|line| line.starts_with("on-sqs "))
        .unwrap_or(&"");
    assert_eq!(lambda.find(" lambda ").map(|at| at + 1), column, "{stdout}");
    assert_eq!(sqs.find(" sqs ").map(|at| at + 1), column, "{stdout}");
    assert!(lambda.contains("none!"), "{stdout}");
    assert!(!sqs.contains("none!"), "{stdout}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_if_any_exits_1_when_something_waits_and_0_when_nothing_does() -> Result<()> {
    let world = world_with(&["on-sqs"], &[], &["not-waiting"]).await?;

    let waiting = world.cli(&["pending", "--fail-if-any"])?;
    let by_name = world.cli(&[
        "pending",
        "--fail-if-any",
        "--state-machine",
        "pending-sleep",
    ])?;
    let by_arn = world.cli(&[
        "pending",
        "--fail-if-any",
        "--state-machine",
        &world.sleeping_machine,
    ])?;
    let unknown = world.cli(&["pending", "--state-machine", "no-such-machine"])?;

    assert_exit_code(&waiting, 1);
    assert_exit_code(&by_name, 0);
    assert_printed(&by_name, "No execution is waiting on a callback.");
    assert_exit_code(&by_arn, 0);
    assert_exit_code(&unknown, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_backs_off_when_reads_are_throttled_and_still_lists_every_wait() -> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda"], &[]).await?;
    let proxy =
        FaultProxy::start(world.peer.endpoint(), FaultPlan::none().throttle_reads()).await?;

    let output = sfn_callback(&["pending", "--json"], proxy.function_env(&world.peer))?;

    assert_exit_code(&output, 0);
    assert_eq!(listed_executions(&output)?, names(&["on-lambda", "on-sqs"]));
    assert!(proxy.counts().reads_throttled >= 3, "{:?}", proxy.counts());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_lists_every_one_of_200_waiting_executions_across_pages() -> Result<()> {
    let world = PendingWorld::start().await?;
    world.many_on_lambda("bulk", 200).await?;
    world.sleep("not-waiting").await?;

    let started = std::time::Instant::now();
    let output = run_ok(&world, &["pending", "--json", "--page-size", "50"])?;
    let took = started.elapsed();

    let found = listed_executions(&output)?;
    assert_eq!(found.len(), 200, "{}", text(&output));
    assert!(found.iter().all(|name| name.starts_with("bulk-")));
    println!("pending scanned 201 running executions (pages of 50) in {took:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_machine_named_by_name_and_by_arn_is_scanned_once() -> Result<()> {
    let world = world_with(&["once"], &["elsewhere"], &[]).await?;

    let output = run_ok(
        &world,
        &[
            "pending",
            "--json",
            "--state-machine",
            "pending-sqs",
            "--state-machine",
            &world.sqs.state_machine,
        ],
    )?;

    let rows = json_lines(&output)?;
    assert_eq!(rows.len(), 1, "{}", text(&output));
    assert_eq!(rows[0]["execution"], "once");
    Ok(())
}

/// `pending` through a fault proxy that answers ListExecutions of the Express
/// state machine `pending-express` as AWS does (moto lists its executions).
async fn with_an_express_machine(world: &PendingWorld) -> Result<(FaultProxy, String)> {
    let express = world.express_machine("pending-express").await?;
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    proxy.refuse("ListExecutions", &express, "StateMachineTypeNotSupported");
    Ok((proxy, express))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_wide_scan_leaves_express_state_machines_out() -> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda"], &[]).await?;
    let (proxy, _) = with_an_express_machine(&world).await?;

    let output = sfn_callback(&["pending", "--json"], proxy.function_env(&world.peer))?;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(listed_executions(&output)?, names(&["on-lambda", "on-sqs"]));
    assert_eq!(proxy.counts().refused, 0, "{:?}", proxy.counts());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_express_state_machine_named_by_name_or_arn_is_skipped_with_a_note() -> Result<()> {
    let world = world_with(&["on-sqs"], &[], &[]).await?;
    let (proxy, express) = with_an_express_machine(&world).await?;

    for named in ["pending-express", express.as_str()] {
        let output = sfn_callback(
            &[
                "pending",
                "--json",
                "--state-machine",
                named,
                "--state-machine",
                "pending-sqs",
            ],
            proxy.function_env(&world.peer),
        )?;

        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let rows = json_lines(&output)?;
        assert_eq!(rows.len(), 1, "{}", text(&output));
        assert_eq!(rows[0]["execution"], "on-sqs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("note: pending-express is an Express state machine"),
            "{stderr}"
        );
    }
    assert_eq!(proxy.counts().refused, 0, "{:?}", proxy.counts());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_whose_history_is_refused_is_skipped_with_a_warning() -> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda"], &[]).await?;
    let (gone, _) = world.wait_on_sqs("deleted-mid-scan").await?;
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    proxy.refuse("GetExecutionHistory", &gone, "ExecutionDoesNotExist");

    let output = sfn_callback(&["pending", "--json"], proxy.function_env(&world.peer))?;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(listed_executions(&output)?, names(&["on-lambda", "on-sqs"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("deleted-mid-scan"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("warning: skipped execution deleted-mid-scan"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_definition_leaves_the_limits_unknown_with_a_warning() -> Result<()> {
    let world = world_with(&["on-sqs"], &["on-lambda"], &[]).await?;
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    proxy.refuse(
        "DescribeStateMachine",
        &world.lambda_machine,
        "AccessDeniedException",
    );

    let output = sfn_callback(&["pending", "--json"], proxy.function_env(&world.peer))?;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let mut rows = json_lines(&output)?;
    rows.sort_by_key(|row| row["execution"].to_string());
    assert_eq!(rows.len(), 2, "{}", text(&output));
    assert_eq!(rows[0]["execution"], "on-lambda");
    assert_eq!(rows[0]["timeoutSeconds"], Value::Null);
    let warnings = rows[0]["warnings"].to_string();
    assert!(warnings.contains("TimeoutSeconds unknown"), "{warnings}");
    assert!(!warnings.contains("no TimeoutSeconds"), "{warnings}");
    assert_eq!(rows[1]["timeoutSeconds"], 86_400, "{}", rows[1]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: limits of pending-lambda unknown"),
        "{stderr}"
    );
    assert!(!stderr.contains("have no TimeoutSeconds"), "{stderr}");
    assert!(proxy.counts().refused >= 1, "{:?}", proxy.counts());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_read_still_throttled_after_the_retries_fails_the_run_with_exit_5() -> Result<()>
{
    let world = world_with(&[], &["on-lambda"], &[]).await?;
    let (throttled, _) = world.wait_on_sqs("throttled").await?;
    let proxy = FaultProxy::start(world.peer.endpoint(), FaultPlan::none()).await?;
    proxy.refuse("GetExecutionHistory", &throttled, "ThrottlingException");

    let output = sfn_callback(&["pending", "--json"], proxy.function_env(&world.peer))?;

    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    assert_eq!(json_lines(&output)?.len(), 0, "{}", text(&output));
    assert!(proxy.counts().refused >= 2, "{:?}", proxy.counts());
    Ok(())
}
