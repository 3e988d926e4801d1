//! One HTTP/1 server on a free loopback port, for every local stand-in the
//! tests and the bench run: the Runtime API emulator, the fault proxy, the
//! Function URL and the bench's slow Step Functions. Each brings only its
//! handler; the bind, the accept loop and the per-connection service live here.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Result;

/// What a handler answers with.
pub type Reply = Response<Full<Bytes>>;

/// A server on `127.0.0.1:PORT`. Dropping it stops the accept loop; a
/// connection already open finishes the exchange it is in.
pub struct LoopbackServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl fmt::Debug for LoopbackServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LoopbackServer {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` and the like.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Binds a free loopback port and answers every request on it with
/// `handler(request, client address)`.
///
/// A handler error closes the connection without an answer: that is how the
/// fault proxy makes its resets and dropped responses.
pub async fn serve_loopback<H, F, E>(handler: H) -> Result<LoopbackServer>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = std::result::Result<Reply, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handler = Arc::new(handler);
    let accept = tokio::spawn(async move {
        while let Ok((stream, client)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| handler(request, client));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(LoopbackServer { addr, accept })
}

/// The whole body of `request`; empty when the client stopped sending midway.
pub async fn body_bytes(request: Request<Incoming>) -> Bytes {
    request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default()
}
