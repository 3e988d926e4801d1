//! The `approval-notifier` handler in recorded mode over real SDK clients on
//! replayed HTTP exchanges: DynamoDB and Step Functions scripted by operation,
//! SES replayed. What each request shape gets, what the table is sent, and
//! which approvers are emailed.

// clippy.toml allows unwrap and expect in `#[test]` functions only; the helpers
// here are test code too, and a panic in them is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Map, Value, json};
use sfn_callback::TaskToken;
use sfn_callback::config::ConfigError;
use sfn_callback_approval::link::{self, KeyStore, LinkKey, LinkKeys};
use sfn_callback_approval::notify::{
    ApprovalNotifier, NotifierResponse, NotifierSettings, NotifyError, Recording,
};
use sfn_callback_approval::record::{
    ApprovalTable, NewRequest, RecordedSettings, RequestId, RequestStatus, RequestTerms,
    StoredRequest,
};

mod support;

use support::{answer_json, approvals_sns_event};

use support::sfn::{FAILURE, ScriptedSfn, TOKEN, busy, capture_logs};

const BASE_URL: &str = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws/";
const CREATE: &str = "DynamoDB_20120810.TransactWriteItems";
const GET: &str = "DynamoDB_20120810.GetItem";
const QUERY: &str = "DynamoDB_20120810.Query";
const THREE: [&str; 3] = [
    "alice@example.com",
    "bob@example.com",
    "lead@partner.example",
];

fn keys() -> LinkKeys {
    LinkKeys::single(LinkKey::new([3; 32]))
}

fn request_json(to: &[&str]) -> Value {
    json!({
        "taskToken": TOKEN,
        "to": to,
        "subject": "Approve deploy 42",
        "summary": "Release 1.4.2",
        "details": {"build": 42},
        "expiresInSeconds": 3600,
        "quorum": 2
    })
}

fn sent_ok(id: usize) -> ReplayEvent {
    support::ses_answer(
        200,
        &json!({"MessageId": format!("msg-{id}")}).to_string(),
        None,
    )
}

/// SES taking `count` emails.
fn ses(count: usize) -> StaticReplayClient {
    StaticReplayClient::new((0..count).map(sent_ok).collect())
}

/// DynamoDB's JSON for an item.
fn wire(item: &HashMap<String, AttributeValue>) -> Value {
    fn value(attribute: &AttributeValue) -> Value {
        match attribute {
            AttributeValue::S(text) => json!({ "S": text }),
            AttributeValue::N(number) => json!({ "N": number }),
            AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
            AttributeValue::L(items) => json!({ "L": items.iter().map(value).collect::<Vec<_>>() }),
            other => panic!("no wire form for {other:?} here"),
        }
    }
    Value::Object(
        item.iter()
            .map(|(name, attribute)| (name.clone(), value(attribute)))
            .collect::<Map<_, _>>(),
    )
}

/// The request as an earlier delivery recorded it.
fn recorded(status: RequestStatus) -> StoredRequest {
    let token = TaskToken::new(TOKEN).unwrap();
    StoredRequest {
        status,
        ..NewRequest {
            terms: RequestTerms {
                id: RequestId::for_token(&token),
                sealed_token: link::seal_token(&keys(), &token).unwrap(),
                token_fingerprint: token.fingerprint().to_string(),
                subject: "Approve deploy 42".into(),
                summary: None,
                details: None,
                approvers: THREE.iter().map(|&a| a.to_owned()).collect(),
                quorum: 2,
                requested_by: None,
                created_at: 1_750_000_000,
                expires_at: 4_000_000_000,
            },
            retention_days: 400,
        }
        .stored()
    }
}

/// The approver items of the recorded request, `emailed` of them emailed.
fn approver_items(emailed: &[&str]) -> Value {
    let items: Vec<Value> = THREE
        .iter()
        .map(|address| {
            let mut item = json!({
                "pk": {"S": "request#x"},
                "sk": {"S": format!("approver#{address}")},
                "approver": {"S": address},
                "ttl": {"N": "4000000000"}
            });
            if emailed.contains(address) {
                item["emailedAt"] = json!({"N": "1750000001"});
            }
            item
        })
        .collect();
    json!({ "Items": items, "Count": items.len() })
}

