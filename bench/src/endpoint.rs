//! A Step Functions stand-in on loopback that answers SendTaskSuccess after a
//! fixed delay: the bench's latency-injecting peer. moto answers in about 9 ms,
//! too fast to show whether a batch's calls overlap.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sfn_callback_tests::Result;
use sfn_callback_tests::loopback::{LoopbackServer, body_bytes, serve_loopback};

const SEND_TASK_SUCCESS: &str = "AWSStepFunctions.SendTaskSuccess";

#[derive(Debug, Default)]
struct Tally {
    successes: AtomicU64,
    refused: AtomicU64,
    largest_body: AtomicUsize,
}

/// The running stand-in; it serves until dropped.
#[derive(Debug)]
pub struct SlowSfn {
    server: LoopbackServer,
    tally: Arc<Tally>,
}

impl SlowSfn {
    /// Listens on a free loopback port; every SendTaskSuccess is answered
    /// `200 {}` after `delay`, anything else `400 UnknownOperationException`.
    pub async fn start(delay: Duration) -> Result<Self> {
        let tally = Arc::new(Tally::default());
        let serving = Arc::clone(&tally);
        let server =
            serve_loopback(move |request, _| answer(Arc::clone(&serving), delay, request)).await?;
        Ok(Self { server, tally })
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// SendTaskSuccess calls answered so far.
    pub fn successes(&self) -> u64 {
        self.tally.successes.load(Ordering::Relaxed)
    }

    /// Requests refused because they were not SendTaskSuccess.
    pub fn refused(&self) -> u64 {
        self.tally.refused.load(Ordering::Relaxed)
    }

    /// The largest request body seen, in bytes.
    pub fn largest_body(&self) -> usize {
        self.tally.largest_body.load(Ordering::Relaxed)
    }
}

async fn answer(
    tally: Arc<Tally>,
    delay: Duration,
    request: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let is_success = request
        .headers()
        .get("x-amz-target")
        .is_some_and(|target| target.as_bytes() == SEND_TASK_SUCCESS.as_bytes());
    let body = body_bytes(request).await;
    tally.largest_body.fetch_max(body.len(), Ordering::Relaxed);
    let (status, text) = if is_success {
        // "At once" means no timer at all: a zero sleep still waits for the
        // timer wheel's next turn.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        tally.successes.fetch_add(1, Ordering::Relaxed);
        (StatusCode::OK, "{}")
    } else {
        tally.refused.fetch_add(1, Ordering::Relaxed);
        (
            StatusCode::BAD_REQUEST,
            r#"{"__type":"UnknownOperationException","message":"the bench answers SendTaskSuccess only"}"#,
        )
    };
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    Ok(response)
}
