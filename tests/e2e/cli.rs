//! The operator CLI run as a process against moto: exit codes and output.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;
use sfn_callback::TaskToken;
use sfn_callback_approval::link::Action;
use sfn_callback_approval::link::{self, LinkKey, LinkKeys};
use sfn_callback_approval::record::ledger::{
    LedgerAction, LedgerEntry, LedgerOutcome, ScannerWindow, Visitor,
};
use sfn_callback_approval::record::vote::Ballot;
use sfn_callback_approval::record::{
    ApprovalTable, NewRequest, RequestId, RequestStatus, RequestTerms,
};
use sfn_callback_tests::approval::table_in;
use sfn_callback_tests::fault_proxy::{FaultPlan, FaultProxy};
use sfn_callback_tests::process_output::{assert_exit_code, assert_printed, text};
use sfn_callback_tests::worker_pattern::WorkerWorld;
use sfn_callback_tests::{Result, artifacts_dir, built_binary, statemachine};

const LIMIT: Duration = Duration::from_secs(20);

/// A worker pattern whose task waits a minute between heartbeats: long enough
/// for an execution to sit stuck through a test.
async fn world() -> Result<WorkerWorld> {
    WorkerWorld::start("stuck", 60).await
}

/// An execution that no worker answers, with its token written to a file, as
/// an operator would have it.
struct Stuck {
    world: WorkerWorld,
    execution: String,
    file: PathBuf,
    token: String,
}

/// Starts a [`world`] with one stuck execution named `name`.
async fn stuck(name: &str) -> Result<Stuck> {
    let world = world().await?;
    let (execution, token) = world.start_stuck(name, &json!({})).await?;
    let file = artifacts_dir()?.join(format!("token-{name}-{}", std::process::id()));
    std::fs::write(&file, format!("{token}\n"))?;
    Ok(Stuck {
        world,
        execution,
        file,
        token,
    })
}

impl Stuck {
    /// The `sfn-callback` arguments of `command` with the token file, then `rest`.
    fn args(&self, command: &str, rest: &[&str]) -> Vec<String> {
        let file = self.file.to_string_lossy().into_owned();
        let mut args = vec![command.to_owned(), "--token-file".to_owned(), file];
        args.extend(rest.iter().map(|arg| (*arg).to_owned()));
        args
    }

    /// Runs `sfn-callback command --token-file FILE rest...` against the world's peer.
    fn run(&self, command: &str, rest: &[&str]) -> Result<Output> {
        let args = self.args(command, rest);
        cli(&self.world, &args, "")
    }

    async fn assert_still_waiting(&self) -> Result<()> {
        let sfn = &self.world.sfn;
        statemachine::assert_status(sfn, &self.execution, ExecutionStatus::Running).await
    }
}

