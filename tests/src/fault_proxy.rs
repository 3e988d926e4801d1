//! A fault-injecting HTTP proxy on loopback, between the function binaries and
//! the local AWS peer. Start a function with `AWS_ENDPOINT_URL` set to
//! [`FaultProxy::endpoint`] (see [`FaultProxy::function_env`]); the proxy
//! forwards to moto.
//!
//! Only Step Functions `SendTask*` calls (header
//! `x-amz-target: AWSStepFunctions.SendTask...`) meet faults; every other
//! request passes straight through. Under a seeded random schedule
//! ([`Faults::Seeded`]), or on every call ([`Faults::Always`]), a `SendTask*`
//! call meets one of the [`Fault`]s:
//!
//! - `ThrottlingException` (HTTP 400, awsJson1_0 body), or HTTP 500 or 503,
//!   answered by the proxy without forwarding;
//! - a delay: the call is forwarded (so it takes effect), and the answer is held
//!   for longer than the client's attempt timeout;
//! - a reset: the connection is closed without forwarding and without an answer;
//! - a dropped response: the call is forwarded and takes effect, then the
//!   connection is closed without an answer. The client sees a failure for a
//!   completion that happened: the classic duplicate maker.
//!
//! With [`FaultPlan::throttle_reads`], every other Step Functions read call
//! (`List*`, `Describe*`, `GetExecutionHistory`) is answered with
//! `ThrottlingException` instead, for the operator commands that scan.
//!
//! With [`FaultProxy::refuse`], every call of one action that names one ARN
//! (an execution's or a state machine's) is answered with a given error
//! instead, without forwarding: the answers AWS gives and moto never does, such
//! as `StateMachineTypeNotSupported` on ListExecutions of an Express state
//! machine, or `ExecutionDoesNotExist` for an execution deleted mid-scan.
//!
//! The seed fixes the sequence of draws; which call meets which draw depends on
//! the order in which concurrent calls arrive.
//!
//! # Closed tasks are answered as AWS answers them, not as moto does
//!
//! moto 5.2.5 answers `InvalidToken` for a token whose task is already closed
//! (docs/local-peers.md); AWS answers `TaskTimedOut`, which the functions acknowledge as a duplicate.
//! With [`FaultPlan::answer_closed_tasks_like_aws`], the proxy remembers every
//! token for which moto accepted a SendTaskSuccess or SendTaskFailure, and
//! answers any later `SendTask*` call on that token itself with `TaskTimedOut`
//! (HTTP 400), without forwarding. This is a stand-in for AWS behaviour that
//! moto lacks, and nothing more: the proxy never invents an answer for a token
//! moto did not accept first. Each such answer is counted in
//! [`FaultCounts::task_timed_out`] ("duplicates acknowledged").
//!
//! # Which calls took effect
//!
//! A call *took effect* when the proxy forwarded it and moto accepted it (HTTP
//! 200). [`Effects::watch`] counts such calls on a set of task tokens, for
//! instance the tokens of one invocation's batch, so a test can act once some
//! of them took effect (kill the function, say) and prove by counting that they
//! had.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::Result;
use crate::loopback::{LoopbackServer, serve_loopback};
use crate::peer::LocalAws;

