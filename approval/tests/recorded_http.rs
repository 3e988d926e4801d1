//! Recorded mode's `approval-http`, driven in-process over the real
//! aws-sdk-dynamodb and aws-sdk-sfn clients on scripted HTTP answers: what the
//! local peer cannot do. moto's Step Functions is never busy and never answers
//! `TaskTimedOut`, so the completion's retry after a transient failure, its
//! lease, and a task closed before the decision reached it are proved here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use sfn_callback_approval::link::{self, LinkKey, LinkKeys};
use sfn_callback_approval::now_unix;
use sfn_callback_approval::record::vote::COMPLETION_LEASE_SECONDS;
use sfn_callback_approval::record::{
    ApprovalTable, ApproversAllowed, LinkId, RecordedSettings, RequestId,
};
use sfn_callback_approval::web::router::ApprovalHttp;

mod support;

use support::sfn::{SUCCESS, ScriptedSfn, acceptance, busy, refusal, token};
use support::table::{ScriptedTable, item, items, ok, refused};

const ALICE: &str = "alice@example.com";

fn keys() -> LinkKeys {
    LinkKeys::single(LinkKey::new([5; 32]))
}

fn request_id() -> RequestId {
    RequestId::for_token(&token())
}

/// The request item: `status`, `approvals` of quorum 1 from Alice, and the
/// completion's state.
fn request_item(status: &str, approvals: u32, completion: Option<(&str, u64)>) -> Value {
    let now = now_unix();
    let mut item = json!({
        "pk": {"S": format!("request#{}", request_id())},
        "sk": {"S": "request"},
        "requestId": {"S": request_id().to_string()},
        "status": {"S": status},
        "sealedToken": {"S": link::seal_token(&keys(), &token()).unwrap()},
        "tokenFingerprint": {"S": token().fingerprint().to_string()},
        "subject": {"S": "Approve deploy 42"},
        "approvers": {"L": [{"S": ALICE}]},
        "quorum": {"N": "1"},
        "approvals": {"N": approvals.to_string()},
        "createdAt": {"N": (now - 600).to_string()},
        "sentAt": {"N": (now - 590).to_string()},
        "expiresAt": {"N": (now + 3_600).to_string()},
        "ttl": {"N": (now + 90_000).to_string()},
    });
    if status != "pending" {
        item["decidedAt"] = json!({"N": (now - 300).to_string()});
        item["decidedBy"] = json!({"L": [{"S": ALICE}]});
    }
    if let Some((state, claimed_at)) = completion {
        item["completion"] = json!({"S": state});
        item["completionClaimedAt"] = json!({"N": claimed_at.to_string()});
    }
    item
}

fn link_item() -> Value {
    json!({
        "requestId": {"S": request_id().to_string()},
        "approver": {"S": ALICE},
        "action": {"S": "approve"},
        "expiresAt": {"N": (now_unix() + 3_600).to_string()},
        "ttl": {"N": (now_unix() + 3_600).to_string()},
    })
}

fn alices_vote() -> Value {
    json!({
        "approver": {"S": ALICE},
        "decision": {"S": "approved"},
        "comment": {"S": "ship it"},
        "decidedAt": {"N": (now_unix() - 300).to_string()},
    })
}

/// The table as a first vote finds it: Alice's link, a pending request; the
/// vote goes through and reads back Alice's vote.
fn pending_table(table: &ScriptedTable) -> ApprovalTable {
    table.table(|operation, earlier| match (operation, earlier) {
        ("GetItem", 0) => item(Some(link_item())),
        ("GetItem", _) => item(Some(request_item("pending", 0, None))),
        ("Query", 0) => items(&[]),
        ("Query", _) => items(&[alices_vote()]),
        _ => ok(json!({})),
    })
}

/// The table as a later vote finds it: decided by Alice, the completion
/// claimed at `claimed_at` and never marked sent; `reclaimed` says whether
/// this vote wins the conditional re-claim.
fn claimed_table(table: &ScriptedTable, claimed_at: u64, reclaimed: bool) -> ApprovalTable {
    table.table(move |operation, earlier| match (operation, earlier) {
        ("GetItem", 0) => item(Some(link_item())),
        ("GetItem", _) => item(Some(request_item(
            "approved",
            1,
            Some(("claimed", claimed_at)),
        ))),
        ("Query", _) => items(&[alices_vote()]),
        ("UpdateItem", 0) if !reclaimed => refused("ConditionalCheckFailedException"),
        _ => ok(json!({})),
    })
}

