//! A Step Functions stand-in on loopback that answers SendTaskSuccess after a
//! fixed delay: the bench's latency-injecting peer. moto answers in about 9 ms,
//! too fast to show whether a batch's calls overlap.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sfn_callback_tests::Result;
use tokio::net::TcpListener;

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
    addr: SocketAddr,
    tally: Arc<Tally>,
    server: tokio::task::JoinHandle<()>,
}

impl SlowSfn {
    /// Listens on a free loopback port; every SendTaskSuccess is answered
    /// `200 {}` after `delay`, anything else `400 UnknownOperationException`.
    pub async fn start(delay: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tally = Arc::new(Tally::default());
        let server = tokio::spawn(serve(listener, Arc::clone(&tally), delay));
        Ok(Self {
            addr,
            tally,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
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

impl Drop for SlowSfn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, tally: Arc<Tally>, delay: Duration) {
    while let Ok((stream, _)) = listener.accept().await {
        let tally = Arc::clone(&tally);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                answer(Arc::clone(&tally), delay, request)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
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
    let body = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
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
