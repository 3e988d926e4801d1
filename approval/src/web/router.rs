//! The `approval-http` router, behind a Lambda Function URL or an API Gateway
//! HTTP API. With `APPROVAL_TABLE` set it answers recorded mode's
//! `/a/{link id}` links (the `recorded` module); otherwise the stateless
//! sealed links:
//!
//! - GET or HEAD `?l=<sealed link>`: the confirmation page. Calls nothing: mail
//!   scanners fetch every link, and fetching must not decide.
//! - POST of the confirmation form: opens the link again and completes the task
//!   (Approve: SendTaskSuccess; Reject: SendTaskFailure `ApprovalRejected`).
//!
//! A link that does not open (forged, changed, expired) never reaches Step
//! Functions. Every answer is an HTML page with strict security headers. Logs
//! name the token by its fingerprint only, never the token, the link or a key.

use std::sync::Arc;

use lambda_http::http::header::{self, HeaderName, HeaderValue};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::completion::{Completion, CompletionError};
use sfn_callback::config::Config;
use sfn_callback::outcome::{Class, Classify, Done, Outcome};
use sfn_callback::token::TaskToken;

use super::form::{self, FormError, MAX_BODY_BYTES};
use super::page::{self, Page};
use super::recorded::Recorded;
use crate::link::{self, Action, KeySource, KeyStore, KeysUnavailable, LinkKeys, OpenError};
use crate::record::{ApprovalTable, RecordedSettings};
use crate::{now_unix, rfc3339};

/// The query parameter that carries the sealed link.
pub(crate) const LINK_PARAMETER: &str = "l";
/// The error a rejection fails the task with, for the state machine's `Catch`.
pub(crate) const REJECTED_ERROR: &str = "ApprovalRejected";
/// The cause of a rejection without a comment.
pub(crate) const DEFAULT_REJECT_CAUSE: &str = "Rejected by approver";

/// Scripts, frames, plugins, other origins: none. Inline style only, and the
/// form may post only to this page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What the function builds once at cold start and borrows on every request.
#[derive(Debug, Clone)]
pub struct ApprovalHttp {
    keys: Arc<KeyStore>,
    client: Arc<CallbackClient>,
    /// Recorded mode's table and settings; `None` in the stateless mode.
    recorded: Option<Arc<Recorded>>,
}

impl ApprovalHttp {
    /// With keys that never change.
    pub fn new(keys: LinkKeys, client: CallbackClient) -> Self {
        Self::with_key_store(KeyStore::fixed(keys), client)
    }

    /// With keys from `keys`, for example read again from the secret on an
    /// interval.
    pub fn with_key_store(keys: KeyStore, client: CallbackClient) -> Self {
        Self {
            keys: Arc::new(keys),
            client: Arc::new(client),
            recorded: None,
        }
    }

    /// In recorded mode, with keys that never change: links are `/a/{id}`
    /// ids looked up in `table`.
    pub fn recorded(
        keys: LinkKeys,
        client: CallbackClient,
        table: ApprovalTable,
        settings: RecordedSettings,
    ) -> Self {
        Self::recorded_with_key_store(KeyStore::fixed(keys), client, table, settings)
    }

    /// In recorded mode, with keys from `keys`.
    pub fn recorded_with_key_store(
        keys: KeyStore,
        client: CallbackClient,
        table: ApprovalTable,
        settings: RecordedSettings,
    ) -> Self {
        Self {
            recorded: Some(Arc::new(Recorded { table, settings })),
            ..Self::with_key_store(keys, client)
        }
    }

