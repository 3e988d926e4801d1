//! Secrets never reach a log. Every callback scenario (success, failure, garbage,
//! unknown token, duplicate, malformed token; raw SQS, SNS-wrapped SQS, and SNS)
//! runs through the built function binaries, and everything they wrote is
//! searched for every task token, every callback body and the markers hidden in
//! outputs and causes. Tokens moto issues are UUIDs; the tokens the tests invent
//! are seeded, so each is unique and greppable.
//!
//! The approval functions get the same search, for the task token, both
//! sealed links, every link key the secret has held (the keys are re-read
//! during the scenario, so a Secrets Manager answer passes through the log
//! setup too), and a marker in the approver's comment.
//!
//! The scenarios run at the default log level and at TRACE, the most an
//! operator can switch on with `AWS_LAMBDA_LOG_LEVEL`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use sfn_callback_approval::link::LinkKey;
use sfn_callback_tests::approval::{ApprovalWorld, fetch, link_labelled, post_form};
use sfn_callback_tests::event_source::{self, create_queue, deliver, receive_exactly, task_token};
use sfn_callback_tests::fault_proxy::{FaultPlan, FaultProxy};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::{Answer, Lambda};
use sfn_callback_tests::{Result, sns, statemachine};

const LIMIT: Duration = Duration::from_secs(20);

/// A seed for invented tokens: printed, so a failure can be traced in the log.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) ^ u64::from(std::process::id())
}

/// Everything that must never appear in a log.
#[derive(Default)]
struct Secrets {
    tokens: Vec<String>,
    bodies: Vec<String>,
    markers: Vec<String>,
    links: Vec<String>,
    keys: Vec<LinkKey>,
}

impl Secrets {
    fn token(&mut self, token: &str) -> String {
        self.tokens.push(token.to_owned());
        token.to_owned()
    }

    /// Records a body as sent, and as it reads inside a JSON string (an SNS
    /// notification, a JSON log line).
    fn body(&mut self, body: &Value) -> String {
        let text = body.to_string();
        let quoted = Value::String(text.clone()).to_string();
        self.bodies.push(text.clone());
        self.bodies.push(quoted.trim_matches('"').to_owned());
        text
    }

    fn marker(&mut self, seed: u64, label: &str) -> String {
        let marker = format!("MARKER-{seed:016x}-{label}");
        self.markers.push(marker.clone());
        marker
    }

    /// A sealed link: the `l` text of a button's URL.
    fn link(&mut self, url: &str) {
        let sealed = url.rsplit("l=").next().unwrap_or(url);
        self.links.push(sealed.to_owned());
    }

    /// Names every secret found in `text`. Tokens and keys are also looked for
    /// in the forms a `Debug` of bytes prints: a list of decimals (`[97, 98, …]`)
    /// and hex.
    fn found_in(&self, text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for token in &self.tokens {
            for form in printed_forms(token.as_bytes()) {
                if text.contains(form.shown.as_str()) {
                    found.push(format!("token {token} (as {})", form.name));
                }
            }
        }
        for key in &self.keys {
            let base64 = key.expose_base64();
            let url_safe = base64.replace('+', "-").replace('/', "_");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&base64)
                .unwrap_or_default();
            let mut forms = printed_forms(&bytes);
            forms.push(Printed::new("base64", base64.trim_end_matches('=')));
            forms.push(Printed::new(
                "URL-safe base64",
                url_safe.trim_end_matches('='),
            ));
            for form in forms {
                if text.contains(form.shown.as_str()) {
                    found.push(format!("link key {} (as {})", key.id(), form.name));
                }
            }
        }
        for link in &self.links {
            if text.contains(link.as_str()) {
                found.push(format!("sealed link of {} characters", link.len()));
            }
        }
        for body in &self.bodies {
            if text.contains(body.as_str()) {
                found.push(format!("callback body {body:.80}"));
            }
        }
        for marker in &self.markers {
            if text.contains(marker.as_str()) {
                found.push(format!("marker {marker}"));
            }
        }
        found
    }
}

