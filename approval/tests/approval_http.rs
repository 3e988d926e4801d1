//! The `approval-http` router, driven in-process with `lambda_http` requests,
//! over the real aws-sdk-sfn client on replayed HTTP exchanges: what each
//! request shows, what it sends to Step Functions, and what it never sends.

// clippy.toml allows unwrap and expect in `#[test]` functions only; the helpers
// here are test code too, and a panic in them is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::{Value, json};
use sfn_callback::TaskToken;
use sfn_callback_approval::link::{self, Action, KeyStore, LinkData, LinkKey, LinkKeys};
use sfn_callback_approval::now_unix;
use sfn_callback_approval::web::form::MAX_BODY_BYTES;
use sfn_callback_approval::web::router::{ApprovalHttp, CONTENT_SECURITY_POLICY};

mod support;

use support::sfn::{FAILURE, MAX_ATTEMPTS, SUCCESS, Sent, TOKEN, accepted, refused, sent};

/// Where approval-http is served in these tests.
const BASE_URL: &str = "https://approve.example/";

// --- Fixtures ---------------------------------------------------------------

fn keys() -> LinkKeys {
    LinkKeys::single(LinkKey::new([5; 32]))
}

fn link_data(action: Action, expires_at: u64) -> LinkData {
    LinkData {
        token: TaskToken::new(TOKEN).unwrap(),
        action,
        expires_at,
        subject: Some("Approve deploy 42".into()),
        summary: Some("Release 1.4.2 to production".into()),
    }
}

/// A Function URL host, as long as they come.
const LONG_BASE_URL: &str =
    "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws/";

/// A token of the longest length, as incompressible as random base64.
fn longest_token() -> String {
    let mut seed = 42_u64;
    let noise: Vec<u8> = (0..2_048)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_le_bytes()[0]
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(noise)[..2_048].to_owned()
}

/// A link sealed with our key, working for another hour.
fn sealed(action: Action) -> String {
    let data = link_data(action, now_unix() + 3_600);
    link::seal(&keys(), &data).unwrap().expose().to_owned()
}

fn expired_link() -> String {
    let data = link_data(Action::Approve, now_unix() - 60);
    link::seal(&keys(), &data).unwrap().expose().to_owned()
}

/// A link sealed with a key we do not hold.
fn forged_link() -> String {
    let data = link_data(Action::Approve, now_unix() + 3_600);
    let forger = LinkKey::new([6; 32]);
    link::seal_with(&forger, &data).unwrap().expose().to_owned()
}

/// Our link with one byte of its ciphertext changed.
fn tampered_link() -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed(Action::Approve)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Our keys, too old to trust, with the secret unreadable.
fn unreadable_key_store() -> KeyStore {
    support::untrusted_key_store(keys())
}

/// The router over a client whose HTTP layer replays `answers` and records
/// every request it is sent.
fn app(answers: Vec<ReplayEvent>) -> (ApprovalHttp, StaticReplayClient) {
    let replay = StaticReplayClient::new(answers);
    (
        ApprovalHttp::new(keys(), support::sfn::callback_client(replay.clone())),
        replay,
    )
}

/// The router over a client with one answer ready that no test expects to be
/// used: any call would be recorded.
fn app_that_must_not_call() -> (ApprovalHttp, StaticReplayClient) {
    app(vec![accepted()])
}

/// The answer to the confirmation form posting `decision` on a link sealed
/// with `action`, when Step Functions refuses the first call with `code`;
/// and the calls the app made.
async fn decided_after_refusal(
    code: &str,
    action: Action,
    decision: &str,
) -> (Response<Body>, StaticReplayClient) {
    let (app, replay) = app(vec![refused(code), accepted()]);
    let response = app.handle(post(&sealed(action), decision, None)).await;
    (response, replay)
}

/// The answer to `request` from an app that must not call Step Functions,
/// checking that it made no call.
async fn answer_without_a_call(request: Request) -> Response<Body> {
    let (app, replay) = app_that_must_not_call();
    let response = app.handle(request).await;
    assert_eq!(replay.actual_requests().count(), 0);
    response
}

fn request(method: Method, query_link: Option<&str>, body: Body) -> Request {
    let uri = match query_link {
        Some(link) => format!("{BASE_URL}?l={link}"),
        None => BASE_URL.to_owned(),
    };
    http::Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap()
}

fn get(link: &str) -> Request {
    bodiless(Method::GET, link)
}

/// A `method` request for `link`, without a body.
fn bodiless(method: Method, link: &str) -> Request {
    request(method, Some(link), Body::Empty)
}