fn app(
    table: ApprovalTable,
    sfn: &ScriptedSfn,
    answer: fn(&str, usize) -> (u16, String),
) -> ApprovalHttp {
    let settings = RecordedSettings {
        table: "approvals".into(),
        approvers_allowed: ApproversAllowed::parse("@example.com").unwrap(),
        scanner_window_seconds: 120,
        retention_days: 400,
    };
    ApprovalHttp::recorded(keys(), sfn.client_fn(answer), table, settings)
}

/// Alice's approve link id; the table finds it by its digest, which the
/// scripts ignore.
fn link_id() -> LinkId {
    LinkId::parse("AbCdEfGhIjKlMnOpQrStUg").unwrap()
}

/// Alice's vote on a request whose completion was claimed at `claimed_at`
/// (a re-claim that wins if `reclaimed`), with Step Functions accepting.
async fn vote_on_claimed(
    claimed_at: u64,
    reclaimed: bool,
) -> (ScriptedTable, ScriptedSfn, Response<Body>) {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(claimed_table(&table, claimed_at, reclaimed), &sfn, accepts);
    let response = app.handle(post_vote()).await;
    (table, sfn, response)
}

/// Alice's vote once the lease of the completion claimed before has run out:
/// when it was claimed, and [`vote_on_claimed`]'s table, Step Functions and
/// response.
async fn vote_after_the_lease(
    reclaimed: bool,
) -> (u64, (ScriptedTable, ScriptedSfn, Response<Body>)) {
    let claimed_at = now_unix() - COMPLETION_LEASE_SECONDS - 1;
    (claimed_at, vote_on_claimed(claimed_at, reclaimed).await)
}

/// Asserts that the table saw one update: the completion marked sent.
fn assert_marked_sent_by_one_update(table: &ScriptedTable) {
    let marked = table.bodies("UpdateItem");
    assert_eq!(marked.len(), 1);
    assert_eq!(
        marked[0]["ExpressionAttributeValues"][":sent"],
        json!({"S": "sent"})
    );
}

fn post_vote() -> Request {
    http::Request::builder()
        .method(Method::POST)
        .uri(format!("https://approve.example/a/{}", link_id().expose()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text("decision=approve&comment=ship+it".into()))
        .unwrap()
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().as_ref().to_vec()).unwrap()
}

fn always_busy(_: &str, _: usize) -> (u16, String) {
    busy()
}

fn accepts(_: &str, _: usize) -> (u16, String) {
    acceptance()
}

#[tokio::test]
async fn a_busy_step_functions_gives_503_with_the_vote_recorded_and_the_claim_kept() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(pending_table(&table), &sfn, always_busy);

    let response = app.handle(post_vote()).await;

    assert_eq!(response.status(), 503);
    assert!(
        text(&response).contains("Your vote is recorded"),
        "{}",
        text(&response)
    );
    assert_eq!(table.count("TransactWriteItems"), 1);
    assert!(sfn.count(SUCCESS) >= 1);
    assert_eq!(
        table.count("UpdateItem"),
        0,
        "the claim stays: a later vote sends the completion"
    );
}