/// One way a secret's bytes may be printed.
struct Printed {
    name: &'static str,
    shown: String,
}

impl Printed {
    fn new(name: &'static str, shown: &str) -> Self {
        Self {
            name,
            shown: shown.to_owned(),
        }
    }
}

/// As text (when UTF-8), as a list of decimals and as hex.
fn printed_forms(bytes: &[u8]) -> Vec<Printed> {
    let decimals: Vec<String> = bytes.iter().map(u8::to_string).collect();
    let hex = bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    let mut forms = vec![
        Printed::new("byte list", &decimals.join(", ")),
        Printed::new("hex", &hex),
    ];
    if let Ok(text) = std::str::from_utf8(bytes) {
        forms.push(Printed::new("text", text));
    }
    forms
}

struct World {
    _peer: LocalAws,
    _proxy: FaultProxy,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    work_queue: String,
    state_machine: String,
    env: Vec<(String, String)>,
}

impl World {
    /// Functions reach moto through a proxy that injects no faults but answers
    /// calls on closed tasks with `TaskTimedOut`, as AWS does, so the duplicate
    /// scenario takes the path it takes in AWS.
    async fn start(log_level: &str) -> Result<Self> {
        let peer = LocalAws::start()?;
        let Clients { sfn, sqs, sns } = peer.clients().await;
        let work_queue = create_queue(&sqs, "work", &[]).await?;
        let definition =
            statemachine::definition("sqs-callback", &[("WorkQueueUrl", &work_queue)])?;
        let state_machine = statemachine::create(&sfn, "secrets", &definition).await?;
        let proxy = FaultProxy::start(
            peer.endpoint(),
            FaultPlan::none().answer_closed_tasks_like_aws(),
        )
        .await?;
        let mut env = proxy.function_env(&peer);
        env.push(("AWS_LAMBDA_LOG_LEVEL".to_owned(), log_level.to_owned()));
        Ok(Self {
            _peer: peer,
            _proxy: proxy,
            sfn,
            sqs,
            sns,
            work_queue,
            state_machine,
            env,
        })
    }

    /// Starts an execution; returns the token moto issued for its task.
    async fn token(&self, name: &str) -> Result<String> {
        statemachine::start(&self.sfn, &self.state_machine, name, &json!({})).await?;
        let work = receive_exactly(&self.sqs, &self.work_queue, 1, LIMIT).await?;
        task_token(work[0].body().unwrap_or_default())
    }