/// The confirmation form as a browser posts it.
fn form_body(link: &str, decision: &str, comment: Option<&str>) -> Body {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("link", link);
    form.append_pair("decision", decision);
    if let Some(comment) = comment {
        form.append_pair("comment", comment);
    }
    Body::Text(form.finish())
}

fn post(link: &str, decision: &str, comment: Option<&str>) -> Request {
    let mut request = request(Method::POST, Some(link), form_body(link, decision, comment));
    request.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    request
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().as_ref().to_vec()).unwrap()
}

/// The page says `shown`, and `replay` was sent exactly one call, to `target`:
/// that call.
fn assert_decided_with_one_call(
    response: &Response<Body>,
    shown: &str,
    replay: &StaticReplayClient,
    target: &str,
) -> Sent {
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).contains(shown));
    let mut sent = sent(replay);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, target);
    sent.remove(0)
}

/// The hidden `link` field of a confirmation page, as a browser would send it.
fn hidden_link(page: &str) -> String {
    let start = page.find("name=\"link\" value=\"").unwrap() + "name=\"link\" value=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

fn assert_security_headers(headers: &HeaderMap) {
    let expected = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ];
    for (name, value) in expected {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name}"
        );
    }
}

// --- Opening a link: shows, decides nothing ---------------------------------

#[tokio::test]
async fn get_shows_the_confirmation_page_and_makes_no_step_functions_call() {
    let response = answer_without_a_call(get(&sealed(Action::Approve))).await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = text(&response);
    assert!(page.contains("Approve this request?"), "{page}");
    assert!(page.contains("Approve deploy 42"));
    assert!(page.contains("Release 1.4.2 to production"));
    assert!(page.contains("<form method=\"post\">"));
}

#[tokio::test]
async fn head_answers_like_get_without_a_body_and_makes_no_step_functions_call() {
    let response = answer_without_a_call(bodiless(Method::HEAD, &sealed(Action::Approve))).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().is_empty());
    assert_security_headers(response.headers());
}

#[tokio::test]
async fn confirmation_page_carries_the_link_in_its_form_and_never_the_token() {
    let (app, _) = app_that_must_not_call();
    let link = sealed(Action::Reject);

    let page = text(&app.handle(get(&link)).await);

    assert_eq!(hidden_link(&page), link);
    assert!(!page.contains(TOKEN));
    assert!(!page.contains("AQCE"));
}