/// Runs `sfn-callback` with `args` against the world's peer, feeding `stdin`.
fn cli<A: AsRef<std::ffi::OsStr>>(world: &WorkerWorld, args: &[A], stdin: &str) -> Result<Output> {
    run_cli(args, world.peer.function_env(), stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeed_completes_the_execution_and_exits_0() -> Result<()> {
    let stuck = stuck("succeed").await?;

    let output = stuck.run("succeed", &["--output", r#"{"fixed":"by hand"}"#])?;

    assert_exit_code(&output, 0);
    assert_printed(&output, "done: SendTaskSuccess for token:");
    assert!(
        !text(&output).contains(&stuck.token),
        "the token is never printed"
    );
    let described = statemachine::wait_finished(&stuck.world.sfn, &stuck.execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(described.output().unwrap_or_default())?,
        json!({"fixed": "by hand"})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeed_refused_with_invalid_output_exits_4_and_sends_nothing_more() -> Result<()> {
    let stuck = stuck("refused").await?;
    let peer = &stuck.world.peer;
    let proxy =
        FaultProxy::start(peer.endpoint(), FaultPlan::none().refuse_success_outputs()).await?;
    let args = stuck.args("succeed", &["--output", r#"{"fixed":"by hand"}"#]);

    let output = run_cli(&args, proxy.function_env(peer), "")?;

    assert_exit_code(&output, 4);
    assert_printed(&output, "InvalidOutput");
    assert!(
        !text(&output).contains(&stuck.token),
        "the token is never printed"
    );
    let counts = proxy.counts();
    assert_eq!(
        (counts.send_task_calls, counts.invalid_output),
        (1, 1),
        "only the success was sent: {counts}"
    );
    assert_eq!(
        statemachine::status(&stuck.world.sfn, &stuck.execution).await?,
        ExecutionStatus::Running,
        "the task was neither failed nor completed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_reads_the_token_from_stdin() -> Result<()> {
    let Stuck {
        world,
        execution,
        token,
        ..
    } = stuck("fail").await?;

    let output = cli(
        &world,
        &[
            "fail",
            "--token-file",
            "-",
            "--error",
            "Operator.Abort",
            "--cause",
            "stuck for a week",
        ],
        &token,
    )?;

    assert_exit_code(&output, 0);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        statemachine::caught_error(&statemachine::history(&world.sfn, &execution).await?)
            .as_deref(),
        Some("Operator.Abort")
    );
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_exits_0_and_leaves_the_task_waiting() -> Result<()> {
    let stuck = stuck("beat").await?;

    let output = stuck.run("heartbeat", &[])?;

    assert_exit_code(&output, 0);
    stuck.assert_still_waiting().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_token_is_refused_with_exit_4() -> Result<()> {
    let world = world().await?;

    let output = cli(
        &world,
        &["succeed", "--token-file", "-"],
        "not-a-token-step-functions-knows",
    )?;

    assert_exit_code(&output, 4);
    assert_printed(&output, "InvalidToken");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_output_exits_2_and_sends_nothing() -> Result<()> {
    let stuck = stuck("bad-output").await?;

    let output = stuck.run("succeed", &["--output", "{not json"])?;

    assert_exit_code(&output, 2);
    stuck.assert_still_waiting().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_not_accepted_on_the_command_line() -> Result<()> {
    let world = world().await?;

    let output = cli(&world, &["succeed", "--token", "AAAA"], "")?;

    assert_exit_code(&output, 2);
    Ok(())
}

/// The link key the CLI is given locally (`LINK_KEY`), base64.
const LINK_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// Runs `sfn-callback` with only `LINK_KEY` set (local use), feeding `stdin`.
fn link_cli(args: &[&str], stdin: &str) -> Result<Output> {
    let env = [("LINK_KEY", LINK_KEY), ("AWS_REGION", "us-east-1")];
    run_cli(args, env, stdin)
}

/// Runs `sfn-callback` with `args` and nothing of this process's environment
/// but `env`, feeding `stdin`.
fn run_cli<A, K, V>(
    args: &[A],
    env: impl IntoIterator<Item = (K, V)>,
    stdin: &str,
) -> Result<Output>
where
    A: AsRef<std::ffi::OsStr>,
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut child = Command::new(built_binary("sfn-callback")?)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(stdin.as_bytes())?;
    Ok(child.wait_with_output()?)
}

#[test]
fn link_seal_then_open_shows_action_expiry_and_fingerprint_never_the_token() -> Result<()> {
    let token = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";

    let sealed = link_cli(
        &[
            "link",
            "seal",
            "--token-file",
            "-",
            "--reject",
            "--subject",
            "Deploy 7",
        ],
        token,
    )?;
    let link = String::from_utf8_lossy(&sealed.stdout).trim().to_owned();
    let opened = link_cli(
        &["link", "open", "--link-file", "-"],
        &format!("https://approve.example/?l={link}"),
    )?;

    assert_exit_code(&sealed, 0);
    assert!(
        !link.contains(token) && !link.contains('+') && !link.contains('/'),
        "{link}"
    );
    assert_exit_code(&opened, 0);
    let shown = text(&opened);
    assert!(
        shown.contains("action: Reject") && shown.contains("subject: Deploy 7"),
        "{shown}"
    );
    assert!(
        shown.contains("token: token:") && !shown.contains(token),
        "{shown}"
    );
    Ok(())
}

#[test]
fn link_open_refuses_a_changed_link_with_exit_2() -> Result<()> {
    let sealed = link_cli(&["link", "seal", "--token-file", "-"], "some-token")?;
    let mut link = String::from_utf8_lossy(&sealed.stdout).trim().to_owned();
    let last = if link.ends_with('A') { 'B' } else { 'A' };
    link.pop();
    link.push(last);

    let opened = link_cli(&["link", "open", "--link-file", "-"], &link)?;

    assert_exit_code(&opened, 2);
    assert_printed(&opened, "does not open");
    Ok(())
}

/// A stuck execution whose token is recorded as a pending approval request.
struct Recorded {
    execution: String,
    id: RequestId,
    token: String,
    /// The CLI's environment: the peer, `APPROVAL_TABLE` and `LINK_KEY`.
    env: Vec<(String, String)>,
    table: ApprovalTable,
}

/// A stuck execution whose token is recorded as a pending approval request
/// (2 approvers, quorum 2) in an approval table on the world's moto, sealed
/// with [`LINK_KEY`].
async fn recorded_request(world: &WorkerWorld, name: &str) -> Result<Recorded> {
    let table = table_in(&world.peer).await?;
    let (execution, token) = world.start_stuck(name, &json!({})).await?;
    let task_token = TaskToken::new(token.clone())?;
    let keys = LinkKeys::single(LinkKey::new(
        <[u8; 32]>::try_from((0..32).collect::<Vec<u8>>()).map_err(|_| "32 bytes")?,
    ));
    let request = NewRequest {
        terms: RequestTerms {
            id: RequestId::for_token(&task_token),
            sealed_token: link::seal_token(&keys, &task_token)?,
            token_fingerprint: task_token.fingerprint().to_string(),
            subject: format!("Approve {name}"),
            summary: Some("Release 42".to_owned()),
            details: Some(json!({"build": 42})),
            approvers: vec!["alice@example.com".to_owned(), "bob@example.com".to_owned()],
            quorum: 2,
            requested_by: Some("carol@example.com".to_owned()),
            created_at: sfn_callback_approval::now_unix(),
            expires_at: sfn_callback_approval::now_unix() + 3_600,
        },
        retention_days: 1,
    };
    table.create_request(&request).await?;
    let mut env = world.peer.function_env();
    env.push(("APPROVAL_TABLE".to_owned(), table.name().to_owned()));
    env.push(("LINK_KEY".to_owned(), LINK_KEY.to_owned()));
    Ok(Recorded {
        execution,
        id: request.terms.id,
        token,
        env,
        table,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_list_and_show_print_a_pending_request_never_its_token() -> Result<()> {
    let world = world().await?;
    let Recorded { id, token, env, .. } = recorded_request(&world, "shown").await?;

    let listed = run_cli(&["approvals", "list", "--pending"], env.clone(), "")?;
    let lines = run_cli(
        &["approvals", "list", "--pending", "--json"],
        env.clone(),
        "",
    )?;
    let shown = run_cli(
        &["approvals", "show", id.as_str(), "--json"],
        env.clone(),
        "",
    )?;
    let text_shown = run_cli(&["approvals", "show", id.as_str()], env, "")?;

    for output in [&listed, &lines, &shown, &text_shown] {
        assert_exit_code(output, 0);
        assert!(!text(output).contains(&token), "the token is never printed");
    }
    assert_printed(&listed, id.as_str());
    assert_printed(&listed, "0 of 2");
    let line: serde_json::Value = serde_json::from_str(text(&lines).trim())?;
    assert_eq!(line["requestId"], id.as_str());
    assert_eq!(line["status"], "pending");
    let history: serde_json::Value = serde_json::from_slice(&shown.stdout)?;
    assert_eq!(history["request"]["quorum"], 2);
    assert_eq!(history["request"]["requestedBy"], "carol@example.com");
    assert_eq!(
        history["request"]["approvers"],
        json!(["alice@example.com", "bob@example.com"])
    );
    assert!(history["request"].get("sealedToken").is_none(), "{history}");
    assert_eq!(history["votes"], json!([]));
    assert_printed(&text_shown, "pending (0 of 2 approvals)");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_revoke_withdraws_the_request_and_leaves_the_task_waiting() -> Result<()> {
    let world = world().await?;
    let Recorded {
        execution,
        id,
        env,
        table,
        ..
    } = recorded_request(&world, "revoked").await?;

    let revoked = run_cli(&["approvals", "revoke", id.as_str()], env.clone(), "")?;
    let again = run_cli(&["approvals", "revoke", id.as_str()], env.clone(), "")?;
    let pending = run_cli(&["approvals", "list", "--pending", "--json"], env, "")?;

    assert_exit_code(&revoked, 0);
    assert_printed(&revoked, "withdrawn");
    assert_exit_code(&again, 0);
    assert_printed(&again, "withdrawn already");
    assert_eq!(String::from_utf8_lossy(&pending.stdout).trim(), "");
    let history = table.history(&id).await?.ok_or("no request")?;
    assert_eq!(history.request.status, RequestStatus::Withdrawn);
    assert!(history.request.withdrawn_at.is_some());
    let revokes: Vec<_> = history
        .ledger
        .iter()
        .filter(|record| record["action"] == "revoke")
        .collect();
    assert_eq!(
        revokes.len(),
        1,
        "one ledger record for one withdrawal: {revokes:?}"
    );
    assert_eq!(revokes[0]["outcome"], "revoked");
    statemachine::assert_status(&world.sfn, &execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_revoke_with_fail_fails_the_task_with_approval_revoked() -> Result<()> {
    let world = world().await?;
    let Recorded {
        execution, id, env, ..
    } = recorded_request(&world, "revoked-failed").await?;

    let output = run_cli(&["approvals", "revoke", id.as_str(), "--fail"], env, "")?;

    assert_exit_code(&output, 0);
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(
        statemachine::caught_error(&statemachine::history(&world.sfn, &execution).await?)
            .as_deref(),
        Some("ApprovalRevoked")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_revoke_of_an_unknown_request_exits_2() -> Result<()> {
    let world = world().await?;
    let Recorded { env, .. } = recorded_request(&world, "unknown").await?;

    let output = run_cli(
        &["approvals", "revoke", "AAAAAAAAAAAAAAAAAAAAAA"],
        env.clone(),
        "",
    )?;
    let malformed = run_cli(&["approvals", "show", "not-an-id"], env, "")?;

    assert_exit_code(&output, 2);
    assert_printed(&output, "no request");
    assert_exit_code(&malformed, 2);
    Ok(())
}

/// Records the votes of both approvers, the second deciding the request at
/// `decided_at` and claiming its completion, as a deciding voter whose
/// answer never came back leaves it: decided, never sent.
async fn decided_but_never_sent(recorded: &Recorded, decided_at: u64) -> Result<()> {
    let mut request = recorded
        .table
        .request(&recorded.id)
        .await?
        .ok_or("no request")?;
    for (approver, at) in [
        ("alice@example.com", decided_at - 1),
        ("bob@example.com", decided_at),
    ] {
        let ballot = Ballot {
            approver: approver.to_owned(),
            decision: Action::Approve,
            comment: Some(format!("{approver} agrees")),
            at,
        };
        let entry = LedgerEntry::new(
            recorded.id.clone(),
            approver,
            LedgerAction::Approve,
            LedgerOutcome::Accepted,
            at * 1_000_000,
            Visitor::default(),
            request.sent_at,
            ScannerWindow { seconds: 0 },
        );
        recorded
            .table
            .cast(request.clone(), &ballot, &entry)
            .await?;
        request = recorded
            .table
            .request(&recorded.id)
            .await?
            .ok_or("no request")?;
    }
    assert_eq!(request.status, RequestStatus::Approved);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_resend_delivers_a_decision_whose_sending_was_cut_short_once() -> Result<()> {
    let world = world().await?;
    let recorded = recorded_request(&world, "resent").await?;
    decided_but_never_sent(&recorded, sfn_callback_approval::now_unix() - 120).await?;
    let env = recorded.env.clone();
    let id = recorded.id.as_str();

    let listed = run_cli(&["approvals", "list", "--pending"], env.clone(), "")?;
    let resent = run_cli(&["approvals", "resend", id], env.clone(), "")?;
    let again = run_cli(&["approvals", "resend", id], env, "")?;

    assert!(
        text(&listed).contains("approved (not sent: approvals resend)"),
        "{}",
        text(&listed)
    );
    assert_eq!(resent.status.code(), Some(0), "{}", text(&resent));
    assert!(
        !text(&resent).contains(&recorded.token),
        "the token is never printed"
    );
    let described = statemachine::wait_finished(&world.sfn, &recorded.execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output: serde_json::Value = serde_json::from_str(described.output().unwrap_or_default())?;
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["votes"].as_array().map(Vec::len), Some(2));
    assert_eq!(again.status.code(), Some(3), "{}", text(&again));
    assert!(text(&again).contains("already"), "{}", text(&again));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_resend_within_the_lease_sends_nothing_and_exits_5() -> Result<()> {
    let world = world().await?;
    let recorded = recorded_request(&world, "leased").await?;
    decided_but_never_sent(&recorded, sfn_callback_approval::now_unix()).await?;

    let output = run_cli(
        &["approvals", "resend", recorded.id.as_str()],
        recorded.env.clone(),
        "",
    )?;

    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    assert!(text(&output).contains("try again in"), "{}", text(&output));
    statemachine::assert_status(&world.sfn, &recorded.execution, ExecutionStatus::Running).await?;
    Ok(())
}
