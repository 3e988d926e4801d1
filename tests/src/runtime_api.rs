//! A Lambda Runtime API emulator on loopback, and a function binary run against
//! it the way Lambda runs it: the process polls `/invocation/next`, handles the
//! event, and posts `/response` or `/error`.
//!
//! An instance can also die mid-invocation, as a Lambda instance does on a
//! timeout, out of memory or a crash: [`Lambda::invoke_or_kill`] SIGKILLs the
//! process when a trigger fires before it answered, and starts a fresh process
//! in its place, as Lambda starts a new instance. The killed invocation has no
//! answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Notify, mpsc, oneshot, watch};

use crate::loopback::{LoopbackServer, body_bytes, serve_loopback};
use crate::{Result, artifacts_dir, built_binary};

const API_PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `/response`: the handler's output.
    Response(serde_json::Value),
    /// `/error`: the handler's error, with its `errorType`.
    Error { error_type: String, body: String },
}

impl Answer {
    /// The response body, or an error naming what came back instead.
    pub fn into_response(self) -> Result<serde_json::Value> {
        match self {
            Self::Response(value) => Ok(value),
            Self::Error { error_type, body } => {
                Err(format!("function answered with error {error_type}: {body}").into())
            }
        }
    }
}

struct Invocation {
    payload: Bytes,
    deadline_ms: u64,
    reply: oneshot::Sender<Answer>,
}

#[derive(Debug)]
struct State {
    queue: Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<String>>,
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
    next_id: AtomicU64,
    /// How many invocations the function has taken so far.
    handed_out: watch::Sender<u64>,
}

/// The emulator. It serves until dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    server: LoopbackServer,
    sender: mpsc::Sender<Invocation>,
    state: Arc<State>,
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> Result<Self> {
        let (sender, receiver) = mpsc::channel(64);
        let state = Arc::new(State {
            queue: Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: Mutex::new(None),
            polled: Notify::new(),
            next_id: AtomicU64::new(1),
            handed_out: watch::Sender::new(0),
        });
        let serving = Arc::clone(&state);
        let server = serve_loopback(move |request, _| route(Arc::clone(&serving), request)).await?;
        Ok(Self {
            server,
            sender,
            state,
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.addr().to_string()
    }

    /// When the function first asked for an event, if it has.
    pub async fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().await
    }

    /// Waits until the function first asks for an event, or reports an init error.
    pub async fn wait_first_poll(&self) -> Result<Instant> {
        loop {
            let polled = self.state.polled.notified();
            tokio::pin!(polled);
            // Registered before the checks, so a poll between them is not missed.
            polled.as_mut().enable();
            if let Some(at) = self.first_poll().await {
                return Ok(at);
            }
            if let Some(err) = self.state.init_error.lock().await.clone() {
                return Err(format!("function failed to initialise: {err}").into());
            }
            polled.await;
        }
    }

    /// How many invocations the function has taken (`/invocation/next` answered).
    pub fn handed_out(&self) -> u64 {
        *self.state.handed_out.borrow()
    }

    /// Waits until the function has taken `count` invocations in all.
    async fn wait_handed_out(&self, count: u64) {
        let mut handed_out = self.state.handed_out.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is reached.
        let _ = handed_out.wait_for(|taken| *taken >= count).await;
    }

    /// Refuses the answers of the invocations in flight from now on; their
    /// callers see them dropped. Answers posted before this still stand.
    async fn abandon_in_flight(&self) {
        self.state.in_flight.lock().await.clear();
    }

    /// Queues one invocation with a Lambda timeout of `timeout` and waits for the answer.
    pub async fn invoke(&self, payload: &serde_json::Value, timeout: Duration) -> Result<Answer> {
        let (reply, answer) = oneshot::channel();
        let deadline_ms = epoch_millis() + u64::try_from(timeout.as_millis())?;
        let payload = Bytes::from(serde_json::to_vec(payload)?);
        self.sender
            .send(Invocation {
                payload,
                deadline_ms,
                reply,
            })
            .await
            .map_err(|_| "runtime API emulator stopped")?;
        // Lambda would kill a function past its timeout; give the process a little grace.
        match tokio::time::timeout(timeout + Duration::from_secs(5), answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err("the invocation was dropped without an answer".into()),
            Err(_) => Err(format!("the function did not answer within {timeout:?}").into()),
        }
    }
}