#[tokio::test]
async fn get_without_a_link_is_400() {
    let response = answer_without_a_call(request(Method::GET, None, Body::Empty)).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

// --- Deciding -----------------------------------------------------------------

#[tokio::test]
async fn post_approve_sends_task_success_with_the_decision_output() {
    let (app, replay) = app(vec![accepted()]);
    let before = now_unix();

    let response = app
        .handle(post(&sealed(Action::Approve), "approve", Some("Ship it")))
        .await;

    let sent = assert_decided_with_one_call(&response, "Approved", &replay, SUCCESS);
    assert_eq!(sent.body["taskToken"], TOKEN);
    let output: Value = serde_json::from_str(sent.body["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["comment"], "Ship it");
    let decided_at = output["decidedAt"].as_str().unwrap();
    let decided_at = aws_smithy_types::DateTime::from_str(
        decided_at,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    assert!(decided_at.secs() >= i64::try_from(before).unwrap());
}

#[tokio::test]
async fn longest_cjk_comment_on_the_longest_link_is_recorded() {
    let (app, replay) = app(vec![accepted()]);
    let token = longest_token();
    let data = LinkData {
        token: TaskToken::new(token.clone()).unwrap(),
        ..link_data(Action::Approve, now_unix() + 3_600)
    };
    let link = link::seal(&keys(), &data).unwrap();
    // As long as the README's link for a 2,048-character token.
    assert!(
        LONG_BASE_URL.len() + "?l=".len() + link.len() >= 2_263,
        "{}",
        link.len()
    );
    let comment = "你".repeat(1_000);

    let response = app
        .handle(post(link.expose(), "approve", Some(&comment)))
        .await;

    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    let sent = sent(&replay);
    assert_eq!(sent[0].body["taskToken"], token);
    let output: Value = serde_json::from_str(sent[0].body["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["comment"], comment);
}

#[tokio::test]
async fn post_approve_without_a_comment_sends_a_null_comment() {
    let (app, replay) = app(vec![accepted()]);

    app.handle(post(&sealed(Action::Approve), "approve", None))
        .await;

    let output: Value =
        serde_json::from_str(sent(&replay)[0].body["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["comment"], Value::Null);
}

#[tokio::test]
async fn post_reject_sends_task_failure_approval_rejected_with_the_comment_as_cause() {
    let (app, replay) = app(vec![accepted()]);

    let response = app
        .handle(post(
            &sealed(Action::Reject),
            "reject",
            Some("Not during the freeze"),
        ))
        .await;

    let sent = assert_decided_with_one_call(&response, "Rejected", &replay, FAILURE);
    assert_eq!(
        sent.body,
        json!({"taskToken": TOKEN, "error": "ApprovalRejected", "cause": "Not during the freeze"})
    );
}

#[tokio::test]
async fn post_reject_without_a_comment_uses_the_default_cause() {
    let (app, replay) = app(vec![accepted()]);

    app.handle(post(&sealed(Action::Reject), "reject", None))
        .await;

    assert_eq!(sent(&replay)[0].body["cause"], "Rejected by approver");
}

#[tokio::test]
async fn form_decision_wins_over_the_button_the_link_came_from() {
    let (app, replay) = app(vec![accepted()]);

    app.handle(post(&sealed(Action::Reject), "approve", None))
        .await;

    assert_eq!(sent(&replay)[0].target, SUCCESS);
}

#[tokio::test]
async fn form_from_the_confirmation_page_completes_the_task() {
    let (app, replay) = app(vec![accepted()]);
    let page = text(&app.handle(get(&sealed(Action::Approve))).await);

    let response = app.handle(post(&hidden_link(&page), "approve", None)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sent(&replay).len(), 1);
}

// --- No longer pending ----------------------------------------------------------

#[tokio::test]
async fn task_timed_out_is_409_already_decided() {
    let (response, replay) =
        decided_after_refusal("TaskTimedOut", Action::Approve, "approve").await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(text(&response).contains("already settled"));
    assert_eq!(replay.actual_requests().count(), 1, "not retried");
}

#[tokio::test]
async fn invalid_token_on_an_authentic_link_is_409_already_decided() {
    let (response, _) = decided_after_refusal("InvalidToken", Action::Approve, "approve").await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn task_does_not_exist_is_409_already_decided() {
    let (response, _) = decided_after_refusal("TaskDoesNotExist", Action::Reject, "reject").await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn second_decision_after_the_first_is_409() {
    let (app, replay) = app(vec![accepted(), refused("TaskTimedOut")]);
    let link = sealed(Action::Approve);

    let first = app.handle(post(&link, "approve", None)).await;
    let second = app.handle(post(&link, "reject", None)).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(replay.actual_requests().count(), 2);
}

// --- AWS trouble ----------------------------------------------------------------

#[tokio::test]
async fn throttling_on_every_attempt_is_503_try_again_in_a_minute() {
    let answers = (0..MAX_ATTEMPTS)
        .map(|_| refused("ThrottlingException"))
        .collect();
    let (app, replay) = app(answers);

    let response = app
        .handle(post(&sealed(Action::Approve), "approve", None))
        .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = text(&response);
    assert!(page.contains("try again in a minute"), "{page}");
    assert!(page.contains("link still works"), "{page}");
    assert_eq!(replay.actual_requests().count(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn link_keys_too_old_to_trust_are_503_and_make_no_step_functions_call() {
    let replay = StaticReplayClient::new(vec![accepted()]);
    let app = ApprovalHttp::with_key_store(
        unreadable_key_store(),
        support::sfn::callback_client(replay.clone()),
    );

    let shown = app.handle(get(&sealed(Action::Approve))).await;
    let posted = app
        .handle(post(&sealed(Action::Approve), "approve", None))
        .await;

    assert_eq!(shown.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(posted.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(&posted).contains("try again in a minute"));
    assert_eq!(replay.actual_requests().count(), 0);
}

#[tokio::test]
async fn other_permanent_refusal_is_500_without_details() {
    let (app, _) = app(vec![refused("AccessDeniedException")]);

    let response = app
        .handle(post(&sealed(Action::Approve), "approve", None))
        .await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!text(&response).contains("AccessDenied"));
}

#[tokio::test]
async fn lambda_deadline_already_passed_is_503_and_sends_nothing() {
    let mut context = Context::default();
    context.deadline = 1;
    let request = post(&sealed(Action::Approve), "approve", None).with_lambda_context(context);

    let response = answer_without_a_call(request).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

// --- Links that do not open never reach Step Functions ---------------------------

#[tokio::test]
async fn forged_link_is_400_on_get_and_makes_no_call() {
    let response = answer_without_a_call(get(&forged_link())).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn forged_link_is_400_on_post_and_makes_no_call() {
    let response = answer_without_a_call(post(&forged_link(), "approve", None)).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tampered_link_is_400_on_post_and_makes_no_call() {
    let response = answer_without_a_call(post(&tampered_link(), "approve", None)).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(text(&response).contains("This link does not work"));
}

#[tokio::test]
async fn expired_link_shows_the_expiry_page_and_sends_nothing() {
    let (app, replay) = app_that_must_not_call();
    let link = expired_link();
    let expired_at = sfn_callback_approval::rfc3339(now_unix() - 60);

    let shown = app.handle(get(&link)).await;
    let posted = app.handle(post(&link, "approve", None)).await;

    assert_eq!(shown.status(), StatusCode::GONE);
    assert_eq!(posted.status(), StatusCode::GONE);
    // The page names the expiry; allow for the second turning over.
    let page = text(&posted);
    assert!(page.contains("has expired"), "{page}");
    assert!(page.contains(&expired_at[..16]), "{page}");
    assert_eq!(replay.actual_requests().count(), 0);
}

// --- Wrong requests ---------------------------------------------------------------

#[tokio::test]
async fn put_is_405_with_the_allowed_methods() {
    let response = answer_without_a_call(bodiless(Method::PUT, &sealed(Action::Approve))).await;

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD, POST");
}

#[tokio::test]
async fn body_over_the_limit_is_413_and_makes_no_call() {
    let link = sealed(Action::Approve);
    let body = format!(
        "link={link}&decision=approve&comment={}",
        "x".repeat(MAX_BODY_BYTES)
    );

    let response =
        answer_without_a_call(request(Method::POST, Some(&link), Body::Text(body))).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn form_without_a_decision_is_400_and_makes_no_call() {
    let link = sealed(Action::Approve);

    let response = answer_without_a_call(request(
        Method::POST,
        Some(&link),
        Body::Text(format!("link={link}")),
    ))
    .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

// --- Every response ---------------------------------------------------------------

#[tokio::test]
async fn every_response_has_the_security_headers_and_never_the_token() {
    let link = sealed(Action::Approve);
    let requests = vec![
        (get(&link), vec![]),
        (request(Method::HEAD, Some(&link), Body::Empty), vec![]),
        (post(&link, "approve", None), vec![accepted()]),
        (post(&link, "reject", None), vec![accepted()]),
        (post(&link, "approve", None), vec![refused("TaskTimedOut")]),
        (
            post(&link, "approve", None),
            (0..MAX_ATTEMPTS)
                .map(|_| refused("ThrottlingException"))
                .collect(),
        ),
        (
            post(&link, "approve", None),
            vec![refused("AccessDeniedException")],
        ),
        (get(&forged_link()), vec![]),
        (get(&expired_link()), vec![]),
        (request(Method::GET, None, Body::Empty), vec![]),
        (request(Method::DELETE, Some(&link), Body::Empty), vec![]),
        (
            request(
                Method::POST,
                Some(&link),
                Body::Text("x".repeat(MAX_BODY_BYTES + 1)),
            ),
            vec![],
        ),
    ];
    for (request, answers) in requests {
        let described = format!("{} {}", request.method(), request.uri().path());
        let (app, _) = app(answers);
        let response = app.handle(request).await;
        assert_security_headers(response.headers());
        let page = text(&response);
        assert!(!page.contains(TOKEN), "{described}");
        assert!(!page.contains("<script"), "{described}");
    }
}

// --- Logs ---------------------------------------------------------------------------

#[tokio::test]
async fn logs_name_the_token_by_fingerprint_and_never_show_the_token_or_the_link() {
    let (captured, _logs) = support::sfn::capture_logs();
    let (app, _) = app(vec![accepted(), refused("TaskTimedOut")]);
    let link = sealed(Action::Approve);

    app.handle(get(&link)).await;
    app.handle(post(&link, "approve", Some("fine"))).await;
    app.handle(post(&link, "approve", None)).await;
    app.handle(get(&tampered_link())).await;
    app.handle(get(&expired_link())).await;

    let logs = captured.text();
    let fingerprint = TaskToken::new(TOKEN).unwrap().fingerprint().to_string();
    assert!(logs.contains(&fingerprint), "{logs}");
    assert!(!logs.contains(TOKEN), "raw token in the logs: {logs}");
    // The token as the SDK would URL- or JSON-encode it, just in case.
    assert!(!logs.contains("AQCEAAAAKgAAAAMAAAAAAAAAAeMc"), "{logs}");
    assert!(!logs.contains(&link[..40]), "link in the logs: {logs}");
}
