//! Proves deployable bootstraps before deploy by running them the way Lambda
//! does: each must reach its first `/invocation/next` through the Runtime API
//! emulator, and `sqs-callback` must complete one real callback against moto.
//!
//! `make build-sam` runs its arm64 bootstraps here under qemu-user (a wrapper
//! command put before each bootstrap), so a cross-compilation or linking fault
//! shows up on this machine rather than in AWS. The e2e test `bootstraps` runs
//! the debug binaries through the same code with no wrapper.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::Client as SqsClient;
use serde_json::{Value, json};

use crate::approval::create_link_key_secret;
use crate::peer::{Clients, LocalAws};
use crate::runtime_api::Lambda;
use crate::sqs_pattern::SqsCallbackPattern;
use crate::{Result, event_source, statemachine};

const CALLBACK_LIMIT: Duration = Duration::from_secs(30);
/// Any address passes the notifier's settings check; nothing is sent to it here.
const SENDER: &str = "approvals@example.com";

/// The functions of `template.yaml`, by their binary names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    SqsCallback,
    SnsCallback,
    SqsWorker,
    ApprovalNotifier,
    ApprovalHttp,
}

impl Function {
    pub const ALL: [Self; 5] = [
        Self::SqsCallback,
        Self::SnsCallback,
        Self::SqsWorker,
        Self::ApprovalNotifier,
        Self::ApprovalHttp,
    ];

    /// The binary's name, as in the template's `BuildProperties: Binary`.
    pub fn binary(self) -> &'static str {
        match self {
            Self::SqsCallback => "sqs-callback",
            Self::SnsCallback => "sns-callback",
            Self::SqsWorker => "sqs-worker",
            Self::ApprovalNotifier => "approval-notifier",
            Self::ApprovalHttp => "approval-http",
        }
    }

    pub fn from_binary(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.binary() == name)
    }
}

/// One bootstrap to prove, and the function it is meant to be.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub function: Function,
    pub path: PathBuf,
}

/// What a bootstrap proved.
#[derive(Debug, Clone)]
pub struct Proof {
    pub function: Function,
    /// From exec to its first `/invocation/next`.
    pub first_poll: Duration,
    /// Whether it completed a real callback (only `sqs-callback` is asked to).
    pub completed_callback: bool,
}

impl std::fmt::Display for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: reached /invocation/next {} ms after exec",
            self.function.binary(),
            self.first_poll.as_millis()
        )?;
        if self.completed_callback {
            write!(
                f,
                "; completed a callback (execution SUCCEEDED with its output)"
            )?;
        }
        Ok(())
    }
}

/// One moto, with what every function needs at init: the link-key secret for
/// the approval functions, and an SQS callback pattern per callback check.
pub struct BootstrapRig {
    peer: LocalAws,
    clients: Clients,
    link_key_secret_arn: String,
    /// Each callback check gets its own queues and state machine, so a failed
    /// one leaves nothing behind for the next.
    callback_checks: AtomicUsize,
}

impl std::fmt::Debug for BootstrapRig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapRig")
            .field("peer", &self.peer.endpoint())
            .finish_non_exhaustive()
    }
}

impl BootstrapRig {
    /// Starts moto and creates the link-key secret.
    pub async fn start() -> Result<Self> {
        let peer = LocalAws::start()?;
        let config = peer.sdk_config().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let (_, link_key_secret_arn) = create_link_key_secret(&secrets).await?;
        let clients = peer.clients().await;
        Ok(Self {
            peer,
            clients,
            link_key_secret_arn,
            callback_checks: AtomicUsize::new(0),
        })
    }

    /// Runs `bootstrap` (after `wrapper`, if any: a program and its arguments)
    /// until it proves itself. The error names the function and says what failed.
    pub async fn prove(&self, bootstrap: &Bootstrap, wrapper: &[String]) -> Result<Proof> {
        let name = bootstrap.function.binary();
        self.prove_named(bootstrap, wrapper)
            .await
            .map_err(|err| format!("{name} ({}): {err}", bootstrap.path.display()).into())
    }