    /// Reads the settings (`LINK_KEY_SECRET_ARN` and `LINK_KEY_REFRESH_SECONDS`,
    /// or `LINK_KEY`, the client's retry settings, and recorded mode's
    /// `APPROVAL_TABLE` and `APPROVERS_ALLOWED`), loads the keys and builds the
    /// clients. Recorded mode when `APPROVAL_TABLE` is set.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let key_source = KeySource::from_env()?;
        let recorded = RecordedSettings::from_env()?;
        let sdk_config = sfn_callback::aws::sdk_config().await;
        let keys = key_source.into_store(&sdk_config).await?;
        let client = CallbackClient::from_sdk_config(&sdk_config, config.retry);
        Ok(match recorded {
            Some(settings) => {
                let table = ApprovalTable::from_sdk_config(&sdk_config, settings.table.clone());
                Self::recorded_with_key_store(keys, client, table, settings)
            }
            None => Self::with_key_store(keys, client),
        })
    }

    /// Answers one request. Never fails: every outcome is a page.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let method = request.method();
        let known = method == Method::GET || method == Method::HEAD || method == Method::POST;
        if let Some(recorded) = self.recorded.as_deref()
            && known
        {
            let page = recorded.handle(&self.keys, &self.client, &request).await;
            return respond(page, method == Method::HEAD);
        }
        if method == Method::GET || method == Method::HEAD {
            let page = self.confirm(&request).await;
            respond(page, method == Method::HEAD)
        } else if method == Method::POST {
            respond(self.decide(&request).await, false)
        } else {
            let mut response = respond(page::method_not_allowed(), false);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            response
        }
    }

    /// GET/HEAD: opens the link and shows the confirmation page. No Step
    /// Functions call (the keys may be read again, on their interval).
    async fn confirm(&self, request: &Request) -> Page {
        let Some(sealed) = query_link(request) else {
            tracing::info!(outcome = "no link", "link refused");
            return page::invalid_link();
        };
        let keys = match self.keys.keys().await {
            Ok(keys) => keys,
            Err(err) => return keys_unavailable(&err),
        };
        match link::open(&keys, &sealed, now_unix()) {
            Ok(data) => {
                tracing::info!(
                    token = %data.token,
                    action = data.action.as_str(),
                    "confirmation page shown"
                );
                page::confirmation(&data, &sealed)
            }
            Err(err) => refused(err),
        }
    }

    /// POST: reads the form, opens its link, and completes the task.
    async fn decide(&self, request: &Request) -> Page {
        let body = request.body().as_ref();
        let form = match form::parse(body) {
            Ok(form) => form,
            Err(FormError::TooLarge { bytes }) => {
                tracing::info!(bytes, limit = MAX_BODY_BYTES, "form refused: too large");
                return page::body_too_large();
            }
            Err(err) => {
                tracing::info!(reason = %err, "form refused");
                return page::bad_form(&err.to_string());
            }
        };
        let keys = match self.keys.keys().await {
            Ok(keys) => keys,
            Err(err) => return keys_unavailable(&err),
        };
        let now = now_unix();
        let data = match link::open(&keys, &form.link, now) {
            Ok(data) => data,
            Err(err) => return refused(err),
        };
        let completion = match completion(form.decision, form.comment, now) {
            Ok(completion) => completion,
            Err(err) => {
                tracing::error!(token = %data.token, error = %err, "decision could not be built");
                return page::server_error();
            }
        };
        let deadline = request
            .lambda_context_ref()
            .map_or(Deadline::NONE, |context| {
                Deadline::from_epoch_millis(context.deadline)
            });
        let outcome = self
            .client
            .complete(&data.token, completion, deadline)
            .await;
        log_outcome(&data.token, form.decision, &outcome);
        result_page(form.decision, &outcome)
    }
}

/// What the decision tells Step Functions.
///
/// - Approve: SendTaskSuccess `{"decision": "approved", "comment": ..., "decidedAt": "<RFC 3339>"}`.
/// - Reject: SendTaskFailure `ApprovalRejected`, the comment as the cause.
pub(crate) fn completion(
    decision: Action,
    comment: Option<String>,
    now: u64,
) -> Result<Completion, CompletionError> {
    match decision {
        Action::Approve => Ok(Completion::success(&json!({
            "decision": "approved",
            "comment": comment,
            "decidedAt": rfc3339(now),
        }))),
        Action::Reject => Completion::failure(
            Some(REJECTED_ERROR.to_owned()),
            Some(comment.unwrap_or_else(|| DEFAULT_REJECT_CAUSE.to_owned())),
        ),
    }
}