    /// The callback bodies of every scenario, with their secrets recorded.
    async fn scenarios(
        &self,
        prefix: &str,
        seed: u64,
        secrets: &mut Secrets,
    ) -> Result<Vec<String>> {
        let success = secrets.token(&self.token(&format!("{prefix}-success")).await?);
        let failure = secrets.token(&self.token(&format!("{prefix}-failure")).await?);
        let unknown = secrets.token(&format!("SECRET-{seed:016x}-{prefix}-unknown-token"));
        let in_garbage = secrets.token(&format!("SECRET-{seed:016x}-{prefix}-in-garbage"));
        let in_broken = secrets.token(&format!("SECRET-{seed:016x}-{prefix}-in-broken-json"));
        let spaced = secrets.token(&format!("SECRET {seed:016x} {prefix} with spaces"));
        let output_marker = secrets.marker(seed, &format!("{prefix}-output"));
        let cause_marker = secrets.marker(seed, &format!("{prefix}-cause"));

        let success_body =
            secrets.body(&json!({"taskToken": success, "output": {"secret": output_marker}}));
        let bodies = vec![
            success_body.clone(),
            secrets.body(&json!({"taskToken": failure, "status": "FAILED", "error": "WorkFailed", "cause": cause_marker})),
            format!("not a callback {in_garbage}"),
            format!(r#"{{"taskToken":"{in_broken}","status":"#),
            secrets.body(&json!({"taskToken": unknown, "output": {}})),
            secrets.body(&json!({"taskToken": spaced, "output": {}})),
            // The duplicate: the same success again, after it completed.
            success_body,
        ];
        Ok(bodies)
    }
}

/// Fails with every secret found in each function's log and error answers.
fn assert_no_secret_in(label: &str, texts: &[String], secrets: &Secrets) {
    let found: Vec<String> = texts
        .iter()
        .flat_map(|text| secrets.found_in(text))
        .collect();
    assert!(
        found.is_empty(),
        "{label}: secrets reached the log or an error answer: {found:#?}"
    );
}

async fn sqs_callback_scenarios_leak_nothing(log_level: &str) -> Result<()> {
    let seed = seed();
    println!("secret seed {seed:016x}");
    let world = World::start(log_level).await?;
    let mut secrets = Secrets::default();
    let mut lambda = Lambda::start("sqs-callback", &world.env).await?;
    let raw = create_queue(&world.sqs, "callbacks-raw", &[]).await?;
    let raw_arn = sns::local_queue_arn(&raw);
    let wrapped_topic = sns::create_topic(&world.sns, "callbacks").await?;
    let wrapped = create_queue(&world.sqs, "callbacks-wrapped", &[]).await?;
    let wrapped_arn = sns::local_queue_arn(&wrapped);
    sns::subscribe_queue(&world.sns, &wrapped_topic, &wrapped_arn, false).await?;

    let mut failed = Vec::new();
    for body in world.scenarios("sqs", seed, &mut secrets).await? {
        event_source::send(&world.sqs, &raw, &body).await?;
        failed.extend(deliver(&world.sqs, &raw, &raw_arn, 1, &mut lambda).await?);
    }
    for body in world.scenarios("wrapped", seed, &mut secrets).await? {
        sns::publish(&world.sns, &wrapped_topic, &body).await?;
        failed.extend(deliver(&world.sqs, &wrapped, &wrapped_arn, 1, &mut lambda).await?);
    }

    // Garbage, broken JSON, the unknown token and the spaced token fail; success,
    // failure and the duplicate are done.
    assert_eq!(failed.len(), 8, "the scenarios ran as expected: {failed:?}");
    let log = lambda.log_text();
    assert!(
        log.contains("\"token\":\"token:"),
        "fingerprints are logged:\n{log}"
    );
    assert_no_secret_in(&format!("sqs-callback at {log_level}"), &[log], &secrets);
    Ok(())
}

async fn sns_callback_scenarios_leak_nothing(log_level: &str) -> Result<()> {
    let seed = seed();
    println!("secret seed {seed:016x}");
    let world = World::start(log_level).await?;
    let mut secrets = Secrets::default();
    let topic = sns::create_topic(&world.sns, "callbacks").await?;
    let queue = create_queue(&world.sqs, "callbacks", &[]).await?;
    sns::subscribe_queue(&world.sns, &topic, &sns::local_queue_arn(&queue), false).await?;
    let mut lambda = Lambda::start("sns-callback", &world.env).await?;

    let mut answers = Vec::new();
    let mut errors = 0;
    for body in world.scenarios("sns", seed, &mut secrets).await? {
        sns::publish(&world.sns, &topic, &body).await?;
        let delivered = receive_exactly(&world.sqs, &queue, 1, LIMIT).await?;
        let event = sns::sns_event(delivered[0].body().unwrap_or_default())?;
        match lambda.invoke(&event).await? {
            Answer::Response(value) => answers.push(value.to_string()),
            Answer::Error { error_type, body } => {
                errors += 1;
                answers.push(format!("{error_type}: {body}"));
            }
        }
    }

    assert_eq!(errors, 4, "the scenarios ran as expected: {answers:#?}");
    let mut texts = answers;
    texts.push(lambda.log_text());
    assert_no_secret_in(&format!("sns-callback at {log_level}"), &texts, &secrets);
    Ok(())
}

/// The approval flow at `log_level`, with the SDK's own body logging switched
/// on: an email, both links opened, a decision with a comment, a second
/// decision, a changed link, and a key rotation that both warm functions pick
/// up (the refresh interval is 1 s), with another email and page after it.
async fn approval_scenarios_leak_nothing(log_level: &str) -> Result<()> {
    let seed = seed();
    println!("secret seed {seed:016x}");
    let mut world = ApprovalWorld::start_with(&[
        ("AWS_LAMBDA_LOG_LEVEL", log_level),
        ("LINK_KEY_REFRESH_SECONDS", "1"),
        // What an operator chasing a problem may switch on as well: the SDK
        // then prints sensitive answers (the secret's keys) and signed bodies.
        ("LOG_SENSITIVE_BODIES", "true"),
        ("LOG_SIGNABLE_BODY", "true"),
    ])
    .await?;
    let mut secrets = Secrets::default();
    let comment = secrets.marker(seed, "approval-comment");

    let (execution, email) = world
        .request_approval("approval-secrets", "Approve deploy 51")
        .await?;
    secrets.token(&world.task_token(&execution).await?);
    let approve = link_labelled(&email.html, "Approve")?;
    let reject = link_labelled(&email.html, "Reject")?;
    secrets.link(&approve);
    secrets.link(&reject);
    let mut statuses = Vec::new();
    for (method, url) in [("HEAD", &approve), ("GET", &reject), ("GET", &approve)] {
        statuses.push(fetch(method, url.clone()).await?.status);
    }
    let link = approve.rsplit("l=").next().unwrap_or_default().to_owned();
    statuses.push(
        post_form(approve.clone(), link.clone(), "approve", &comment)
            .await?
            .status,
    );
    statuses.push(
        post_form(approve.clone(), link.clone(), "approve", &comment)
            .await?
            .status,
    );
    let last = if approve.ends_with('A') { 'B' } else { 'A' };
    let changed = format!("{}{last}", &approve[..approve.len() - 1]);
    statuses.push(fetch("GET", changed).await?.status);

    world.rotate_link_key().await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (rotated, email) = world
        .request_approval("approval-secrets-rotated", "Approve deploy 52")
        .await?;
    secrets.token(&world.task_token(&rotated).await?);
    let approve = link_labelled(&email.html, "Approve")?;
    secrets.link(&approve);
    statuses.push(fetch("GET", approve).await?.status);

    assert_eq!(
        statuses,
        [200, 200, 200, 200, 409, 400, 200],
        "the scenarios ran as expected"
    );
    secrets.keys.extend(world.keys_ever_held.iter().cloned());
    let texts = [world.http.log_text().await, world.notifier.log_text()];
    assert!(
        texts.iter().all(|log| log.contains("\"token\":\"token:")),
        "fingerprints are logged:\n{texts:#?}"
    );
    assert_no_secret_in(
        &format!("approval functions at {log_level}"),
        &texts,
        &secrets,
    );
    Ok(())
}

/// Two tests of the same scenarios: with the functions logging at INFO (as
/// deployed) and at TRACE (everything a debugging operator could switch on).
macro_rules! at_info_and_at_trace {
    ($($scenarios:ident: $at_info:ident, $at_trace:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $at_info() -> Result<()> {
            $scenarios("INFO").await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $at_trace() -> Result<()> {
            $scenarios("TRACE").await
        }
    )*};
}

at_info_and_at_trace! {
    sqs_callback_scenarios_leak_nothing:
        sqs_callback_logs_carry_no_token_and_no_callback_body,
        sqs_callback_logs_carry_no_token_and_no_callback_body_even_at_trace;
    sns_callback_scenarios_leak_nothing:
        sns_callback_logs_and_errors_carry_no_token_and_no_callback_body,
        sns_callback_logs_and_errors_carry_no_token_and_no_callback_body_even_at_trace;
    approval_scenarios_leak_nothing:
        approval_logs_carry_no_token_link_or_key,
        approval_logs_carry_no_token_link_or_key_even_at_trace;
}
