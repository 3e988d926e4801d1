//! Where a request came from: the connection's address and the user agent, as
//! the Function URL (or HTTP API) reports them in the event's request context.
//!
//! Never from `X-Forwarded-For`: anyone can send that header, and the Function
//! URL passes it through unchanged, so it would let a visitor write any address
//! into the ledger.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::record::ledger::Visitor;

/// The visitor of `request`, from its request context; nothing when it has none.
pub fn visitor(request: &Request) -> Visitor {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Visitor {
            source_ip: context.http.source_ip.clone().filter(|ip| !ip.is_empty()),
            user_agent: context
                .http
                .user_agent
                .clone()
                .filter(|agent| !agent.is_empty()),
        },
        _ => Visitor::default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A Function URL event, as Lambda sends it, with these headers.
    fn url_request(headers: &serde_json::Value, source_ip: &str, user_agent: &str) -> Request {
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/a/AAAAAAAAAAAAAAAAAAAAAA",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "abc",
                "domainName": "abc.lambda-url.eu-west-1.on.aws",
                "domainPrefix": "abc",
                "http": {
                    "method": "GET",
                    "path": "/a/AAAAAAAAAAAAAAAAAAAAAA",
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": user_agent
                },
                "requestId": "r-1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "21/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1_763_726_400_000_u64
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn the_source_ip_and_agent_come_from_the_request_context() {
        let request = url_request(
            &json!({"user-agent": "Firefox/140"}),
            "198.51.100.4",
            "Firefox/140",
        );
        assert_eq!(
            visitor(&request),
            Visitor {
                source_ip: Some("198.51.100.4".into()),
                user_agent: Some("Firefox/140".into()),
            }
        );
    }

    #[test]
    fn x_forwarded_for_is_never_believed() {
        let request = url_request(
            &json!({"x-forwarded-for": "10.9.8.7, 192.0.2.1", "user-agent": "Firefox/140"}),
            "198.51.100.4",
            "Firefox/140",
        );
        assert_eq!(visitor(&request).source_ip.as_deref(), Some("198.51.100.4"));
    }

    #[test]
    fn a_request_without_a_context_has_no_visitor() {
        let request = lambda_http::http::Request::builder()
            .uri("https://approve.example/a/AAAAAAAAAAAAAAAAAAAAAA")
            .header("x-forwarded-for", "10.9.8.7")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(visitor(&request), Visitor::default());
    }
}