/// The longest the proxy waits for moto before giving up on a forwarded call.
const UPSTREAM_LIMIT: Duration = Duration::from_secs(30);

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException`, not forwarded.
    Throttle,
    /// HTTP 500 `InternalFailure`, not forwarded.
    Status500,
    /// HTTP 503 `ServiceUnavailable`, not forwarded.
    Status503,
    /// Forwarded; the answer is held past the client's attempt timeout.
    Delay,
    /// Connection closed without forwarding and without an answer.
    Reset,
    /// Forwarded (it takes effect); connection closed without an answer.
    DropResponse,
}

impl Fault {
    /// Every kind, in the order the seeded schedule picks from.
    pub const ALL: [Self; 6] = [
        Self::Throttle,
        Self::Status500,
        Self::Status503,
        Self::Delay,
        Self::Reset,
        Self::DropResponse,
    ];
}

/// Which `SendTask*` calls meet a fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Faults {
    /// None: every call is forwarded.
    None,
    /// Each call meets a fault with probability `rate`, of a kind drawn evenly
    /// from [`Fault::ALL`], from a generator seeded with `seed`.
    Seeded { seed: u64, rate: f64 },
    /// Every call meets this fault.
    Always(Fault),
}

/// What the proxy does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    pub faults: Faults,
    /// How long a [`Fault::Delay`] holds the answer; make it longer than the
    /// client's attempt timeout (`SFN_ATTEMPT_TIMEOUT_MS`).
    pub hold: Duration,
    /// Answer calls on tokens moto already accepted with `TaskTimedOut`, as AWS does.
    pub closed_tasks_like_aws: bool,
    /// Answer every `SendTaskSuccess` with `InvalidOutput` without forwarding it,
    /// as AWS does for an output it refuses (moto takes any output).
    pub refuse_success_output: bool,
    /// Answer every other read call (`List*`, `Describe*`,
    /// `GetExecutionHistory`) with `ThrottlingException`, without forwarding it.
    pub throttle_reads: bool,
}

impl FaultPlan {
    /// Faults drawn from a seeded generator at `rate` (0.0 to 1.0).
    pub fn seeded(seed: u64, rate: f64) -> Self {
        Self::with(Faults::Seeded { seed, rate })
    }

    /// The same fault on every `SendTask*` call.
    pub fn always(fault: Fault) -> Self {
        Self::with(Faults::Always(fault))
    }

    /// No faults: a plain proxy.
    pub fn none() -> Self {
        Self::with(Faults::None)
    }

    fn with(faults: Faults) -> Self {
        Self {
            faults,
            hold: Duration::from_millis(1500),
            closed_tasks_like_aws: false,
            refuse_success_output: false,
            throttle_reads: false,
        }
    }

    /// Sets how long a delayed answer is held.
    #[must_use]
    pub fn hold_for(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Answers calls on closed tasks with `TaskTimedOut`, as AWS does (see the module docs).
    #[must_use]
    pub fn answer_closed_tasks_like_aws(mut self) -> Self {
        self.closed_tasks_like_aws = true;
        self
    }

    /// Refuses every success's output with `InvalidOutput`, as AWS would.
    #[must_use]
    pub fn refuse_success_outputs(mut self) -> Self {
        self.refuse_success_output = true;
        self
    }

    /// Throttles every other Step Functions read call (see the module docs).
    #[must_use]
    pub fn throttle_reads(mut self) -> Self {
        self.throttle_reads = true;
        self
    }
}

/// The error and cause of one `SendTaskFailure` call the proxy received (moto
/// keeps no cause, so tests read it here). Never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// What the proxy saw and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultCounts {
    /// `SendTask*` calls received, faults included.
    pub send_task_calls: u64,
    /// Of these, `SendTaskSuccess` calls.
    pub send_task_success: u64,
    /// Of these, `SendTaskFailure` calls.
    pub send_task_failure: u64,
    /// `SendTask*` calls that reached moto.
    pub forwarded: u64,
    /// Other requests, passed straight through.
    pub passed_through: u64,
    pub throttled: u64,
    pub status_500: u64,
    pub status_503: u64,
    pub delayed: u64,
    pub reset: u64,
    pub dropped_response: u64,
    /// Calls on a closed task answered with `TaskTimedOut` (duplicates acknowledged).
    pub task_timed_out: u64,
    /// `SendTaskSuccess` calls answered with `InvalidOutput`.
    pub invalid_output: u64,
    /// Read calls answered with `ThrottlingException` ([`FaultPlan::throttle_reads`]).
    pub reads_throttled: u64,
    /// Calls answered with the error of a [`FaultProxy::refuse`].
    pub refused: u64,
}

impl FaultCounts {
    /// All injected faults together.
    pub fn faults(&self) -> u64 {
        self.throttled
            + self.status_500
            + self.status_503
            + self.delayed
            + self.reset
            + self.dropped_response
    }

    /// How many faults of `kind` were injected.
    pub fn of(&self, kind: Fault) -> u64 {
        match kind {
            Fault::Throttle => self.throttled,
            Fault::Status500 => self.status_500,
            Fault::Status503 => self.status_503,
            Fault::Delay => self.delayed,
            Fault::Reset => self.reset,
            Fault::DropResponse => self.dropped_response,
        }
    }

    fn count(&mut self, kind: Fault) {
        let counter = match kind {
            Fault::Throttle => &mut self.throttled,
            Fault::Status500 => &mut self.status_500,
            Fault::Status503 => &mut self.status_503,
            Fault::Delay => &mut self.delayed,
            Fault::Reset => &mut self.reset,
            Fault::DropResponse => &mut self.dropped_response,
        };
        *counter += 1;
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} SendTask* calls ({} SendTaskSuccess, {} SendTaskFailure), {} faults injected (throttled {}, HTTP 500 {}, HTTP 503 {}, \
             delayed past the attempt timeout {}, reset {}, response dropped after taking effect {}), \
             {} forwarded to moto, {} answered TaskTimedOut as AWS would",
            self.send_task_calls,
            self.send_task_success,
            self.send_task_failure,
            self.faults(),
            self.throttled,
            self.status_500,
            self.status_503,
            self.delayed,
            self.reset,
            self.dropped_response,
            self.forwarded,
            self.task_timed_out,
        )
    }
}

struct Schedule {
    faults: Faults,
    rng: fastrand::Rng,
}

impl Schedule {
    fn new(faults: Faults) -> Self {
        let seed = match faults {
            Faults::Seeded { seed, .. } => seed,
            Faults::None | Faults::Always(_) => 0,
        };
        Self {
            faults,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn draw(&mut self) -> Option<Fault> {
        match self.faults {
            Faults::None => None,
            Faults::Always(fault) => Some(fault),
            Faults::Seeded { rate, .. } => {
                (self.rng.f64() < rate).then(|| Fault::ALL[self.rng.usize(..Fault::ALL.len())])
            }
        }
    }
}

/// Calls of `action` naming `arn`, answered with `code` ([`FaultProxy::refuse`]).
struct Refusal {
    action: String,
    arn: String,
    code: String,
}

impl Refusal {
    /// Whether the call `action` with this request body is refused: the
    /// action matches and a top-level field of the body is the ARN.
    fn applies(&self, action: &str, body: &[u8]) -> bool {
        action == self.action
            && serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|value| value.as_object().cloned())
                .is_some_and(|fields| fields.values().any(|field| field == self.arn.as_str()))
    }
}

/// The tokens one [`EffectWatch`] watches, and its count of calls that took effect.
struct Watched {
    tokens: HashSet<String>,
    taken_effect: watch::Sender<u64>,
}

struct Shared {
    upstream: String,
    plan: FaultPlan,
    reads: AtomicU64,
    schedule: Mutex<Schedule>,
    closed: Mutex<HashSet<String>>,
    counts: Mutex<FaultCounts>,
    failures: Mutex<Vec<TaskFailure>>,
    watches: Mutex<HashMap<u64, Watched>>,
    next_watch: AtomicU64,
    refusals: Mutex<Vec<Refusal>>,
}

impl Shared {
    fn counts(&self) -> std::sync::MutexGuard<'_, FaultCounts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn draw(&self) -> Option<Fault> {
        self.schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .draw()
    }

    fn is_closed(&self, token: &str) -> bool {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
    }

    fn watches(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Watched>> {
        self.watches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call on `token` took effect: every watch of that token counts it.
    fn took_effect(&self, token: &str) {
        for watched in self.watches().values() {
            if watched.tokens.contains(token) {
                watched.taken_effect.send_modify(|count| *count += 1);
            }
        }
    }

    fn close(&self, token: String) {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token);
    }
}

/// The running proxy. It serves until dropped.
pub struct FaultProxy {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("server", &self.server)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts the proxy on a free loopback port, forwarding to `upstream`
    /// (`http://127.0.0.1:PORT`, the peer's endpoint).
    pub async fn start(upstream: &str, plan: FaultPlan) -> Result<Self> {
        let authority = upstream
            .strip_prefix("http://")
            .ok_or_else(|| format!("the fault proxy forwards plain http only, not {upstream}"))?
            .trim_end_matches('/')
            .to_owned();
        let shared = Arc::new(Shared {
            upstream: authority,
            plan,
            reads: AtomicU64::new(0),
            schedule: Mutex::new(Schedule::new(plan.faults)),
            closed: Mutex::new(HashSet::new()),
            counts: Mutex::new(FaultCounts::default()),
            failures: Mutex::new(Vec::new()),
            watches: Mutex::new(HashMap::new()),
            next_watch: AtomicU64::new(0),
            refusals: Mutex::new(Vec::new()),
        });
        let serving = Arc::clone(&shared);
        let server =
            serve_loopback(move |request, _| handle(Arc::clone(&serving), request)).await?;
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the value of `AWS_ENDPOINT_URL` for a function.
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// The environment a function process needs to reach `peer` through this proxy.
    pub fn function_env(&self, peer: &LocalAws) -> Vec<(String, String)> {
        let endpoint = self.endpoint();
        peer.function_env()
            .into_iter()
            .map(|(key, value)| {
                if key == "AWS_ENDPOINT_URL" {
                    (key, endpoint.clone())
                } else {
                    (key, value)
                }
            })
            .collect()
    }

    /// What the proxy saw and did so far.
    pub fn counts(&self) -> FaultCounts {
        *self.shared.counts()
    }

    /// The error and cause of every `SendTaskFailure` received so far, in order.
    pub fn task_failures(&self) -> Vec<TaskFailure> {
        self.shared
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A handle that watches which calls take effect, for as long as it lives.
    pub fn effects(&self) -> Effects {
        Effects {
            shared: Arc::clone(&self.shared),
        }
    }

    /// From now on, answers every Step Functions call `action` (e.g.
    /// `GetExecutionHistory`) that names `arn` with HTTP 400 and the error
    /// `code`, without forwarding it.
    pub fn refuse(&self, action: &str, arn: &str, code: &str) {
        self.shared
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Refusal {
                action: action.to_owned(),
                arn: arn.to_owned(),
                code: code.to_owned(),
            });
    }

    /// Changes the faults from now on (a new seeded schedule starts from its seed).
    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Schedule::new(faults);
    }
}

