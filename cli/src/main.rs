//! `sfn-callback`: the operator CLI. Completes, fails or heartbeats a task
//! token by hand with the same validation and classification as the functions.
//! The token is read from a file or stdin, never from argv, which `ps` and shell
//! history would show. `pending` shows what waits on a callback, `activities`
//! manages activities, and `check` finds state machines that can hang.

mod activities;
mod approvals;
mod check;
mod duration;
mod failure;
mod input;
mod integration;
mod link;
mod pending;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sfn_callback::client::RefusedOutput;
use sfn_callback::config::Config;
use sfn_callback::{
    CallbackClient, CallbackError, Classify, Completion, Deadline, Done, ErrorClass,
};

/// Exit codes, so scripts can tell what happened.
mod exit {
    /// Completed.
    pub const DONE: u8 = 0;
    /// `pending --fail-if-any` listed something; `check` found an error.
    pub const FOUND: u8 = 1;
    /// Nothing was sent: bad arguments or input.
    pub const INVALID: u8 = 2;
    /// Already closed (`TaskTimedOut`): nothing left to do.
    pub const ALREADY_CLOSED: u8 = 3;
    /// Step Functions refused it; retrying will not help.
    pub const REFUSED: u8 = 4;
    /// Throttled or unavailable; try again later.
    pub const TRY_AGAIN: u8 = 5;
}

#[derive(Debug, Parser)]
#[command(
    name = "sfn-callback",
    version,
    about = "Complete Step Functions task tokens by hand."
)]
#[command(
    after_help = "Exit codes: 0 done, 1 found (pending --fail-if-any listed something, check \
found an error), 2 invalid input (nothing sent), 3 already closed, 4 refused by Step Functions, \
5 try again later.\nAWS settings come from the standard \
environment and profile (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SendTaskSuccess with an output.
    Succeed {
        /// File holding the token; `-` reads stdin.
        #[arg(long)]
        token_file: PathBuf,
        /// The output: JSON text, or `@path` to read it from a file.
        #[arg(long, default_value = "{}")]
        output: String,
    },
    /// SendTaskFailure with an error and a cause.
    Fail {
        /// File holding the token; `-` reads stdin.
        #[arg(long)]
        token_file: PathBuf,
        /// The error name the state machine's Catch matches on.
        #[arg(long)]
        error: Option<String>,
        /// Free text; cut to 32,768 characters with a marker.
        #[arg(long)]
        cause: Option<String>,
    },
    /// SendTaskHeartbeat.
    Heartbeat {
        /// File holding the token; `-` reads stdin.
        #[arg(long)]
        token_file: PathBuf,
    },
    /// Make or inspect an approval link with the configured key.
    Link {
        #[command(subcommand)]
        command: LinkCommand,
    },
    /// Recorded approvals (`APPROVAL_TABLE`): show a request with its votes
    /// and ledger, revoke it, or list what waits.
    Approvals {
        #[command(subcommand)]
        command: approvals::ApprovalsCommand,
    },
    /// List the RUNNING executions waiting on a callback right now.
    ///
    /// Every `.waitForTaskToken` task of any integration and every activity task,
    /// since when it waits, and the time left before its TimeoutSeconds and
    /// HeartbeatSeconds run out. Exit 0 whatever it finds, 1 with `--fail-if-any`
    /// when it lists something.
    Pending {
        /// Only this state machine (name or ARN); repeat for more. Default: all.
        #[arg(long = "state-machine", value_name = "NAME_OR_ARN")]
        state_machines: Vec<String>,
        /// Only waits at least this old: 90s, 15m, 2h, 3d.
        #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
        older_than: Option<Duration>,
        /// One JSON object per line instead of the table.
        #[arg(long)]
        json: bool,
        /// Exit 1 when anything is listed (for alarms and cron).
        #[arg(long)]
        fail_if_any: bool,
        /// Items per page of every list and history call (1-1000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000))]
        page_size: i32,
        /// Histories read at once.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
    },
    /// List, describe, create or delete activities.
    Activities {
        #[command(subcommand)]
        command: ActivitiesCommand,
    },
    /// Check state machine definitions for tasks that can hang; exit 1 on any error.
    Check {
        /// Definition files (`.asl.json`); `${Name}` placeholders are allowed.
        #[arg(value_name = "FILE", required_unless_present = "template")]
        files: Vec<PathBuf>,
        /// A SAM template: checks its state machines' DefinitionUri files and
        /// inline Definitions, with DefinitionSubstitutions applied.
        #[arg(long)]
        template: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ActivitiesCommand {
    /// Every activity, with its ARN and creation date.
    List,
    /// One activity's name, ARN and creation date.
    Describe { arn: String },
    /// Create an activity; prints its ARN.
    Create { name: String },
    /// Delete an activity.
    Delete { arn: String },
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Seal a link for a token; prints the `l` parameter's text.
    Seal {
        /// File holding the token; `-` reads stdin.
        #[arg(long)]
        token_file: PathBuf,
        /// Seal a Reject link (default: Approve).
        #[arg(long)]
        reject: bool,
        /// Seconds the link works.
        #[arg(long, default_value_t = 86_400)]
        expires_in: u64,
        /// Shown on the confirmation page.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Open a link (its `l` text or the whole URL): prints the action, the expiry
    /// and the token's fingerprint, never the token.
    Open {
        /// File holding the link; `-` reads stdin.
        #[arg(long)]
        link_file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Link { command } => return run_link(command).await,
        Command::Approvals { command } => return approvals::run(command).await,
        Command::Check { files, template } => return run_check(&files, template.as_deref()),
        Command::Pending {
            state_machines,
            older_than,
            json,
            fail_if_any,
            page_size,
            concurrency,
        } => {
            let request = pending::Request {
                state_machines,
                older_than,
                reading: pending::Reading {
                    page_size,
                    concurrency: usize::from(concurrency),
                },
            };
            return run_pending(&request, json, fail_if_any).await;
        }
        Command::Activities { command } => return run_activities(command).await,
        command => command,
    };
    let (token_file, completion) = match prepare(command) {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::INVALID);
        }
    };
    let token = match input::read_token(&token_file) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::INVALID);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::INVALID);
        }
    };
    let action = completion.action();
    let client = CallbackClient::from_env(config.retry).await;
    // An operator asked for exactly this: a refused output is reported, never
    // turned into a failure of the task.
    let outcome = client
        .complete_with(&token, completion, Deadline::NONE, RefusedOutput::Report)
        .await;
    ExitCode::from(match outcome {
        Ok(done) => report_done(action, &token, done),
        Err(err) => report_error(action, &token, &err),
    })
}