#[tokio::test]
async fn the_deciding_vote_claims_the_completion_in_its_transaction() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(pending_table(&table), &sfn, accepts);

    let response = app.handle(post_vote()).await;

    assert_eq!(response.status(), 200, "{}", text(&response));
    let write = &table.bodies("TransactWriteItems")[0]["TransactItems"];
    let update = &write[1]["Update"];
    assert_eq!(
        update["ConditionExpression"],
        "#status = :pending AND #approvals = :seen"
    );
    assert_eq!(
        update["ExpressionAttributeValues"][":seen"],
        json!({"N": "0"})
    );
    assert_eq!(
        update["ExpressionAttributeValues"][":claimed"],
        json!({"S": "claimed"})
    );
    assert_eq!(
        write[0]["Put"]["ConditionExpression"],
        "attribute_not_exists(#pk)"
    );
    assert_eq!(write[2]["Put"]["Item"]["outcome"], json!({"S": "accepted"}));
    assert_eq!(sfn.count(SUCCESS), 1);
    let output: Value =
        serde_json::from_str(sfn.bodies(SUCCESS)[0]["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["quorum"], 1);
    assert_eq!(output["votes"][0]["approver"], ALICE);
    assert_eq!(output["votes"][0]["comment"], "ship it");
    assert_marked_sent_by_one_update(&table);
}

#[tokio::test]
async fn a_later_vote_after_the_lease_sends_the_claimed_completion_exactly_once() {
    let (claimed_at, (table, sfn, response)) = vote_after_the_lease(true).await;

    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(sfn.count(SUCCESS), 1);
    let updates = table.bodies("UpdateItem");
    assert_eq!(updates.len(), 2, "re-claim, then marked sent");
    assert_eq!(
        updates[0]["ConditionExpression"],
        "#completion = :claimed AND #claimedAt = :old"
    );
    assert_eq!(
        updates[0]["ExpressionAttributeValues"][":old"],
        json!({"N": claimed_at.to_string()})
    );
    assert_eq!(
        updates[1]["ExpressionAttributeValues"][":sent"],
        json!({"S": "sent"})
    );
    assert_eq!(table.count("PutItem"), 1, "the vote is on the ledger");
}

#[tokio::test]
async fn a_vote_that_loses_the_re_claim_sends_nothing_and_gets_409() {
    let (_, (_, sfn, response)) = vote_after_the_lease(false).await;

    assert_eq!(response.status(), 409, "{}", text(&response));
    assert_eq!(sfn.count(SUCCESS), 0);
}

#[tokio::test]
async fn the_decider_voting_again_within_the_lease_gets_409_and_sends_nothing() {
    let (table, sfn, response) = vote_on_claimed(now_unix() - 5, true).await;

    assert_eq!(response.status(), 409, "{}", text(&response));
    assert_eq!(sfn.count(SUCCESS), 0);
    assert_eq!(table.count("UpdateItem"), 0);
}

#[tokio::test]
async fn a_task_timed_out_on_completion_is_decided_marked_sent_and_never_resent() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(pending_table(&table), &sfn, |_, _| refusal("TaskTimedOut"));

    let response = app.handle(post_vote()).await;

    assert_eq!(response.status(), 409, "{}", text(&response));
    assert!(
        text(&response).contains("already settled"),
        "{}",
        text(&response)
    );
    assert_eq!(sfn.count(SUCCESS), 1, "TaskTimedOut is not retried");
    assert_marked_sent_by_one_update(&table);
}

#[tokio::test]
async fn viewing_a_decided_request_whose_completion_is_unsent_offers_to_send_it_and_calls_nothing()
{
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let claimed_at = now_unix() - COMPLETION_LEASE_SECONDS - 1;
    let app = app(claimed_table(&table, claimed_at, true), &sfn, accepts);
    let view = http::Request::builder()
        .method(Method::GET)
        .uri(format!("https://approve.example/a/{}", link_id().expose()))
        .body(Body::Empty)
        .unwrap();

    let response = app.handle(view).await;

    assert_eq!(response.status(), 409);
    assert!(
        text(&response).contains("Tell the workflow again"),
        "{}",
        text(&response)
    );
    assert_eq!(sfn.count(SUCCESS), 0);
    assert_eq!(table.count("UpdateItem"), 0);
}

/// A Function URL event for `method` on Alice's link, from `source_ip` with
/// `user_agent`, carrying a forged `X-Forwarded-For`.
fn url_event(method: &str, source_ip: &str, user_agent: &str) -> Request {
    let path = format!("/a/{}", link_id().expose());
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"user-agent": user_agent, "x-forwarded-for": "10.0.0.1", "host": "approve.example"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "approve.example",
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": user_agent},
            "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "21/Nov/2026:12:00:00 +0000", "timeEpoch": 1_763_726_400_000_u64
        },
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// The table with Alice's link and a pending request, and its `PutItem`
/// answered with `ledger`.
fn viewed_table(table: &ScriptedTable, link: Value, ledger: (u16, Value)) -> ApprovalTable {
    table.table(move |operation, earlier| match (operation, earlier) {
        ("GetItem", 0) => item(Some(link.clone())),
        ("GetItem", 1) => item(Some(request_item("pending", 0, None))),
        ("GetItem", _) => item(None),
        ("PutItem", _) => ledger.clone(),
        _ => ok(json!({})),
    })
}

