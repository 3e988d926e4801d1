//! A Lambda Runtime API emulator on loopback, and a function binary run against
//! it the way Lambda runs it: the process polls `/invocation/next`, handles the
//! event, and posts `/response` or `/error`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

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

struct State {
    queue: Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<String>>,
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
    next_id: AtomicU64,
}

/// The emulator. It serves until dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::Sender<Invocation>,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(64);
        let state = Arc::new(State {
            queue: Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: Mutex::new(None),
            polled: Notify::new(),
            next_id: AtomicU64::new(1),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        Ok(Self {
            addr,
            sender,
            state,
            server,
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
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

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| route(Arc::clone(&state), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
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
    let body = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
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
    match state.in_flight.lock().await.remove(id) {
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

/// A function binary running against its own Runtime API emulator.
#[derive(Debug)]
pub struct Lambda {
    name: String,
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
        program: &std::path::Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<Self> {
        let api = RuntimeApi::start().await?;
        let log = artifacts_dir()?.join(format!("{name}-{}.log", api.addr.port()));
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
        let mut lambda = Self {
            name: name.to_owned(),
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
            status = self.child.wait() => Err(format!(
                "{} exited before asking for an event ({}); log:\n{}",
                self.name,
                status.map(|s| s.to_string()).unwrap_or_default(),
                self.log_text()
            ).into()),
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
            status = self.child.wait() => Err(format!(
                "{} exited during the invocation ({}); log:\n{}",
                self.name,
                status.map(|s| s.to_string()).unwrap_or_default(),
                self.log_text()
            ).into()),
        }
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
    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