/// Opens [`EffectWatch`]es on the proxy's `SendTask*` calls; cheap to clone.
#[derive(Clone)]
pub struct Effects {
    shared: Arc<Shared>,
}

impl fmt::Debug for Effects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Effects").finish_non_exhaustive()
    }
}

impl Effects {
    /// Counts, from now until the watch is dropped, the `SendTask*` calls on
    /// any of `tokens` that take effect (forwarded, and accepted by moto).
    pub fn watch(&self, tokens: impl IntoIterator<Item = String>) -> EffectWatch {
        let id = self.shared.next_watch.fetch_add(1, Ordering::Relaxed);
        let (taken_effect, seen) = watch::channel(0);
        self.shared.watches().insert(
            id,
            Watched {
                tokens: tokens.into_iter().collect(),
                taken_effect,
            },
        );
        EffectWatch {
            shared: Arc::clone(&self.shared),
            id,
            seen,
        }
    }
}

/// Calls on a set of tokens that took effect since the watch was opened.
pub struct EffectWatch {
    shared: Arc<Shared>,
    id: u64,
    seen: watch::Receiver<u64>,
}

impl fmt::Debug for EffectWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EffectWatch")
            .field("taken_effect", &self.taken_effect())
            .finish_non_exhaustive()
    }
}

