//! What the bench runs: the function binaries, the hello floor and the Python
//! baseline, each started behind the Runtime API emulator the way Lambda would,
//! and the SQS events they are given.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sfn_callback_tests::runtime_api::{Answer, Lambda};
use sfn_callback_tests::{Result, workspace_root};

/// The function binaries of the workspace, as deployed.
pub const FUNCTIONS: [&str; 5] = [
    "sqs-callback",
    "sns-callback",
    "sqs-worker",
    "approval-http",
    "approval-notifier",
];

/// The floor: a minimal `lambda_runtime` function (`bench/hello`).
pub const HELLO: &str = "hello";

/// The name the Python baseline runs under.
pub const PYTHON: &str = "python-baseline";

/// An inline link key for the approval functions (32 bytes, base64): they load
/// and check it at init.
pub const BENCH_LINK_KEY: &str = "c2ZuLWNhbGxiYWNrIGJlbmNoIGxpbmsga2V5IDMyQiE=";

/// The approval table the approval functions are given (recorded mode).
pub const BENCH_APPROVAL_TABLE: &str = "sfn-callback-bench-approvals";

/// Where the release binaries are: `SFN_BENCH_BIN_DIR`, else the folder of the
/// running bench (`make bench` runs `target/release/sfn-callback-bench`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SFN_BENCH_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .ok_or("the running bench has no folder")?
        .to_path_buf())
}

/// The built binary `name`, or an error that says how to build it.
pub fn binary(name: &str) -> Result<PathBuf> {
    sfn_callback_tests::binary_in(
        &bin_dir()?,
        name,
        "run `make bench`, which builds the release binaries first",
    )
}

/// One of the things the bench starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A release binary of the workspace, by name.
    Binary(&'static str),
    /// `bench/baseline/bootstrap.py` under moto's venv Python (which has boto3).
    Python,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Self::Binary(name) => name,
            Self::Python => PYTHON,
        }
    }

    /// Starts the subject with AWS pointed at `endpoint`, and waits for its first poll.
    pub async fn start(self, endpoint: &str) -> Result<Lambda> {
        let mut env = aws_env(endpoint);
        match self {
            Self::Binary(name) => {
                if name.starts_with("approval-") {
                    // Recorded mode, as the template deploys them.
                    env.extend(pairs(&[
                        ("LINK_KEY", BENCH_LINK_KEY),
                        ("SENDER_EMAIL", "approvals@example.com"),
                        ("APPROVAL_BASE_URL", "http://127.0.0.1:1/"),
                        ("APPROVAL_TABLE", BENCH_APPROVAL_TABLE),
                        ("APPROVERS_ALLOWED", "@example.com"),
                    ]));
                }
                Lambda::start_program(name, &binary(name)?, &[], &env).await
            }
            Self::Python => {
                let root = workspace_root();
                let python = root.join(".venv/bin/python");
                let bootstrap = root.join("bench/baseline/bootstrap.py");
                let bootstrap = bootstrap
                    .to_str()
                    .ok_or("the workspace path is not UTF-8")?;
                env.extend(pairs(&[
                    ("_HANDLER", "handler.lambda_handler"),
                    // Nothing written into the work tree.
                    ("PYTHONDONTWRITEBYTECODE", "1"),
                ]));
                Lambda::start_program(PYTHON, &python, &[bootstrap], &env).await
            }
        }
    }
}

/// The environment Lambda gives a function, with AWS pointed at `endpoint`.
fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    pairs(&[
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ])
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A token of realistic length (real ones are about 700 characters).
pub fn token(label: &str) -> String {
    let mut token = format!("bench-{label}-");
    while token.len() < 700 {
        token.push_str("AAAAKgAAAAIAAAAAAAAAAb+/c2ZuLWNhbGxiYWNr=");
    }
    token.truncate(700);
    token
}

/// An SQS event whose records carry these callback message bodies.
pub fn sqs_event(bodies: &[String]) -> Value {
    sfn_callback_test_support::sqs_event(
        bodies,
        "arn:aws:sqs:us-east-1:123456789012:bench-callbacks",
        |i| format!("00000000-0000-4000-8000-{i:012}"),
    )
}

/// A success callback message for `token` with `output`.
pub fn success_body(token: &str, output: &Value) -> String {
    json!({"taskToken": token, "status": "SUCCEEDED", "output": output}).to_string()
}

/// Invokes `lambda` with `event` and returns how long the answer took, failing
/// unless every record was reported done (an empty `batchItemFailures`).
pub async fn invoke_all_done(lambda: &mut Lambda, event: &Value) -> Result<Duration> {
    let started = std::time::Instant::now();
    let answer = lambda.invoke(event).await?;
    let elapsed = started.elapsed();
    let Answer::Response(response) = answer else {
        return Err(format!("{answer:?}").into());
    };
    let failed = sfn_callback_tests::event_source::failed_ids(&response)?;
    if !failed.is_empty() {
        return Err(format!(
            "{} of the batch's records failed; see {}",
            failed.len(),
            lambda.log_path().display()
        )
        .into());
    }
    Ok(elapsed)
}

/// Stops a subject that did what was asked of it, and removes its log: a bench
/// run starts hundreds of processes. A failed one keeps its log for reading.
pub async fn stop(lambda: Lambda) {
    let log = lambda.log_path().to_owned();
    drop(lambda);
    // Let the killed process go before the next one starts.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let _ = std::fs::remove_file(log);
}

/// The peak resident set size of a running process (`VmHWM`), in bytes.
pub fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("/proc/{pid}/status has no VmHWM"))?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_realistic_and_distinct() {
        assert_eq!(token("a-1").len(), 700);
        assert_ne!(token("a-1"), token("a-2"));
        assert!(!token("x").contains(char::is_whitespace));
    }

    #[test]
    fn event_has_one_record_per_body_with_distinct_ids() {
        let event = sqs_event(&["{}".to_owned(), "{}".to_owned()]);
        let records = event["Records"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert_ne!(records[0]["messageId"], records[1]["messageId"]);
    }
}
