//! End to end: recorded mode's notifier against moto. The approval table in
//! moto's DynamoDB, `approval-notifier` behind its own Runtime API, emails
//! through SES, executions in moto's Step Functions.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use sfn_callback::TaskToken;
use sfn_callback_approval::link::{self, LinkKey, LinkKeys};
use sfn_callback_approval::record::{
    ApprovalTable, ApproverLinks, Created, LinkId, NewRequest, RequestId, RequestStatus,
    RequestTerms,
};
use sfn_callback_tests::approval::{
    ApprovalWorld, Email, Notified, RecordedRequest, link_labelled, recorded_notifier_env, scan,
    table_in,
};
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::{Result, statemachine};

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";

fn new_request(keys: &LinkKeys, subject: &str) -> Result<NewRequest> {
    let token = TaskToken::new(TOKEN)?;
    Ok(NewRequest {
        terms: RequestTerms {
            id: RequestId::for_token(&token),
            sealed_token: link::seal_token(keys, &token)?,
            token_fingerprint: token.fingerprint().to_string(),
            subject: subject.to_owned(),
            summary: Some("Release 1.4.2".to_owned()),
            details: Some(serde_json::json!({"build": 42})),
            approvers: vec!["alice@example.com".to_owned(), "bob@example.com".to_owned()],
            quorum: 2,
            requested_by: Some("carol@example.com".to_owned()),
            created_at: 1_750_000_000,
            expires_at: 1_750_086_400,
        },
        retention_days: 400,
    })
}