impl EffectWatch {
    /// How many watched calls took effect so far.
    pub fn taken_effect(&self) -> u64 {
        *self.seen.borrow()
    }

    /// Resolves once at least `count` watched calls took effect, with the count
    /// at that moment.
    pub async fn reached(&self, count: u64) -> u64 {
        let mut seen = self.seen.clone();
        let reached = seen
            .wait_for(|taken| *taken >= count)
            .await
            .map(|taken| *taken);
        match reached {
            Ok(taken) => taken,
            // The sender lives in the proxy while this watch does: never reached.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for EffectWatch {
    fn drop(&mut self) {
        self.shared.watches().remove(&self.id);
    }
}

/// Answers one request. An error closes the connection without an answer: that
/// is how resets and dropped responses are made.
async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .and_then(|target| target.strip_prefix("AWSStepFunctions."))
        .map(str::to_owned);
    if let Some(answer) = target
        .as_deref()
        .and_then(|action| injected_answer(&shared, action, &body))
    {
        return Ok(answer);
    }
    let action = target.filter(|action| action.starts_with("SendTask"));
    let Some(action) = action else {
        shared.counts().passed_through += 1;
        return forward(&shared.upstream, parts, body).await;
    };
    let fault = shared.draw();
    {
        let mut counts = shared.counts();
        counts.send_task_calls += 1;
        match action.as_str() {
            "SendTaskSuccess" => counts.send_task_success += 1,
            "SendTaskFailure" => {
                counts.send_task_failure += 1;
                shared
                    .failures
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(task_failure(&body));
            }
            _ => {}
        }
        if let Some(fault) = fault {
            counts.count(fault);
        }
    }
    match fault {
        Some(Fault::Throttle) => {
            return Ok(aws_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded (injected by the fault proxy)",
            ));
        }
        Some(Fault::Status500) => {
            return Ok(aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "injected by the fault proxy",
            ));
        }
        Some(Fault::Status503) => {
            return Ok(aws_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "injected by the fault proxy",
            ));
        }
        Some(Fault::Reset) => return Err("connection reset by the fault proxy".into()),
        Some(Fault::Delay | Fault::DropResponse) | None => {}
    }
    if shared.plan.refuse_success_output && action == "SendTaskSuccess" {
        shared.counts().invalid_output += 1;
        return Ok(aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidOutput",
            "Invalid State Machine Output (injected by the fault proxy)",
        ));
    }

    // Its own task: once a call is on its way to moto, it is seen through and
    // recorded even if the caller hangs up (hyper then drops this handler), as
    // a request that reached Step Functions takes effect whether or not its
    // caller is still there.
    let response =
        tokio::spawn(answer_send_task(Arc::clone(&shared), action, parts, body)).await??;

    match fault {
        Some(Fault::Delay) => {
            tokio::time::sleep(shared.plan.hold).await;
            Ok(response)
        }
        Some(Fault::DropResponse) => {
            Err("response dropped by the fault proxy after the call took effect".into())
        }
        _ => Ok(response),
    }
}