/// The page for a decision's outcome, read from the one classification.
pub(crate) fn result_page(decision: Action, outcome: &Outcome) -> Page {
    match outcome {
        Ok(Done::Completed | Done::FailedWithoutDetails) => match decision {
            Action::Approve => page::approved(),
            Action::Reject => page::rejected(),
        },
        Ok(Done::AlreadyClosed) => page::already_decided(),
        Err(err) if err.class() == Class::Transient => page::try_again_later(),
        // The link was authentic, so the token was one Step Functions gave us:
        // a task it no longer knows has ended (timed out, or decided elsewhere).
        Err(err) if err.task_is_gone() => page::already_decided(),
        // OutputRejected cannot come from our small output; treat it as ours.
        Ok(Done::OutputRejected) | Err(_) => page::server_error(),
    }
}

fn log_outcome(token: &TaskToken, decision: Action, outcome: &Outcome) {
    let decision = decision.as_str();
    match outcome {
        Ok(done) => {
            tracing::info!(token = %token, decision, outcome = ?done, "approval decided");
        }
        Err(err) => tracing::warn!(
            token = %token,
            decision,
            outcome = ?err.class(),
            sfn_error = err.service_code(),
            error = %err,
            "approval not recorded"
        ),
    }
}

/// 503 while the keys cannot be trusted: the link may well be good.
fn keys_unavailable(err: &KeysUnavailable) -> Page {
    tracing::error!(error = %err, "link refused: the link keys are unavailable");
    page::try_again_later()
}

/// The page for a link that does not open; the link itself is never logged.
fn refused(err: OpenError) -> Page {
    match err {
        OpenError::Expired { at } => {
            tracing::info!(expired_at = %rfc3339(at), "link refused: expired");
            page::expired(at)
        }
        OpenError::Malformed | OpenError::Tampered => {
            tracing::warn!(reason = %err, "link refused");
            page::invalid_link()
        }
    }
}

/// The `l` parameter of the request's query string.
pub(super) fn query_link(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == LINK_PARAMETER)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

/// The response for `page`, with the security headers; HEAD gets no body.
fn respond(page: Page, head: bool) -> Response<Body> {
    let body = if head {
        Body::Empty
    } else {
        Body::Text(page.html)
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Sent with every response.
pub(crate) const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

#[cfg(test)]
mod tests {
    use sfn_callback::outcome::CallbackError;

    use super::*;

    #[test]
    fn approval_output_has_the_decision_comment_and_time() {
        let completion = completion(Action::Approve, Some("ok".into()), 1_750_000_000).unwrap();
        let Completion::Success { output } = completion else {
            panic!("{completion:?}");
        };
        let output: serde_json::Value = serde_json::from_str(&output).unwrap();
        assert_eq!(
            output,
            json!({"decision": "approved", "comment": "ok", "decidedAt": "2025-06-15T15:06:40Z"})
        );
    }

    #[test]
    fn approval_without_a_comment_has_a_null_comment() {
        let completion = completion(Action::Approve, None, 0).unwrap();
        assert!(
            matches!(completion, Completion::Success { output } if output.contains("\"comment\":null"))
        );
    }

    /// The failure of a rejection with `cause`.
    fn rejected_because(cause: &str) -> Completion {
        Completion::Failure {
            error: Some("ApprovalRejected".into()),
            cause: Some(cause.into()),
        }
    }

    #[test]
    fn rejection_fails_the_task_with_approval_rejected_and_the_comment() {
        assert_eq!(
            completion(Action::Reject, Some("not now".into()), 0),
            Ok(rejected_because("not now"))
        );
    }

    #[test]
    fn rejection_without_a_comment_has_the_default_cause() {
        assert_eq!(
            completion(Action::Reject, None, 0),
            Ok(rejected_because("Rejected by approver"))
        );
    }

    #[test]
    fn kms_fallback_still_shows_the_decision() {
        assert_eq!(
            result_page(Action::Reject, &Ok(Done::FailedWithoutDetails)),
            page::rejected()
        );
    }

    #[test]
    fn refused_for_any_other_reason_is_a_server_error() {
        let outcome = Err(CallbackError::Refused {
            code: "AccessDeniedException".into(),
        });
        assert_eq!(result_page(Action::Approve, &outcome).status, 500);
    }

    #[test]
    fn out_of_time_is_try_again_later() {
        assert_eq!(
            result_page(Action::Approve, &Err(CallbackError::OutOfTime)).status,
            503
        );
    }
}