/// Validates the command's arguments into a completion, before anything is sent.
fn prepare(command: Command) -> Result<(PathBuf, Completion), String> {
    match command {
        Command::Succeed { token_file, output } => {
            let output = input::read_output(&output)?;
            match Completion::success_json(output).map_err(|err| err.to_string())? {
                Completion::OutputRejected { cause } => Err(cause),
                completion => Ok((token_file, completion)),
            }
        }
        Command::Fail {
            token_file,
            error,
            cause,
        } => Ok((
            token_file,
            Completion::failure(error, cause).map_err(|err| err.to_string())?,
        )),
        Command::Heartbeat { token_file } => Ok((token_file, Completion::Heartbeat)),
        _ => Err("not a completion".to_owned()),
    }
}

/// `link seal` prints the sealed text; `link open` what the link holds.
async fn run_link(command: LinkCommand) -> ExitCode {
    let result = match link::keys().await {
        Ok(keys) => match command {
            LinkCommand::Seal {
                token_file,
                reject,
                expires_in,
                subject,
            } => link::seal(&keys, &token_file, reject, expires_in, subject),
            LinkCommand::Open { link_file } => link::open(&keys, &link_file),
        },
        Err(message) => Err(message),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(exit::DONE)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::INVALID)
        }
    }
}

/// The Step Functions client of the read-only commands: the core's client,
/// whose standard retry backs off on throttling, with more attempts than a
/// completion gets, since a scan of a big account makes many calls.
async fn operator_client() -> aws_sdk_sfn::Client {
    let settings = sfn_callback::RetrySettings {
        max_attempts: 8,
        attempt_timeout: Duration::from_secs(20),
        ..sfn_callback::RetrySettings::default()
    };
    CallbackClient::from_env(settings).await.sfn().clone()
}

/// `pending`: exit 0 whatever it found, unless `--fail-if-any` and it found some.
async fn run_pending(request: &pending::Request, json: bool, fail_if_any: bool) -> ExitCode {
    let format = if json {
        pending::Format::JsonLines
    } else {
        pending::Format::Table
    };
    match pending::run(&operator_client().await, request, format).await {
        Ok(found) if fail_if_any && found > 0 => ExitCode::from(exit::FOUND),
        Ok(_) => ExitCode::from(exit::DONE),
        Err(failure) => failed(&failure),
    }
}

async fn run_activities(command: ActivitiesCommand) -> ExitCode {
    let sfn = operator_client().await;
    let result = match command {
        ActivitiesCommand::List => activities::list(&sfn, 1000).await,
        ActivitiesCommand::Describe { arn } => activities::describe(&sfn, &arn).await,
        ActivitiesCommand::Create { name } => activities::create(&sfn, &name).await,
        ActivitiesCommand::Delete { arn } => activities::delete(&sfn, &arn).await,
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(exit::DONE)
        }
        Err(failure) => failed(&failure),
    }
}

/// `check`: exit 1 on any error finding, 2 when a file cannot be read.
fn run_check(files: &[PathBuf], template: Option<&std::path::Path>) -> ExitCode {
    match check::definitions(files, template) {
        Ok(definitions) if check::run(&definitions) => ExitCode::from(exit::FOUND),
        Ok(_) => ExitCode::from(exit::DONE),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::INVALID)
        }
    }
}

/// Reports a failed operator command; the exit code follows its class.
fn failed(failure: &failure::Failure) -> ExitCode {
    eprintln!("error: {failure}");
    match failure {
        failure::Failure::Invalid(_) => ExitCode::from(exit::INVALID),
        failure::Failure::Call { class, .. } => match class {
            ErrorClass::Transient => ExitCode::from(exit::TRY_AGAIN),
            ErrorClass::Permanent => ExitCode::from(exit::REFUSED),
        },
    }
}

/// Prints a completion that is done and picks the exit code.
fn report_done(action: &str, token: &sfn_callback::TaskToken, done: Done) -> u8 {
    if done == Done::AlreadyClosed {
        println!("done: {token} is already closed (TaskTimedOut); nothing was changed");
        exit::ALREADY_CLOSED
    } else {
        println!("done: {action} for {token} ({done:?})");
        exit::DONE
    }
}

/// Prints a completion that failed, by its class, and picks the exit code.
fn report_error(action: &str, token: &sfn_callback::TaskToken, err: &CallbackError) -> u8 {
    let code = err.service_code().unwrap_or("-");
    match err.class() {
        ErrorClass::Transient => {
            println!("try again: {action} for {token}: {err} [{code}]");
            exit::TRY_AGAIN
        }
        ErrorClass::Permanent => {
            println!("refused: {action} for {token}: {err} [{code}]");
            exit::REFUSED
        }
    }
}