/// The proxy's own answer to a call, if it gives one before anything else:
/// a [`FaultProxy::refuse`] refusal, or a throttled read.
fn injected_answer(shared: &Shared, action: &str, body: &[u8]) -> Option<Response<Full<Bytes>>> {
    let refused = shared
        .refusals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|refusal| refusal.applies(action, body))
        .map(|refusal| refusal.code.clone());
    if let Some(code) = refused {
        shared.counts().refused += 1;
        return Some(aws_error(
            StatusCode::BAD_REQUEST,
            &code,
            "refused (injected by the fault proxy)",
        ));
    }
    let throttled = shared.plan.throttle_reads
        && is_read(action)
        && shared
            .reads
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(2);
    if throttled {
        shared.counts().reads_throttled += 1;
        return Some(aws_error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded (injected by the fault proxy)",
        ));
    }
    None
}

/// A Step Functions call that only reads.
fn is_read(action: &str) -> bool {
    action.starts_with("List") || action.starts_with("Describe") || action == "GetExecutionHistory"
}

/// Answers a `SendTask*` call: `TaskTimedOut` for a closed task (as AWS
/// does, when asked to), otherwise moto's answer, noting what took effect.
async fn answer_send_task(
    shared: Arc<Shared>,
    action: String,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>> {
    let token = task_token(&body);
    let closed = shared.plan.closed_tasks_like_aws
        && token
            .as_deref()
            .is_some_and(|token| shared.is_closed(token));
    if closed {
        shared.counts().task_timed_out += 1;
        return Ok(aws_error(
            StatusCode::BAD_REQUEST,
            "TaskTimedOut",
            "Task Timed Out: 'Provided task does not exist anymore'",
        ));
    }
    shared.counts().forwarded += 1;
    let response = forward(&shared.upstream, parts, body).await?;
    let accepted = response.status() == StatusCode::OK;
    if accepted && let Some(token) = &token {
        shared.took_effect(token);
    }
    let completes = action == "SendTaskSuccess" || action == "SendTaskFailure";
    if completes
        && accepted
        && let Some(token) = token
    {
        shared.close(token);
    }
    Ok(response)
}

/// The error and cause of a `SendTaskFailure` request body.
fn task_failure(body: &[u8]) -> TaskFailure {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    TaskFailure {
        error: text("error"),
        cause: text("cause"),
    }
}

/// The `taskToken` of a `SendTask*` request body.
fn task_token(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("taskToken")?.as_str().map(str::to_owned)
}

/// An awsJson1_0 error answer, as Step Functions sends it.
fn aws_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": code, "message": message}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    headers.insert(
        "x-amzn-requestid",
        header::HeaderValue::from_static("fault-proxy"),
    );
    response
}