/// A table that records every new request, and holds approvers none of whom
/// was emailed.
fn empty_table(operation: &str, _earlier: usize) -> (u16, String) {
    match operation {
        QUERY => (200, approver_items(&[]).to_string()),
        _ => (200, "{}".to_owned()),
    }
}

/// A table that fails every request.
fn failing_table(_operation: &str, _earlier: usize) -> (u16, String) {
    (
        500,
        r#"{"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError"}"#.to_owned(),
    )
}

/// A table where the request is recorded already, as `stored`, with
/// `emailed` approvers emailed.
fn table_with(
    stored: StoredRequest,
    emailed: &'static [&'static str],
) -> impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static {
    move |operation, earlier| match (operation, earlier) {
        (CREATE, 0) => (
            400,
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled"
            })
            .to_string(),
        ),
        (GET, _) => (200, json!({ "Item": wire(&stored.to_item()) }).to_string()),
        (QUERY, _) => (200, approver_items(emailed).to_string()),
        _ => (200, "{}".to_owned()),
    }
}

/// A table where the request is recorded, pending, with alice and bob
/// emailed and the lead not yet.
fn lead_not_yet_emailed() -> impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static {
    table_with(
        recorded(RequestStatus::Pending),
        &["alice@example.com", "bob@example.com"],
    )
}

/// The doubles a recorded notifier talks to.
struct Doubles {
    ses: StaticReplayClient,
    dynamodb: ScriptedSfn,
    sfn: ScriptedSfn,
}

impl Doubles {
    fn new(emails: usize) -> Self {
        Self {
            ses: ses(emails),
            dynamodb: ScriptedSfn::default(),
            sfn: ScriptedSfn::default(),
        }
    }