#[tokio::test]
async fn a_view_shows_the_ballot_and_records_the_connection_not_x_forwarded_for() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(
        viewed_table(&table, link_item(), ok(json!({}))),
        &sfn,
        accepts,
    );

    let response = app
        .handle(url_event("GET", "198.51.100.4", "Firefox/140"))
        .await;

    assert_eq!(response.status(), 200);
    assert!(
        text(&response).contains("0 of 1 approval"),
        "{}",
        text(&response)
    );
    let ledger = &table.bodies("PutItem")[0]["Item"];
    assert_eq!(ledger["action"], json!({"S": "view"}));
    assert_eq!(ledger["outcome"], json!({"S": "shown"}));
    assert_eq!(ledger["sourceIp"], json!({"S": "198.51.100.4"}));
    assert_eq!(ledger["userAgent"], json!({"S": "Firefox/140"}));
    assert_eq!(ledger["approver"], json!({"S": ALICE}));
    assert_eq!(sfn.count(SUCCESS), 0);
}

#[tokio::test]
async fn a_view_whose_ledger_record_cannot_be_written_is_503() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let busy_table = viewed_table(
        &table,
        link_item(),
        (500, json!({"__type": "InternalServerError"})),
    );
    let app = app(busy_table, &sfn, accepts);

    let response = app.handle(url_event("GET", "198.51.100.4", "x")).await;

    assert_eq!(response.status(), 503);
    assert!(
        !text(&response).contains("<form"),
        "nothing shown unrecorded"
    );
}

#[tokio::test]
async fn an_expired_link_is_410_and_recorded_as_expired() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let mut link = link_item();
    link["expiresAt"] = json!({"N": (now_unix() - 1).to_string()});
    let app = app(viewed_table(&table, link, ok(json!({}))), &sfn, accepts);

    let response = app.handle(url_event("GET", "198.51.100.4", "x")).await;

    assert_eq!(response.status(), 410);
    assert_eq!(
        table.bodies("PutItem")[0]["Item"]["outcome"],
        json!({"S": "expired"})
    );
}

#[tokio::test]
async fn an_approver_no_longer_allowed_is_403_and_recorded_as_not_allowed() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let mut link = link_item();
    link["approver"] = json!({"S": "mallory@elsewhere.example"});
    let app = app(viewed_table(&table, link, ok(json!({}))), &sfn, accepts);

    let response = app.handle(post_vote()).await;

    assert_eq!(response.status(), 403);
    assert_eq!(
        table.bodies("PutItem")[0]["Item"]["outcome"],
        json!({"S": "not-allowed"})
    );
    assert_eq!(table.count("TransactWriteItems"), 0);
    assert_eq!(sfn.count(SUCCESS), 0);
}

#[tokio::test]
async fn an_unknown_id_is_404_and_a_malformed_one_400_with_no_ledger_record() {
    let (table, sfn) = (ScriptedTable::default(), ScriptedSfn::default());
    let app = app(table.table(|_, _| item(None)), &sfn, accepts);
    let get = |path: &str| {
        http::Request::builder()
            .uri(format!("https://approve.example{path}"))
            .body(Body::Empty)
            .unwrap()
    };

    let unknown = app.handle(get("/a/AAAAAAAAAAAAAAAAAAAAAA")).await;
    let malformed = app.handle(get("/a/AAAA")).await;
    let stateless = app.handle(get("/?l=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).await;

    assert_eq!(unknown.status(), 404);
    assert_eq!(malformed.status(), 400);
    assert_eq!(stateless.status(), 404);
    assert_eq!(
        table.count("GetItem"),
        1,
        "only the well-formed id is looked up"
    );
    assert_eq!(table.count("PutItem"), 0);
}
