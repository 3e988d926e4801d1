//! Measurement 6, the approval page: the latency of recorded mode's
//! confirmation page (GET) and vote (POST), median and p99, through the
//! release `approval-http` behind a local Function URL, against moto's
//! DynamoDB and Step Functions.
//!
//! Each round records a request of its own (one approver, a quorum of 1) for an
//! execution that waits on its token. Its GET reads the link, the request and
//! the approver's vote and writes a ledger record; its POST writes the vote,
//! the request's tally and a ledger record in one transaction, reads the votes
//! back and completes the task with SendTaskSuccess.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sfn_callback::TaskToken;
use sfn_callback_approval::link::{self, LinkKey, LinkKeys};
use sfn_callback_approval::now_unix;
use sfn_callback_approval::record::{
    ApprovalTable, ApproverLinks, LinkId, NewRequest, RequestId, RequestTerms,
};
use sfn_callback_tests::Result;
use sfn_callback_tests::approval::{fetch, post_vote, table_in};
use sfn_callback_tests::function_url::FunctionUrl;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::worker_pattern::WorkerWorld;

use crate::stats::Samples;
use crate::subjects::binary;

const APPROVER: &str = "approver@example.com";

/// Milliseconds from request to the whole answer, per round.
#[derive(Debug, Default)]
pub struct ApprovalLatency {
    /// The confirmation page.
    pub get: Samples,
    /// The deciding vote, its completion included.
    pub post: Samples,
}

/// `rounds` GET and POST pairs, after one warm-up pair that is not counted.
pub async fn measure(rounds: usize) -> Result<ApprovalLatency> {
    let peer = Arc::new(LocalAws::start()?);
    let table = table_in(&peer).await?;
    let world = WorkerWorld::start_on(&peer, "bench-approval", 60).await?;
    let key = LinkKey::new([7; 32]);
    let keys = LinkKeys::single(key.clone());
    let mut env = peer.function_env();
    env.extend([
        ("LINK_KEY".to_owned(), key.expose_base64()),
        ("APPROVAL_TABLE".to_owned(), table.name().to_owned()),
        ("APPROVERS_ALLOWED".to_owned(), "@example.com".to_owned()),
    ]);
    let lambda =
        Lambda::start_program("approval-http", &binary("approval-http")?, &[], &env).await?;
    let page = FunctionUrl::serve(lambda).await?;

    let mut latency = ApprovalLatency::default();
    for round in 0..=rounds {
        let link = recorded_link(&world, &table, &keys, round).await?;
        let url = format!("{}a/{}", page.url(), link.expose());

        let started = Instant::now();
        let shown = fetch("GET", url.clone()).await?;
        let get = started.elapsed();
        let started = Instant::now();
        let voted = post_vote(url, "approve", "").await?;
        let post = started.elapsed();

        if (shown.status, voted.status) != (200, 200) {
            return Err(format!(
                "round {round}: GET answered {}, POST {}: {}",
                shown.status,
                voted.status,
                page.log_text().await
            )
            .into());
        }
        if round > 0 {
            latency.get.push_duration(get);
            latency.post.push_duration(post);
        }
    }
    Ok(latency)
}

/// A request recorded for a waiting execution's token, emailed an hour ago
/// (so no view counts as a scanner's); returns its approver's Approve link.
async fn recorded_link(
    world: &WorkerWorld,
    table: &ApprovalTable,
    keys: &LinkKeys,
    round: usize,
) -> Result<LinkId> {
    let (_, token) = world
        .start_stuck(&format!("approval-{round}"), &json!({}))
        .await?;
    let token = TaskToken::new(token)?;
    let now = now_unix();
    let request = NewRequest {
        terms: RequestTerms {
            id: RequestId::for_token(&token),
            sealed_token: link::seal_token(keys, &token)?,
            token_fingerprint: token.fingerprint().to_string(),
            subject: format!("Approve bench round {round}"),
            summary: Some("A release of the bench".to_owned()),
            details: Some(json!({"round": round, "services": ["api", "web"]})),
            approvers: vec![APPROVER.to_owned()],
            quorum: 1,
            requested_by: None,
            created_at: now,
            expires_at: now + 3_600,
        },
        retention_days: 1,
    };
    let stored = table.create_request(&request).await?.request().clone();
    let links = ApproverLinks {
        approve: LinkId::generate()?,
        reject: LinkId::generate()?,
    };
    table.put_links(&stored, APPROVER, &links).await?;
    table
        .mark_emailed(&stored.terms.id, APPROVER, now - 3_600, None)
        .await?;
    Ok(links.approve)
}
