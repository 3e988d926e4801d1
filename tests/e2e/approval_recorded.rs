//! End to end: recorded mode's notifier against moto. The approval table in
//! moto's DynamoDB, `approval-notifier` behind its own Runtime API, emails
//! through SES, executions in moto's Step Functions.

use sfn_callback::TaskToken;
use sfn_callback_approval::link::{self, LinkKey, LinkKeys};
use sfn_callback_approval::record::{
    ApproverLinks, Created, LinkId, NewRequest, RequestId, RequestStatus,
};
use sfn_callback_tests::Result;
use sfn_callback_tests::approval::{scan, table_in};
use sfn_callback_tests::peer::LocalAws;

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";

fn new_request(keys: &LinkKeys, subject: &str) -> Result<NewRequest> {
    let token = TaskToken::new(TOKEN)?;
    Ok(NewRequest {
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
        retention_days: 400,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_records_a_request_once_and_a_redelivery_reads_the_first() -> Result<()> {
    let peer = LocalAws::start()?;
    let table = table_in(&peer).await?;
    let keys = LinkKeys::single(LinkKey::generate()?);
    let first = new_request(&keys, "Approve deploy 42")?;

    let created = table.create_request(&first).await?;
    let again = table
        .create_request(&new_request(&keys, "Different terms")?)
        .await?;

    assert_eq!(created, Created::New(first.stored()));
    assert_eq!(again, Created::Existing(first.stored()));
    let read = table.request(&first.id).await?.ok_or("no request")?;
    assert_eq!(read.status, RequestStatus::Pending);
    assert_eq!(read.subject, "Approve deploy 42");
    assert_eq!(link::open_token(&keys, &read.sealed_token)?.expose(), TOKEN);
    let approvers = table.approvers(&first.id).await?;
    assert_eq!(approvers.len(), 2);
    assert!(approvers.iter().all(|a| a.emailed_at.is_none()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_emails_keeps_the_first_sent_time_and_the_table_holds_no_secret() -> Result<()> {
    let peer = LocalAws::start()?;
    let table = table_in(&peer).await?;
    let keys = LinkKeys::single(LinkKey::generate()?);
    let request = new_request(&keys, "Approve deploy 43")?;
    let stored = table.create_request(&request).await?.request().clone();
    let links = ApproverLinks {
        approve: LinkId::generate()?,
        reject: LinkId::generate()?,
    };

    table
        .put_links(&stored, "alice@example.com", &links)
        .await?;
    table
        .mark_emailed(&stored.id, "alice@example.com", 1_750_000_010, Some("m-1"))
        .await?;
    table
        .mark_emailed(&stored.id, "bob@example.com", 1_750_000_020, None)
        .await?;

    let read = table.request(&stored.id).await?.ok_or("no request")?;
    assert_eq!(read.sent_at, Some(1_750_000_010));
    let approvers = table.approvers(&stored.id).await?;
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