async fn route(
    state: Arc<State>,
    request: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let path = request
        .uri()
        .path()
        .strip_prefix(API_PREFIX)
        .unwrap_or_default()
        .to_owned();
    let method = request.method().clone();
    let error_type = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned();
    let body = body_bytes(request).await;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let response = match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next_invocation(&state).await,
        (Method::POST, ["invocation", id, "response"]) => {
            let answer = match serde_json::from_slice(&body) {
                Ok(value) => Answer::Response(value),
                Err(_) => Answer::Response(serde_json::Value::String(
                    String::from_utf8_lossy(&body).into_owned(),
                )),
            };
            answered(&state, id, answer).await
        }
        (Method::POST, ["invocation", id, "error"]) => {
            // The runtime names the error in the body's errorType; the header only says "unhandled".
            let error_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("errorType")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or(error_type);
            let answer = Answer::Error {
                error_type,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            answered(&state, id, answer).await
        }
        (Method::POST, ["init", "error"]) => {
            *state.init_error.lock().await =
                Some(format!("{error_type}: {}", String::from_utf8_lossy(&body)));
            state.polled.notify_waiters();
            status(StatusCode::ACCEPTED)
        }
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(response)
}

async fn next_invocation(state: &State) -> Response<Full<Bytes>> {
    {
        let mut first = state.first_poll.lock().await;
        if first.is_none() {
            *first = Some(Instant::now());
        }
    }
    state.polled.notify_waiters();
    let Some(invocation) = state.queue.lock().await.recv().await else {
        return status(StatusCode::GONE);
    };
    let request_id = format!("req-{}", state.next_id.fetch_add(1, Ordering::Relaxed));
    state
        .in_flight
        .lock()
        .await
        .insert(request_id.clone(), invocation.reply);
    state.handed_out.send_modify(|taken| *taken += 1);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &request_id)
        .header(
            "lambda-runtime-deadline-ms",
            invocation.deadline_ms.to_string(),
        )
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:local",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0",
        )
        .body(Full::new(invocation.payload))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

