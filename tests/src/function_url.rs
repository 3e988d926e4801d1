//! A local Lambda Function URL: an HTTP server on loopback that turns each
//! request into the Function URL event (payload format 2.0), invokes the
//! function binary through the Runtime API, and turns its answer back into HTTP.
//! Browsers and plain HTTP clients can then use `approval-http` as they would in AWS.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::Result;
use crate::loopback::{LoopbackServer, serve_loopback};
use crate::runtime_api::{Answer, Lambda};

/// A function served at `http://127.0.0.1:PORT/`. Stops when dropped.
#[derive(Debug)]
pub struct FunctionUrl {
    server: LoopbackServer,
    lambda: Arc<Mutex<Lambda>>,
}

impl FunctionUrl {
    /// Serves `lambda` on a free loopback port.
    pub async fn serve(lambda: Lambda) -> Result<Self> {
        let lambda = Arc::new(Mutex::new(lambda));
        let serving = Arc::clone(&lambda);
        let ids = AtomicU64::new(1);
        let server = serve_loopback(move |request, client| {
            let id = ids.fetch_add(1, Ordering::Relaxed);
            bridge(Arc::clone(&serving), request, client, id)
        })
        .await?;
        Ok(Self { server, lambda })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("{}/", self.server.endpoint())
    }

    /// Everything the function logged so far.
    pub async fn log_text(&self) -> String {
        self.lambda.lock().await.log_text()
    }
}

async fn bridge(
    lambda: Arc<Mutex<Lambda>>,
    request: Request<Incoming>,
    peer: SocketAddr,
    id: u64,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let response = match invoke(&lambda, request, peer, id).await {
        Ok(response) => response,
        Err(err) => plain(
            StatusCode::BAD_GATEWAY,
            &format!("function URL bridge: {err}"),
        ),
    };
    Ok(response)
}

async fn invoke(
    lambda: &Mutex<Lambda>,
    request: Request<Incoming>,
    peer: SocketAddr,
    id: u64,
) -> Result<Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let event = url_event(&parts, &body, peer, id);
    let answer = lambda.lock().await.invoke(&event).await?;
    match answer {
        Answer::Response(value) => http_response(&value),
        // Lambda answers a failed invocation of a function URL with 502.
        Answer::Error { error_type, .. } => Ok(plain(
            StatusCode::BAD_GATEWAY,
            &format!("function error {error_type}"),
        )),
    }
}

/// The Function URL event for one HTTP request.
pub fn url_event(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    peer: SocketAddr,
    id: u64,
) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|existing| {
                if let Value::String(text) = existing {
                    text.push(',');
                    text.push_str(&value);
                }
            })
            .or_insert(Value::String(value));
    }
    let query = parts.uri.query().unwrap_or_default();
    let params: Map<String, Value> = form_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64_encode(body), true),
    };
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "localurl",
            "domainName": "localurl.lambda-url.us-east-1.on.aws",
            "domainPrefix": "localurl",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": format!("local-{id}"),
            "routeKey": "$default",
            "stage": "$default",
            "time": "21/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_763_726_400_000_u64,
        },
        "isBase64Encoded": base64,
    });
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// Turns the function's answer (`statusCode`, `headers`, `body`) into HTTP.
fn http_response(value: &Value) -> Result<Response<Full<Bytes>>> {
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .unwrap_or(200);
    let mut builder = Response::builder().status(u16::try_from(status)?);
    if let Some(headers) = value.get("headers").and_then(Value::as_object) {
        for (name, header) in headers {
            if let Some(text) = header.as_str() {
                builder = builder.header(name, text);
            }
        }
    }
    if let Some(multi) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in multi {
            for text in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                builder = builder.header(name, text);
            }
        }
    }
    let body = value
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = if value.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64_decode(body)?
    } else {
        body.as_bytes().to_vec()
    };
    Ok(builder.body(Full::new(Bytes::from(bytes)))?)
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}

/// Splits `a=1&b=2` into decoded pairs.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}