    async fn prove_named(&self, bootstrap: &Bootstrap, wrapper: &[String]) -> Result<Proof> {
        let function = bootstrap.function;
        let env = self.function_env(function);
        let bootstrap_arg = bootstrap.path.to_string_lossy().into_owned();
        let mut lambda = match wrapper.split_first() {
            None => Lambda::start_program(function.binary(), &bootstrap.path, &[], &env).await?,
            Some((program, args)) => {
                let program = on_path(program)?;
                let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
                args.push(&bootstrap_arg);
                Lambda::start_program(function.binary(), &program, &args, &env).await?
            }
        };
        let first_poll = lambda
            .first_poll()
            .await
            .ok_or("started without a first poll")?
            .duration_since(lambda.spawned_at());
        let completed_callback = function == Function::SqsCallback;
        if completed_callback {
            self.complete_one_callback(&mut lambda)
                .await
                .map_err(|err| {
                    format!(
                        "reached /invocation/next but did not complete a callback: {err}; log: {}",
                        lambda.log_path().display()
                    )
                })?;
        }
        Ok(Proof {
            function,
            first_poll,
            completed_callback,
        })
    }

    /// What the template gives each function, pointed at moto.
    fn function_env(&self, function: Function) -> Vec<(String, String)> {
        let mut env = self.peer.function_env();
        let mut set = |name: &str, value: &str| env.push((name.to_owned(), value.to_owned()));
        match function {
            Function::SqsCallback | Function::SnsCallback | Function::SqsWorker => {}
            Function::ApprovalHttp => set("LINK_KEY_SECRET_ARN", &self.link_key_secret_arn),
            Function::ApprovalNotifier => {
                set("LINK_KEY_SECRET_ARN", &self.link_key_secret_arn);
                set("SENDER_EMAIL", SENDER);
                set("APPROVAL_BASE_URL", "http://127.0.0.1:9/");
            }
        }
        env
    }

    /// An execution of `statemachines/sqs-callback.asl.json` waits on its token;
    /// the callback goes through SQS to `lambda`, which must complete it.
    async fn complete_one_callback(&self, lambda: &mut Lambda) -> Result<()> {
        let Clients { sfn, sqs, .. } = &self.clients;
        let check = self.callback_checks.fetch_add(1, Ordering::Relaxed);
        let name = format!("bootstrap-check-{check}");
        let pattern = SqsCallbackPattern::create(sfn, sqs, &name, 30, 3).await?;
        let input = json!({"check": name});
        let execution = statemachine::start(sfn, &pattern.state_machine, &name, &input).await?;
        let token = work_token(sqs, &pattern.work_queue).await?;
        let output = json!({"proved": name});
        let callback = json!({"taskToken": token, "output": output});
        event_source::send(sqs, &pattern.callbacks.url, &callback.to_string()).await?;

        let failed = event_source::deliver(
            sqs,
            &pattern.callbacks.url,
            &pattern.callbacks.arn,
            1,
            lambda,
        )
        .await?;

        if !failed.is_empty() {
            return Err("it reported the callback failed in batchItemFailures".into());
        }
        let described = statemachine::wait_finished(sfn, &execution, CALLBACK_LIMIT).await?;
        if described.status() != &ExecutionStatus::Succeeded {
            return Err(format!("the execution ended {}", described.status()).into());
        }
        let ended_with: Value = serde_json::from_str(described.output().unwrap_or("null"))?;
        if ended_with != output {
            return Err(format!("the execution ended with {ended_with}, not {output}").into());
        }
        Ok(())
    }
}

/// `program` as a path: itself when it names a folder, else found on this
/// process's PATH (the function's own environment is cleared and has none).
fn on_path(program: &str) -> Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("the wrapper {program} is not on PATH").into())
}

/// The task token of the one work message the execution sent.
async fn work_token(sqs: &SqsClient, work_queue: &str) -> Result<String> {
    let work = event_source::receive_exactly(sqs, work_queue, 1, CALLBACK_LIMIT).await?;
    event_source::task_token(work[0].body().unwrap_or_default())
}

/// Proves each bootstrap in turn against one moto; every result comes back, so
/// one broken bootstrap does not hide another.
pub async fn prove_all(bootstraps: &[Bootstrap], wrapper: &[String]) -> Result<Vec<Result<Proof>>> {
    let rig = BootstrapRig::start().await?;
    let mut results = Vec::with_capacity(bootstraps.len());
    for bootstrap in bootstraps {
        results.push(rig.prove(bootstrap, wrapper).await);
    }
    Ok(results)
}