/// Headers that belong to one connection, not to the message.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !is_hop_by_hop(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Sends the request to moto on a fresh connection (moto closes each one) and
/// returns its whole answer.
async fn forward(
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>> {
    let exchange = async {
        let stream = TcpStream::connect(upstream).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let mut request = Request::builder()
            .method(parts.method)
            .uri(path)
            .body(Full::new(body))?;
        copy_headers(&parts.headers, request.headers_mut());
        let answer = sender.send_request(request).await?;
        let (answer_parts, answer_body) = answer.into_parts();
        let answer_body = answer_body.collect().await?.to_bytes();
        driver.abort();
        let mut response = Response::new(Full::new(answer_body));
        *response.status_mut() = answer_parts.status;
        copy_headers(&answer_parts.headers, response.headers_mut());
        Ok::<_, crate::Error>(response)
    };
    tokio::time::timeout(UPSTREAM_LIMIT, exchange)
        .await
        .map_err(|_| format!("moto did not answer within {UPSTREAM_LIMIT:?}"))?
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A stand-in for moto: answers every request 200 `{}` after `delay` and
    /// records its body. It serves as long as the returned server lives.
    async fn upstream_answering_after(
        delay: Duration,
    ) -> (LoopbackServer, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let server = serve_loopback(move |request: Request<Incoming>, _| {
            let record = Arc::clone(&record);
            async move {
                let body = request.into_body().collect().await?.to_bytes();
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                tokio::time::sleep(delay).await;
                let mut response = Response::new(Full::new(Bytes::from("{}")));
                response
                    .headers_mut()
                    .insert(header::CONNECTION, "close".parse().unwrap());
                Ok::<_, hyper::Error>(response)
            }
        })
        .await
        .unwrap();
        (server, seen)
    }

    /// A proxy with `plan` in front of an upstream answering at once; both serve while the
    /// returned server and proxy live.
    async fn proxied(plan: FaultPlan) -> (LoopbackServer, Arc<Mutex<Vec<String>>>, FaultProxy) {
        proxied_after(Duration::ZERO, plan).await
    }

    /// A proxy with `plan` in front of an upstream taking `delay` to answer.
    async fn proxied_after(
        delay: Duration,
        plan: FaultPlan,
    ) -> (LoopbackServer, Arc<Mutex<Vec<String>>>, FaultProxy) {
        let (moto, seen) = upstream_answering_after(delay).await;
        let proxy = FaultProxy::start(&moto.endpoint(), plan).await.unwrap();
        (moto, seen, proxy)
    }

    /// Sends one raw HTTP/1.1 request and returns everything the proxy wrote back.
    async fn call(proxy: &FaultProxy, target: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(proxy.server.addr()).await.unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: {target}\r\n\
             content-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            proxy.server.addr(),
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    const SUCCESS: &str = "AWSStepFunctions.SendTaskSuccess";
    const BODY: &str = r#"{"taskToken":"tok-1","output":"{}"}"#;

    #[tokio::test]
    async fn requests_other_than_send_task_pass_through_untouched() {
        let (_moto, seen, proxy) = proxied(FaultPlan::always(Fault::Reset)).await;

        let answer = call(&proxy, "AWSStepFunctions.DescribeExecution", "{\"a\":1}").await;

        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(*seen.lock().unwrap(), ["{\"a\":1}"]);
        assert_eq!(proxy.counts().passed_through, 1);
        assert_eq!(proxy.counts().faults(), 0);
    }

    /// What one `SendTaskSuccess` call met, through a proxy faulting every call.
    struct Called {
        answer: String,
        forwarded: Vec<String>,
        counts: FaultCounts,
    }

    async fn one_success_call_under(fault: Fault) -> Called {
        let (_moto, seen, proxy) = proxied(FaultPlan::always(fault)).await;
        let answer = call(&proxy, SUCCESS, BODY).await;
        let forwarded = seen.lock().unwrap().clone();
        Called {
            answer,
            forwarded,
            counts: proxy.counts(),
        }
    }

    #[tokio::test]
    async fn throttling_is_an_aws_json_400_and_is_not_forwarded() {
        let Called {
            answer,
            forwarded,
            counts,
        } = one_success_call_under(Fault::Throttle).await;

        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(
            answer.contains(r#""__type":"ThrottlingException""#),
            "{answer}"
        );
        assert!(answer.contains("application/x-amz-json-1.0"), "{answer}");
        assert!(forwarded.is_empty());
        assert_eq!(counts.throttled, 1);
    }

    #[tokio::test]
    async fn server_errors_answer_500_and_503_without_forwarding() {
        let (_moto, seen, proxy) = proxied(FaultPlan::always(Fault::Status500)).await;
        let first = call(&proxy, SUCCESS, BODY).await;
        proxy.set_faults(Faults::Always(Fault::Status503));
        let second = call(&proxy, SUCCESS, BODY).await;

        assert!(first.starts_with("HTTP/1.1 500"), "{first}");
        assert!(second.starts_with("HTTP/1.1 503"), "{second}");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn reset_closes_the_connection_without_an_answer_or_a_forward() {
        let called = one_success_call_under(Fault::Reset).await;

        assert_eq!(called.answer, "");
        assert!(called.forwarded.is_empty());
        assert_eq!(called.counts.reset, 1);
    }

    #[tokio::test]
    async fn dropped_response_takes_effect_but_answers_nothing() {
        let called = one_success_call_under(Fault::DropResponse).await;

        assert_eq!(called.answer, "");
        assert_eq!(called.forwarded, [BODY]);
    }

    #[tokio::test]
    async fn delay_forwards_then_holds_the_answer() {
        let hold = Duration::from_millis(300);
        let (_moto, seen, proxy) = proxied(FaultPlan::always(Fault::Delay).hold_for(hold)).await;
        let started = Instant::now();

        let answer = call(&proxy, SUCCESS, BODY).await;

        assert!(started.elapsed() >= hold);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn completion_on_an_accepted_token_is_answered_task_timed_out_like_aws() {
        let (_moto, seen, proxy) = proxied(FaultPlan::none().answer_closed_tasks_like_aws()).await;

        let first = call(&proxy, SUCCESS, BODY).await;
        let second = call(
            &proxy,
            "AWSStepFunctions.SendTaskFailure",
            r#"{"taskToken":"tok-1"}"#,
        )
        .await;
        let other = call(&proxy, SUCCESS, r#"{"taskToken":"tok-2","output":"{}"}"#).await;

        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(second.starts_with("HTTP/1.1 400"), "{second}");
        assert!(second.contains(r#""__type":"TaskTimedOut""#), "{second}");
        assert!(other.starts_with("HTTP/1.1 200"), "{other}");
        assert_eq!(
            seen.lock().unwrap().len(),
            2,
            "the duplicate was not forwarded"
        );
        assert_eq!(proxy.counts().task_timed_out, 1);
    }

    #[tokio::test]
    async fn calls_are_counted_per_action() {
        let (_moto, _, proxy) = proxied(FaultPlan::none()).await;

        call(&proxy, SUCCESS, BODY).await;
        call(&proxy, "AWSStepFunctions.SendTaskFailure", BODY).await;
        call(&proxy, "AWSStepFunctions.SendTaskHeartbeat", BODY).await;
        call(&proxy, SUCCESS, BODY).await;

        assert_eq!(
            proxy.task_failures(),
            [TaskFailure {
                error: None,
                cause: None
            }]
        );
        let counts = proxy.counts();
        assert_eq!(
            (
                counts.send_task_calls,
                counts.send_task_success,
                counts.send_task_failure
            ),
            (4, 2, 1)
        );
    }

    #[tokio::test]
    async fn a_call_whose_client_hangs_up_mid_forward_still_closes_its_task() {
        let (_moto, seen, proxy) = proxied_after(
            Duration::from_millis(300),
            FaultPlan::none().answer_closed_tasks_like_aws(),
        )
        .await;
        let effects = proxy.effects().watch(["tok-1".to_owned()]);

        // The caller dies (a killed function) while moto is still working on its call.
        let caller = tokio::spawn({
            let addr = proxy.server.addr();
            async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let request = format!(
                    "POST / HTTP/1.1\r\nhost: {addr}\r\nx-amz-target: {SUCCESS}\r\n\
                     content-length: {}\r\n\r\n{BODY}",
                    BODY.len()
                );
                stream.write_all(request.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        caller.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), effects.reached(1))
            .await
            .expect("the call took effect although its caller hung up");
        let again = call(&proxy, SUCCESS, BODY).await;

        assert!(again.contains(r#""__type":"TaskTimedOut""#), "{again}");
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "the duplicate was not forwarded"
        );
    }

    #[tokio::test]
    async fn a_watch_counts_accepted_calls_on_its_tokens_only() {
        let (_moto, _, proxy) = proxied(FaultPlan::none().answer_closed_tasks_like_aws()).await;
        let before = call(&proxy, SUCCESS, r#"{"taskToken":"tok-0","output":"{}"}"#).await;
        let watch = proxy
            .effects()
            .watch(["tok-0".to_owned(), "tok-1".to_owned()]);

        call(&proxy, SUCCESS, BODY).await;
        call(&proxy, SUCCESS, r#"{"taskToken":"tok-2","output":"{}"}"#).await;
        call(&proxy, SUCCESS, BODY).await;
        call(&proxy, SUCCESS, r#"{"taskToken":"tok-0","output":"{}"}"#).await;

        assert!(before.starts_with("HTTP/1.1 200"), "{before}");
        assert_eq!(
            watch.taken_effect(),
            1,
            "tok-1 once; not tok-2, nor the duplicates answered TaskTimedOut"
        );
        assert_eq!(watch.reached(1).await, 1);
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let mut schedule = Schedule::new(Faults::Seeded { seed, rate: 0.2 });
            (0..200).map(|_| schedule.draw()).collect::<Vec<_>>()
        };

        let first = draws(7);

        assert_eq!(first, draws(7));
        assert_ne!(first, draws(8));
        let faults = first.iter().flatten().count();
        assert!((20..=60).contains(&faults), "about 20% of 200: {faults}");
    }
}