/// A fresh approval table in its own peer (alive while the peer is), new link
/// keys, and a request with `subject` sealed with them, not yet recorded.
async fn fresh_table(subject: &str) -> Result<(LocalAws, ApprovalTable, LinkKeys, NewRequest)> {
    let peer = LocalAws::start()?;
    let table = table_in(&peer).await?;
    let keys = LinkKeys::single(LinkKey::generate()?);
    let request = new_request(&keys, subject)?;
    Ok((peer, table, keys, request))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_records_a_request_once_and_a_redelivery_reads_the_first() -> Result<()> {
    let (_peer, table, keys, first) = fresh_table("Approve deploy 42").await?;

    let created = table.create_request(&first).await?;
    let again = table
        .create_request(&new_request(&keys, "Different terms")?)
        .await?;

    assert_eq!(created, Created::New(first.stored()));
    assert_eq!(again, Created::Existing(first.stored()));
    let read = table.request(&first.terms.id).await?.ok_or("no request")?;
    assert_eq!(read.status, RequestStatus::Pending);
    assert_eq!(read.terms.subject, "Approve deploy 42");
    assert_eq!(
        link::open_token(&keys, &read.terms.sealed_token)?.expose(),
        TOKEN
    );
    let approvers = table.approvers(&first.terms.id).await?;
    assert_eq!(approvers.len(), 2);
    assert!(approvers.iter().all(|a| a.emailed_at.is_none()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_emails_keeps_the_first_sent_time_and_the_table_holds_no_secret() -> Result<()> {
    let (_peer, table, _keys, request) = fresh_table("Approve deploy 43").await?;
    let stored = table.create_request(&request).await?.request().clone();
    let links = ApproverLinks {
        approve: LinkId::generate()?,
        reject: LinkId::generate()?,
    };

    table
        .put_links(&stored, "alice@example.com", &links)
        .await?;
    table
        .mark_emailed(
            &stored.terms.id,
            "alice@example.com",
            1_750_000_010,
            Some("m-1"),
        )
        .await?;
    table
        .mark_emailed(&stored.terms.id, "bob@example.com", 1_750_000_020, None)
        .await?;

    let read = table.request(&stored.terms.id).await?.ok_or("no request")?;
    assert_eq!(read.sent_at, Some(1_750_000_010));
    let approvers = table.approvers(&stored.terms.id).await?;
    assert_eq!(
        approvers
            .iter()
            .map(|a| (a.address.as_str(), a.emailed_at, a.message_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("alice@example.com", Some(1_750_000_010), Some("m-1")),
            ("bob@example.com", Some(1_750_000_020), None)
        ]
    );
    let items = scan(&table).await?;
    assert_eq!(items.len(), 1 + 2 + 2, "request, approvers, links");
    let text = format!("{items:?}");
    assert!(!text.contains(TOKEN), "the token is stored in clear");
    for link in [&links.approve, &links.reject] {
        assert!(!text.contains(link.expose()), "a link id is stored");
        assert!(text.contains(&link.digest()), "a link's digest is missing");
    }
    Ok(())
}

const LIMIT: Duration = Duration::from_secs(20);
const THREE: [&str; 3] = [
    "alice@example.com",
    "bob@example.com",
    "lead@partner.example",
];

/// The notifier's answer to a request it took.
fn response(notified: &Notified) -> Result<Value> {
    notified.answer.clone().into_response()
}

/// The Approve and Reject links of `email`.
fn links_of(email: &Email) -> Result<[String; 2]> {
    Ok([
        link_labelled(&email.html, "Approve")?,
        link_labelled(&email.html, "Reject")?,
    ])
}

/// The link ids of every email sent.
fn link_ids(world: &ApprovalWorld) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for email in world.emails_by_recipient()?.values().flatten() {
        for link in links_of(email)? {
            ids.push(link.rsplit('/').next().unwrap_or_default().to_owned());
        }
    }
    Ok(ids)
}

/// A recorded world in which the execution `name` sent `request`.
async fn notified(name: &str, request: &RecordedRequest) -> Result<(ApprovalWorld, Notified)> {
    let mut world = ApprovalWorld::start_recorded().await?;
    let notified = world.request_recorded(name, request).await?;
    Ok((world, notified))
}

/// `subject` for the three approvers, two of whom must approve.
fn to_three(subject: &str) -> RecordedRequest {
    RecordedRequest::new(subject, &THREE).quorum(2)
}

/// The execution failed with `ApprovalRequestInvalid`, the task's cause held
/// `cause`, and nothing was emailed or recorded.
async fn assert_refused(world: &ApprovalWorld, notified: &Notified, cause: &str) -> Result<()> {
    let described = statemachine::wait_finished(&world.sfn, &notified.execution, LIMIT).await?;
    statemachine::assert_failed_with(&described, "ApprovalRequestInvalid");
    // moto drops a SendTaskFailure's cause (docs/local-peers.md): the cause
    // sent is read from the notifier's answer; the replay tests read it from
    // the SendTaskFailure request itself.
    let answer = response(notified)?;
    assert_eq!(answer["error"], "ApprovalRequestInvalid");
    let sent = answer["cause"].as_str().unwrap_or_default();
    assert!(sent.contains(cause), "cause {sent:?} lacks {cause:?}");
    assert!(world.emails_by_recipient()?.is_empty(), "an email was sent");
    assert!(
        world.scan_table().await?.is_empty(),
        "something was recorded"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_address_fails_the_execution_naming_it_and_sends_and_records_nothing()
-> Result<()> {
    let request = RecordedRequest::new(
        "Approve deploy 60",
        &["alice@example.com", "mallory@evil.example"],
    );

    let (world, notified) = notified("disallowed", &request).await?;

    assert_refused(&world, &notified, "mallory@evil.example").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_the_approvers_cannot_reach_fails_the_execution() -> Result<()> {
    let request = RecordedRequest::new(
        "Approve deploy 61",
        &["alice@example.com", "bob@example.com"],
    )
    .quorum(3);

    let (world, notified) = notified("unreachable", &request).await?;

    assert_refused(
        &world,
        &notified,
        "quorum is 3, but only 2 approvers can vote",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_among_the_approvers_needed_for_the_quorum_fails_the_execution() -> Result<()> {
    let request = RecordedRequest::new(
        "Approve deploy 62",
        &["alice@example.com", "bob@example.com"],
    )
    .quorum(2)
    .requested_by("bob@example.com");

    let (world, notified) = notified("self-approval", &request).await?;

    assert_refused(&world, &notified, "requestedBy bob@example.com").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_approvers_get_one_email_each_with_short_links_of_their_own() -> Result<()> {
    let (world, notified) = notified("three", &to_three("Approve deploy 63")).await?;

    let answer = response(&notified)?;
    assert_eq!(answer["emailsSent"], 3, "{answer}");
    assert_eq!(
        answer["requestId"].as_str().map(str::len),
        Some(22),
        "{answer}"
    );
    let by_recipient = world.emails_by_recipient()?;
    assert_eq!(
        by_recipient.keys().map(String::as_str).collect::<Vec<_>>(),
        THREE
    );
    let mut links = HashSet::new();
    for (recipient, emails) in &by_recipient {
        assert_eq!(emails.len(), 1, "{recipient}");
        assert_eq!(emails[0].recipients(), std::slice::from_ref(recipient));
        assert!(emails[0].html.contains(&format!("Sent to {recipient}")));
        for link in links_of(&emails[0])? {
            assert!(
                link.starts_with(&format!("{}a/", world.http.url())),
                "{link}"
            );
            assert!(link.len() <= 100, "{} characters: {link}", link.len());
            links.insert(link);
        }
    }
    assert_eq!(links.len(), 6, "{links:?}");
    println!(
        "recorded link length at the local Function URL: {} characters",
        links.iter().map(String::len).max().unwrap_or_default()
    );
    statemachine::assert_status(&world.sfn, &notified.execution, ExecutionStatus::Running).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_request_sends_no_second_email() -> Result<()> {
    let (mut world, notified) = notified("redelivered", &to_three("Approve deploy 64")).await?;

    let again = world.redeliver(&notified.payload).await?.into_response()?;

    assert_eq!(again["emailsSent"], 0, "{again}");
    assert_eq!(again["requestId"], response(&notified)?["requestId"]);
    for (recipient, emails) in world.emails_by_recipient()? {
        assert_eq!(emails.len(), 1, "{recipient} got a second email");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_holds_neither_the_token_nor_a_link_id_only_digests() -> Result<()> {
    let (world, notified) = notified("scanned", &to_three("Approve deploy 65")).await?;
    let token = world.task_token(&notified.execution).await?;

    let table = world.table_text().await?;

    assert!(
        !table.contains(&token),
        "the table holds the token in clear"
    );
    let ids = link_ids(&world)?;
    assert_eq!(ids.len(), 6);
    for id in ids {
        assert!(!table.contains(&id), "the table holds a link id");
        let digest = LinkId::parse(&id)?.digest();
        assert!(table.contains(&digest), "no link item for a link");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_shows_the_token_a_link_id_or_the_key() -> Result<()> {
    let (mut world, notified) = notified("logged", &to_three("Approve deploy 66")).await?;
    let refused = RecordedRequest::new("Approve deploy 67", &["mallory@evil.example"]);
    let refusal = world.request_recorded("logged-refusal", &refused).await?;
    let tokens = [
        world.task_token(&notified.execution).await?,
        world.task_token(&refusal.execution).await?,
    ];
    let key = world.keys.current.expose_base64();

    let logs = format!(
        "{}\n{}",
        world.notifier.log_text(),
        world.http.log_text().await
    );

    let request_id = response(&notified)?["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        logs.contains(&request_id),
        "no request_id in the log: {logs}"
    );
    for token in tokens {
        assert!(!logs.contains(&token), "a log line shows a token");
    }
    assert!(!logs.contains(&key), "a log line shows the link key");
    for id in link_ids(&world)? {
        assert!(!logs.contains(&id), "a log line shows a link id");
    }
    Ok(())
}

/// Why the notifier did not start with `env`.
async fn start_failure(env: &[(String, String)]) -> String {
    match Lambda::start("approval-notifier", env).await {
        Ok(_) => "it started".to_owned(),
        Err(err) => err.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_refuses_to_start_in_recorded_mode_without_approvers_allowed() -> Result<()> {
    let failure = start_failure(&recorded_notifier_env(&[])?).await;

    assert!(failure.contains("APPROVERS_ALLOWED"), "{failure}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_refuses_to_start_with_a_base_url_too_long_for_100_character_links()
-> Result<()> {
    let long = format!("https://{}.lambda-url.eu-central-1.on.aws/", "a".repeat(40));
    let env = recorded_notifier_env(&[
        ("APPROVERS_ALLOWED", "@example.com"),
        ("APPROVAL_BASE_URL", &long),
    ])?;

    let failure = start_failure(&env).await;

    assert!(failure.contains("APPROVAL_BASE_URL"), "{failure}");
    assert!(failure.contains("at most 75 characters"), "{failure}");
    Ok(())
}