    fn notifier(
        &self,
        table: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> ApprovalNotifier {
        self.notifier_with(table, self.sfn.client(&[]))
    }

    fn notifier_with(
        &self,
        table: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
        callback: sfn_callback::CallbackClient,
    ) -> ApprovalNotifier {
        self.notifier_at(BASE_URL, table, callback).unwrap()
    }

    /// A recorded notifier whose links start with `base_url`, if it takes it.
    fn notifier_at(
        &self,
        base_url: &str,
        table: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
        callback: sfn_callback::CallbackClient,
    ) -> Result<ApprovalNotifier, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&support::sfn::replay_sdk_config(
            self.dynamodb.http_client_fn(table),
        ));
        let recording = Recording {
            table: ApprovalTable::new(dynamodb, "approvals"),
            settings: recorded_settings(),
            callback,
        };
        ApprovalNotifier::recorded(
            aws_sdk_sesv2::Client::new(&support::sfn::replay_sdk_config(self.ses.clone())),
            KeyStore::fixed(keys()),
            settings(base_url),
            recording,
            10,
        )
    }

    /// The notifier over `table` handling `payload`.
    async fn handle(
        &self,
        table: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
        payload: Value,
    ) -> Result<NotifierResponse, NotifyError> {
        self.notifier(table).handle(invoke(payload)).await
    }

    /// [`Self::handle`]'s answer, which must be one, as JSON.
    async fn answer(
        &self,
        table: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
        payload: Value,
    ) -> Value {
        answer_json(self.handle(table, payload).await)
    }

    /// What SES was asked to send, in order.
    fn emails(&self) -> Vec<Value> {
        support::sent_emails(&self.ses)
    }

    /// Every DynamoDB request body, as text.
    fn table_traffic(&self) -> String {
        [CREATE, GET, QUERY]
            .iter()
            .flat_map(|operation| self.dynamodb.bodies(operation))
            .map(|body| body.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn table_requests(&self) -> usize {
        [CREATE, GET, QUERY]
            .iter()
            .map(|operation| self.dynamodb.count(operation))
            .sum()
    }

    /// Checks that the table was not asked anything and no email went out.
    #[track_caller]
    fn assert_nothing_recorded_or_sent(&self) {
        assert_eq!((self.table_requests(), self.emails().len()), (0, 0));
    }

    /// Checks that `err` is retried as the email being unavailable, and that
    /// no email went out.
    #[track_caller]
    fn assert_retried_without_email(&self, err: NotifyError) {
        support::assert_transient_and_unavailable(err);
        assert_eq!(self.emails().len(), 0);
    }

    /// Checks that `text` (what `place` was sent) holds no link id of the
    /// emails sent.
    #[track_caller]
    fn assert_no_link_id_in(&self, text: &str, place: &str) {
        for link in all_links(self) {
            let id = link.rsplit('/').next().unwrap();
            assert!(!text.contains(id), "a link id in {place}");
        }
    }
}

fn recorded_settings() -> RecordedSettings {
    RecordedSettings::from_lookup(|name| match name {
        "APPROVAL_TABLE" => Some("approvals".to_owned()),
        "APPROVERS_ALLOWED" => Some("@example.com,lead@partner.example".to_owned()),
        _ => None,
    })
    .unwrap()
    .unwrap()
}

fn settings(base_url: &str) -> NotifierSettings {
    NotifierSettings {
        sender_email: "approvals@example.com".into(),
        base_url: base_url.into(),
    }
}

/// An invocation with a minute left before the Lambda deadline.
fn invoke(payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.deadline = u64::try_from(
        (std::time::SystemTime::now() + std::time::Duration::from_mins(1))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    LambdaEvent::new(payload, context)
}

fn sqs_event(body: &str) -> Value {
    let queue = "arn:aws:sqs:us-east-1:123456789012:approvals";
    support::sfn::sqs_event(&[body.to_owned()], queue, |i| format!("m{i}"))
}

fn html_of(email: &Value) -> &str {
    email["Content"]["Simple"]["Body"]["Html"]["Data"]
        .as_str()
        .unwrap()
}

fn text_of(email: &Value) -> &str {
    email["Content"]["Simple"]["Body"]["Text"]["Data"]
        .as_str()
        .unwrap()
}

/// The URL behind a button of an email's HTML.
fn link_in(html: &str, label: &str) -> String {
    let end = html.find(&format!("\">{label}</a>")).unwrap();
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    html[start..html[start..].find('"').unwrap() + start].to_owned()
}

/// Every link of every email SES was asked to send.
fn all_links(doubles: &Doubles) -> Vec<String> {
    doubles
        .emails()
        .iter()
        .flat_map(|email| {
            ["Approve", "Reject"]
                .into_iter()
                .map(|label| link_in(html_of(email), label))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The SendTaskFailure Step Functions was sent: its error and cause.
fn failure_sent(doubles: &Doubles) -> (String, String) {
    let bodies = doubles.sfn.bodies(FAILURE);
    assert_eq!(bodies.len(), 1, "one SendTaskFailure");
    (
        bodies[0]["error"].as_str().unwrap().to_owned(),
        bodies[0]["cause"].as_str().unwrap().to_owned(),
    )
}

/// The doubles after a direct request to the three approvers, over an empty
/// table, was handled.
async fn three_approvers_notified() -> Doubles {
    let doubles = Doubles::new(3);
    doubles
        .handle(empty_table, request_json(&THREE))
        .await
        .unwrap();
    doubles
}

fn disallowed() -> Value {
    request_json(&["alice@example.com", "mallory@evil.example"])
}

#[tokio::test]
async fn three_approvers_get_one_email_each_addressed_to_them_alone() {
    let doubles = three_approvers_notified().await;

    let emails = doubles.emails();
    let recipients: Vec<Value> = emails
        .iter()
        .map(|email| email["Destination"]["ToAddresses"].clone())
        .collect();
    assert_eq!(
        recipients,
        THREE.iter().map(|a| json!([a])).collect::<Vec<_>>()
    );
    for (email, approver) in emails.iter().zip(THREE) {
        for part in [html_of(email), text_of(email)] {
            assert!(
                part.contains(&format!("Sent to {approver}, one of 3 approvers.")),
                "{part}"
            );
            assert!(part.contains("2 approvals are needed"), "{part}");
        }
    }
}

#[tokio::test]
async fn every_link_is_its_own_and_at_most_100_characters() {
    let doubles = three_approvers_notified().await;

    let links = all_links(&doubles);
    assert_eq!(links.len(), 6);
    assert_eq!(links.iter().collect::<HashSet<_>>().len(), 6, "{links:?}");
    let prefix = format!("{}/a/", BASE_URL.trim_end_matches('/'));
    for link in &links {
        assert!(link.starts_with(&prefix), "{link}");
        assert!(link.len() <= 100, "{} characters: {link}", link.len());
    }
    println!(
        "recorded link length with a {}-character Function URL: {} characters",
        BASE_URL.trim_end_matches('/').len(),
        links[0].len()
    );
    for (email, url) in doubles.emails().iter().zip(links.chunks(2)) {
        let text = text_of(email);
        assert!(text.contains(&format!("Approve:\n{}", url[0])), "{text}");
        assert!(text.contains(&format!("Reject:\n{}", url[1])), "{text}");
    }
}

#[tokio::test]
async fn direct_invoke_answers_the_request_id_the_emails_sent_and_the_expiry() {
    let doubles = Doubles::new(3);

    let answer = doubles.answer(empty_table, request_json(&THREE)).await;

    let token = TaskToken::new(TOKEN).unwrap();
    assert_eq!(answer["requestId"], RequestId::for_token(&token).as_str());
    assert_eq!(answer["emailsSent"], 3);
    assert!(answer["expiresAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_table_is_sent_the_sealed_token_and_link_digests_never_the_token_or_a_link_id() {
    let doubles = three_approvers_notified().await;

    let traffic = doubles.table_traffic();
    assert!(!traffic.contains(TOKEN), "the token went to the table");
    assert!(traffic.contains("sealedToken"), "{traffic}");
    doubles.assert_no_link_id_in(&traffic, "the table");
    // The request, then per approver its links and the mark.
    assert_eq!(doubles.dynamodb.count(CREATE), 1 + 3 * 2);
}

#[tokio::test]
async fn a_redelivered_request_emails_only_the_approvers_not_emailed_before() {
    let doubles = Doubles::new(1);
    let table = lead_not_yet_emailed();

    let answer = doubles.answer(table, request_json(&THREE)).await;

    assert_eq!(answer["emailsSent"], 1);
    let emails = doubles.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0]["Destination"]["ToAddresses"],
        json!(["lead@partner.example"])
    );
}

/// Checks that redelivering the request, found recorded with `status` and
/// `emailed` approvers emailed, answers that none was sent and sends none.
async fn assert_redelivery_sends_nothing(status: RequestStatus, emailed: &'static [&'static str]) {
    let doubles = Doubles::new(0);
    let table = table_with(recorded(status), emailed);

    let answer = doubles.answer(table, request_json(&THREE)).await;

    assert_eq!(answer["emailsSent"], 0, "{status:?}");
    assert_eq!(doubles.emails().len(), 0, "{status:?}");
}

#[tokio::test]
async fn a_redelivered_request_found_fully_emailed_sends_nothing() {
    assert_redelivery_sends_nothing(RequestStatus::Pending, &THREE).await;
}

#[tokio::test]
async fn a_redelivered_request_already_decided_sends_nothing() {
    for status in [RequestStatus::Approved, RequestStatus::Withdrawn] {
        assert_redelivery_sends_nothing(status, &[]).await;
    }
}

#[tokio::test]
async fn a_redelivery_emails_with_the_terms_first_recorded() {
    let doubles = Doubles::new(1);
    let table = lead_not_yet_emailed();
    let mut changed = request_json(&THREE);
    changed["subject"] = json!("Different terms");

    doubles.handle(table, changed).await.unwrap();

    let email = &doubles.emails()[0];
    assert_eq!(
        email["Content"]["Simple"]["Subject"]["Data"],
        "Approve deploy 42"
    );
}

/// Handles `payload`, carrying a refused request, over an empty table; checks
/// that nothing was recorded or emailed. The answer, and the failure sent.
async fn refused(payload: Value) -> (Value, (String, String)) {
    let doubles = Doubles::new(1);
    let answer = doubles.answer(empty_table, payload).await;
    doubles.assert_nothing_recorded_or_sent();
    (answer, failure_sent(&doubles))
}

#[tokio::test]
async fn a_disallowed_address_fails_the_task_naming_it_and_writes_and_sends_nothing() {
    let (answer, (error, cause)) = refused(disallowed()).await;

    assert_eq!(error, "ApprovalRequestInvalid");
    assert!(cause.contains("mallory@evil.example"), "{cause}");
    assert_eq!(answer["error"], "ApprovalRequestInvalid");
    assert_eq!(answer["cause"], cause);
}

#[tokio::test]
async fn a_refused_sqs_record_fails_its_task_and_is_acknowledged() {
    let (answer, (error, _)) = refused(sqs_event(&disallowed().to_string())).await;

    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(error, "ApprovalRequestInvalid");
}

#[tokio::test]
async fn a_refused_sns_message_fails_its_task_and_sends_nothing() {
    let (answer, (error, _)) = refused(approvals_sns_event(&disallowed().to_string())).await;

    assert_eq!(answer, json!({"emailsSent": 0}));
    assert_eq!(error, "ApprovalRequestInvalid");
}

/// The failure sent for a direct request to alice and bob with `field` set
/// to `value`, after checking that nothing was recorded or emailed: its error
/// and cause.
async fn refusal_of_two_approvers_with(field: &str, value: Value) -> (String, String) {
    let doubles = Doubles::new(1);
    let mut request = request_json(&["alice@example.com", "bob@example.com"]);
    request[field] = value;

    doubles.handle(empty_table, request).await.unwrap();

    doubles.assert_nothing_recorded_or_sent();
    failure_sent(&doubles)
}

#[tokio::test]
async fn a_quorum_the_approvers_cannot_reach_fails_the_task() {
    let (error, cause) = refusal_of_two_approvers_with("quorum", json!(3)).await;

    assert_eq!(error, "ApprovalRequestInvalid");
    assert!(
        cause.contains("quorum is 3, but only 2 approvers can vote"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_requester_among_the_approvers_cannot_make_the_quorum() {
    let (_, cause) = refusal_of_two_approvers_with("requestedBy", json!("Bob@Example.com")).await;

    assert!(
        cause.contains("requestedBy bob@example.com is in to"),
        "{cause}"
    );
}

#[tokio::test]
async fn the_requester_is_not_emailed_when_the_others_reach_the_quorum() {
    let doubles = Doubles::new(2);
    let mut request = request_json(&THREE);
    request["requestedBy"] = json!("bob@example.com");

    doubles.handle(empty_table, request).await.unwrap();

    let recipients: Vec<Value> = doubles
        .emails()
        .iter()
        .map(|email| email["Destination"]["ToAddresses"][0].clone())
        .collect();
    assert_eq!(
        recipients,
        [json!("alice@example.com"), json!("lead@partner.example")]
    );
    let created = &doubles.dynamodb.bodies(CREATE)[0];
    let request_item = &created["TransactItems"][0]["Put"]["Item"];
    assert_eq!(request_item["requestedBy"], json!({"S": "bob@example.com"}));
}

#[tokio::test]
async fn a_refusal_whose_task_cannot_be_failed_yet_is_retried() {
    let doubles = Doubles::new(1);
    let notifier = doubles.notifier_with(empty_table, doubles.sfn.client_fn(|_, _| busy()));

    let err = notifier.handle(invoke(disallowed())).await.unwrap_err();

    assert!(matches!(err, NotifyError::RefusalNotSent(_)), "{err:?}");
    doubles.assert_retried_without_email(err);
}

#[tokio::test]
async fn a_table_that_fails_sends_no_email_and_is_retried() {
    let doubles = Doubles::new(1);

    let err = doubles
        .handle(failing_table, request_json(&THREE))
        .await
        .unwrap_err();

    assert!(matches!(err, NotifyError::Table(_)), "{err:?}");
    doubles.assert_retried_without_email(err);
}

#[tokio::test]
async fn the_log_names_the_request_id_and_never_the_token_or_a_link_id() {
    let (captured, _guard) = capture_logs();
    let doubles = three_approvers_notified().await;

    let logs = captured.text();
    let token = TaskToken::new(TOKEN).unwrap();
    assert!(
        logs.contains(RequestId::for_token(&token).as_str()),
        "{logs}"
    );
    assert_eq!(logs.matches("approval email sent").count(), 3, "{logs}");
    assert!(!logs.contains(TOKEN), "the token in the logs");
    doubles.assert_no_link_id_in(&logs, "the logs");
}

#[test]
fn a_base_url_that_would_make_links_over_100_characters_is_refused_at_start() {
    let doubles = Doubles::new(0);
    let long = format!("https://{}.lambda-url.eu-central-1.on.aws/", "a".repeat(40));

    let err = doubles
        .notifier_at(&long, empty_table, doubles.sfn.client(&[]))
        .unwrap_err();

    assert_eq!(err.name, "APPROVAL_BASE_URL");
}
