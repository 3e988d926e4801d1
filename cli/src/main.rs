//! `sfn-callback`: the operator CLI. Completes, fails or heartbeats a task
//! token by hand with the same validation and classification as the functions.
//! The token is read from a file or stdin, never from argv, which `ps` and shell
//! history would show.

mod approvals;
mod input;
mod link;

use std::path::PathBuf;
use std::process::ExitCode;

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
    after_help = "Exit codes: 0 done, 2 invalid input (nothing sent), 3 already closed, \
4 refused by Step Functions, 5 try again later.\nAWS settings come from the standard \
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
        Command::Link { .. } | Command::Approvals { .. } => Err("not a completion".to_owned()),
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