async fn answered(state: &State, id: &str, answer: Answer) -> Response<Full<Bytes>> {
    // The lock is held until the answer is sent, so an answer is either delivered
    // before `abandon_in_flight` or refused after it, never lost in between.
    let mut in_flight = state.in_flight.lock().await;
    match in_flight.remove(id) {
        Some(reply) => {
            let _ = reply.send(answer);
            status(StatusCode::ACCEPTED)
        }
        None => status(StatusCode::BAD_REQUEST),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What an invocation that may be killed came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoked<T> {
    /// The function answered before any kill.
    Answered(Answer),
    /// The process was killed (SIGKILL) before it answered, so the invocation has no
    /// answer; a fresh process has taken its place. `T` is what the kill's
    /// trigger reported when it fired.
    Killed(T),
}

/// How to start the function's process again, as Lambda starts a new instance.
#[derive(Debug, Clone)]
struct Launch {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Launch {
    /// Spawns the process against `api`, its output going to `log`: a clean
    /// environment with the Runtime API's address, as Lambda gives it.
    fn spawn(&self, api: &RuntimeApi, log: &std::fs::File) -> Result<Child> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .kill_on_drop(true);
        command
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", self.program.display()).into())
    }
}

/// A function binary running against its own Runtime API emulator.
#[derive(Debug)]
pub struct Lambda {
    name: String,
    launch: Launch,
    api: RuntimeApi,
    child: Child,
    log: PathBuf,
    spawned_at: Instant,
    /// The Lambda timeout given to each invocation.
    pub timeout: Duration,
}

impl Lambda {
    /// Starts `binary` (built by `cargo build`) with `env`, as Lambda would.
    pub async fn start(binary: &str, env: &[(String, String)]) -> Result<Self> {
        let path = built_binary(binary)?;
        Self::start_program(binary, &path, &[], env).await
    }

    /// Starts any program as a function named `name`, with `args` and `env`, the
    /// way [`Lambda::start`] starts a built binary: a clean environment with the
    /// Runtime API's address, output to a log file under `tests/artifacts`.
    pub async fn start_program(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<Self> {
        let launch = Launch {
            name: name.to_owned(),
            program: program.to_path_buf(),
            args: args.iter().map(|&arg| arg.to_owned()).collect(),
            env: env.to_vec(),
        };
        let api = RuntimeApi::start().await?;
        let log = artifacts_dir()?.join(format!("{name}-{}.log", api.server.addr().port()));
        let log_file = std::fs::File::create(&log)?;
        let spawned_at = Instant::now();
        let child = launch.spawn(&api, &log_file)?;
        let mut lambda = Self {
            name: name.to_owned(),
            launch,
            api,
            child,
            log,
            spawned_at,
            timeout: Duration::from_secs(30),
        };
        lambda.wait_started().await?;
        Ok(lambda)
    }

    async fn wait_started(&mut self) -> Result<()> {
        tokio::select! {
            polled = self.api.wait_first_poll() => polled.map(|_| ()),
            status = self.child.wait() => Err(self.exited("before asking for an event", status)),
            () = tokio::time::sleep(Duration::from_secs(20)) => {
                Err(format!("{} did not ask for an event within 20 s", self.name).into())
            }
        }
    }

    /// Invokes the function once with `payload`.
    pub async fn invoke(&mut self, payload: &serde_json::Value) -> Result<Answer> {
        let timeout = self.timeout;
        tokio::select! {
            answer = self.api.invoke(payload, timeout) => answer,
            status = self.child.wait() => Err(self.exited("during the invocation", status)),
        }
    }

    /// Invokes the function once with `payload`, and SIGKILLs the process if
    /// `kill_when` resolves after the function took the event and before it
    /// answered: an instance dying mid-invocation. A fresh process then takes
    /// its place (a cold start, appending to the same log) before this returns.
    ///
    /// The trigger is polled only once the function holds the event, and the
    /// kill follows it at once. An answer the function posted before the
    /// trigger fired stands, as it would on Lambda; one posted after is refused.
    pub async fn invoke_or_kill<T>(
        &mut self,
        payload: &serde_json::Value,
        kill_when: impl Future<Output = T>,
    ) -> Result<Invoked<T>> {
        let timeout = self.timeout;
        let this_invocation = self.api.handed_out() + 1;
        let fired = {
            let api = &self.api;
            let answer = api.invoke(payload, timeout);
            tokio::pin!(answer);
            let armed = async {
                api.wait_handed_out(this_invocation).await;
                kill_when.await
            };
            let fired = tokio::select! {
                biased;
                answer = &mut answer => return answer.map(Invoked::Answered),
                status = self.child.wait() => {
                    return Err(self.exited("during the invocation", status));
                }
                fired = armed => fired,
            };
            api.abandon_in_flight().await;
            // Decided under the emulator's lock: answered before the trigger, or never.
            if let Ok(Ok(answered)) = tokio::time::timeout(Duration::ZERO, &mut answer).await {
                return Ok(Invoked::Answered(answered));
            }
            fired
        };
        self.kill().await?;
        self.restart().await?;
        Ok(Invoked::Killed(fired))
    }

    /// The error of a process that exited `when`: its exit status and its log.
    fn exited(
        &self,
        when: &str,
        status: std::io::Result<std::process::ExitStatus>,
    ) -> crate::Error {
        let status = status.map(|s| s.to_string()).unwrap_or_default();
        format!(
            "{} exited {when} ({status}); log:\n{}",
            self.name,
            self.log_text()
        )
        .into()
    }

    /// SIGKILLs the process and waits until it is gone.
    async fn kill(&mut self) -> Result<()> {
        // `start_kill` sends SIGKILL on Unix: no handler runs, nothing is flushed.
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Starts a fresh process in place of a dead one, against a fresh emulator,
    /// so nothing of the dead instance's invocation reaches the new one.
    async fn restart(&mut self) -> Result<()> {
        let api = RuntimeApi::start().await?;
        let log_file = std::fs::OpenOptions::new().append(true).open(&self.log)?;
        self.spawned_at = Instant::now();
        self.child = self.launch.spawn(&api, &log_file)?;
        self.api = api;
        self.wait_started().await
    }

    /// When the process was spawned: the start of its cold start.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// When the process first asked for an event (set once [`Lambda::start`] returns).
    pub async fn first_poll(&self) -> Option<Instant> {
        self.api.first_poll().await
    }

    /// The process id, while the process runs (for `/proc/PID/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The file that collects the function's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many records the function logged with this outcome so far
    /// (`"outcome":"AlreadyClosed"` in its JSON log lines).
    pub fn outcomes_logged(&self, outcome: &str) -> usize {
        self.log_text()
            .matches(&format!("\"outcome\":\"{outcome}\""))
            .count()
    }
}
