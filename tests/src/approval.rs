//! The human-approval world: the link key in Secrets Manager, a verified SES
//! sender, the approval state machine from `statemachines/approval.asl.json`,
//! `approval-http` served at a local Function URL and `approval-notifier` behind
//! its own Runtime API, all against one moto.
//!
//! In recorded mode ([`ApprovalWorld::start_recorded`]) the world also has the
//! approval table in moto's DynamoDB (keys `pk`/`sk`, TTL on `ttl`), and both
//! functions run with `APPROVAL_TABLE` and `APPROVERS_ALLOWED`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::{Value, json};
use sfn_callback_approval::link::{LinkKey, LinkKeys};
use sfn_callback_approval::record::ApprovalTable;

use crate::function_url::FunctionUrl;
use crate::peer::LocalAws;
use crate::runtime_api::{Answer, Lambda};
use crate::{Result, artifacts_dir, aws_error, statemachine};

pub const SENDER: &str = "approvals@example.com";
pub const APPROVER: &str = "approver@example.com";
/// The approval table of recorded mode.
pub const TABLE: &str = "sfn-callback-approvals";
/// Who may approve in recorded mode: everyone at example.com, and one
/// partner address.
pub const APPROVERS_ALLOWED: &str = "@example.com,lead@partner.example";
const LIMIT: Duration = Duration::from_secs(20);
/// The stand-in Lambda function the state machine invokes in moto.
const NOTIFIER: &str = "approval-notifier";

/// Everything the approval flow needs, started.
pub struct ApprovalWorld {
    pub peer: LocalAws,
    /// SES lives on its own moto: moto's `/moto-api/data.json`, where sent
    /// emails are read, fails for good (HTTP 500, it looks for Docker) once a
    /// Lambda function has existed on the same server.
    pub mail: LocalAws,
    pub sfn: aws_sdk_sfn::Client,
    pub state_machine: String,
    pub http: FunctionUrl,
    pub notifier: Lambda,
    /// The keys the link-key secret holds now.
    pub keys: LinkKeys,
    /// Every key the secret has held, oldest first.
    pub keys_ever_held: Vec<LinkKey>,
    secrets: aws_sdk_secretsmanager::Client,
    secret_arn: String,
    /// approval-http's environment, for starting more instances of it.
    http_env: Vec<(String, String)>,
    /// The approval table, in recorded mode.
    table: Option<ApprovalTable>,
}

impl std::fmt::Debug for ApprovalWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalWorld")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The email as moto kept it.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub html: String,
    pub destinations: Value,
}

/// A recorded-mode request, as the execution's input names it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub subject: String,
    pub approvers: Vec<String>,
    pub quorum: Option<u32>,
    pub requested_by: Option<String>,
}

impl RecordedRequest {
    /// `subject` for `approvers`, quorum and requester unset.
    pub fn new(subject: &str, approvers: &[&str]) -> Self {
        Self {
            subject: subject.to_owned(),
            approvers: approvers.iter().map(|&a| a.to_owned()).collect(),
            quorum: None,
            requested_by: None,
        }
    }

    #[must_use]
    pub fn quorum(mut self, quorum: u32) -> Self {
        self.quorum = Some(quorum);
        self
    }

    #[must_use]
    pub fn requested_by(mut self, address: &str) -> Self {
        self.requested_by = Some(address.to_owned());
        self
    }
}

/// A recorded-mode request handed to the notifier: the execution, the payload
/// it got (to hand it over again, as a redelivery) and what it answered.
#[derive(Debug, Clone)]
pub struct Notified {
    pub execution: String,
    pub payload: Value,
    pub answer: Answer,
}

impl Email {
    /// The email of one message of moto's SES store.
    fn from_ses_message(message: &Value) -> Self {
        let text = |name: &str| {
            message
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            subject: text("subject"),
            html: text("body"),
            destinations: message.get("destinations").cloned().unwrap_or(Value::Null),
        }
    }

    /// Writes the HTML to `file_name` in the artifacts folder, for a browser
    /// to open; returns its path.
    pub fn save_html(&self, file_name: &str) -> Result<std::path::PathBuf> {
        let file = artifacts_dir()?.join(file_name);
        std::fs::write(&file, &self.html)?;
        Ok(file)
    }
}

/// Creates the link-key secret, holding one fresh key; returns the keys and the
/// secret's ARN.
pub async fn create_link_key_secret(
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<(LinkKeys, String)> {
    let keys = LinkKeys::single(LinkKey::generate()?);
    let secret = secrets
        .create_secret()
        .name("sfn-callback/link-key")
        .secret_string(keys.to_secret_json())
        .send()
        .await?;
    let secret_arn = secret.arn().ok_or("the secret has no ARN")?.to_owned();
    Ok((keys, secret_arn))
}

impl ApprovalWorld {
    pub async fn start() -> Result<Self> {
        Self::start_with(&[]).await
    }

    /// As [`ApprovalWorld::start`], with `settings` added to both functions'
    /// environment (a log level, the key refresh interval).
    pub async fn start_with(settings: &[(&str, &str)]) -> Result<Self> {
        Self::start_in_mode(settings, false).await
    }

    /// Recorded mode: the approval table [`TABLE`] created in moto, and both
    /// functions started with `APPROVAL_TABLE` and [`APPROVERS_ALLOWED`].
    pub async fn start_recorded() -> Result<Self> {
        Self::start_recorded_with(&[]).await
    }

    /// As [`ApprovalWorld::start_recorded`], with `settings` added to both
    /// functions' environment (they may override `APPROVERS_ALLOWED`).
    pub async fn start_recorded_with(settings: &[(&str, &str)]) -> Result<Self> {
        Self::start_in_mode(settings, true).await
    }

    async fn start_in_mode(settings: &[(&str, &str)], recorded: bool) -> Result<Self> {
        let peer = LocalAws::start()?;
        let config = peer.sdk_config().await;
        let sfn = aws_sdk_sfn::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let (keys, secret_arn) = create_link_key_secret(&secrets).await?;
        let notifier_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{NOTIFIER}");
        let mail = LocalAws::start()?;
        mail.setup("verify-email", SENDER)?;
        let definition = statemachine::definition(
            "approval",
            &[
                ("ApprovalNotifierArn", &notifier_arn),
                ("DefaultApprovers", APPROVER),
            ],
        )?;
        let state_machine = statemachine::create(&sfn, "approval", &definition).await?;

        let mut env = peer.function_env();
        env.push(("LINK_KEY_SECRET_ARN".to_owned(), secret_arn.clone()));
        let table = if recorded {
            let dynamodb = aws_sdk_dynamodb::Client::new(&config);
            create_table(&dynamodb, TABLE).await?;
            env.push(("APPROVAL_TABLE".to_owned(), TABLE.to_owned()));
            env.push(("APPROVERS_ALLOWED".to_owned(), APPROVERS_ALLOWED.to_owned()));
            Some(ApprovalTable::new(dynamodb, TABLE))
        } else {
            None
        };
        env.extend(
            settings
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let http_env = env.clone();
        let http = FunctionUrl::serve(Lambda::start("approval-http", &env).await?).await?;
        env.push(("SENDER_EMAIL".to_owned(), SENDER.to_owned()));
        env.push((
            "AWS_ENDPOINT_URL_SESV2".to_owned(),
            mail.endpoint().to_owned(),
        ));
        env.push(("APPROVAL_BASE_URL".to_owned(), http.url()));
        let notifier = Lambda::start("approval-notifier", &env).await?;
        Ok(Self {
            peer,
            mail,
            sfn,
            state_machine,
            http,
            notifier,
            keys_ever_held: vec![keys.current.clone()],
            keys,
            secrets,
            secret_arn,
            http_env,
            table,
        })
    }

    /// Rotates the link key as an operator does: a new `current`, the old
    /// `current` becomes `previous`, and the old `previous` leaves the secret.
    pub async fn rotate_link_key(&mut self) -> Result<()> {
        let rotated = LinkKeys::new(LinkKey::generate()?, Some(self.keys.current.clone()));
        self.secrets
            .put_secret_value()
            .secret_id(&self.secret_arn)
            .secret_string(rotated.to_secret_json())
            .send()
            .await?;
        self.keys_ever_held.push(rotated.current.clone());
        self.keys = rotated;
        Ok(())
    }

    /// Deletes the link-key secret at once (no recovery window): from now on
    /// every read of it fails.
    pub async fn delete_link_key_secret(&self) -> Result<()> {
        self.secrets
            .delete_secret()
            .secret_id(&self.secret_arn)
            .force_delete_without_recovery(true)
            .send()
            .await?;
        Ok(())
    }

    /// Another approval-http instance, started now as Lambda starts one to
    /// scale out, at its own URL.
    pub async fn start_http_instance(&self) -> Result<FunctionUrl> {
        FunctionUrl::serve(Lambda::start("approval-http", &self.http_env).await?).await
    }

    /// The task token the state machine handed the notifier for `execution`.
    pub async fn task_token(&self, execution: &str) -> Result<String> {
        let history = statemachine::history(&self.sfn, execution).await?;
        history
            .iter()
            .find_map(|e| {
                e.task_scheduled_event_details()
                    .map(|d| d.parameters().to_owned())
            })
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|p| p["Payload"]["taskToken"].as_str().map(str::to_owned))
            .ok_or_else(|| format!("no token in the history of {execution}").into())
    }

    /// Starts an execution; the state machine's Lambda task carries the token
    /// (moto only echoes Lambda payloads, so the payload is read from the
    /// TaskScheduled event and handed to the real notifier binary, as Lambda would).
    pub async fn request_approval(&mut self, name: &str, subject: &str) -> Result<(String, Email)> {
        let input = json!({
            "approvers": [APPROVER],
            "subject": subject,
            "summary": "Release 42 to production: <b>3</b> services.",
            "details": {"version": "42", "services": ["api", "web", "worker"], "ticket": "<script>alert(1)</script>"},
        });
        self.peer.setup("lambda", NOTIFIER)?;
        let execution = statemachine::start(&self.sfn, &self.state_machine, name, &input).await?;
        let payload = scheduled_payload(&self.sfn, &execution).await;
        self.peer.setup("delete-lambda", NOTIFIER)?;
        let payload = payload?;
        self.notifier.invoke(&payload).await?.into_response()?;
        let email = self.email(subject)?;
        Ok((execution, email))
    }

    /// Requests an approval as [`Self::request_approval`] does; returns the
    /// execution ARN and the URL behind the email's button `label`.
    pub async fn request_link(
        &mut self,
        name: &str,
        subject: &str,
        label: &str,
    ) -> Result<(String, String)> {
        let (execution, email) = self.request_approval(name, subject).await?;
        Ok((execution, link_labelled(&email.html, label)?))
    }

    /// The email moto kept with this subject.
    pub fn email(&self, subject: &str) -> Result<Email> {
        let data = self.mail.data()?;
        let messages = find_ses_messages(&data);
        let message = messages
            .iter()
            .rev()
            .find(|m| m.get("subject").and_then(Value::as_str) == Some(subject))
            .ok_or_else(|| format!("no email with subject {subject:?} in moto's SES store"))?;
        Ok(Email::from_ses_message(message))
    }
}

impl ApprovalWorld {
    /// The approval table (recorded mode only).
    pub fn table(&self) -> Result<&ApprovalTable> {
        self.table
            .as_ref()
            .ok_or_else(|| "the world runs in stateless mode: no approval table".into())
    }

    /// Starts an execution for `request` and hands its payload to the
    /// notifier, with `quorum` and `requestedBy` added when the state machine
    /// does not pass them on; returns what the notifier answered.
    pub async fn request_recorded(
        &mut self,
        name: &str,
        request: &RecordedRequest,
    ) -> Result<Notified> {
        let mut input = json!({
            "approvers": request.approvers,
            "subject": request.subject,
            "summary": "Release 42 to production: <b>3</b> services.",
            "details": {"version": "42", "services": ["api", "web", "worker"]},
        });
        if let Some(quorum) = request.quorum {
            input["quorum"] = json!(quorum);
        }
        if let Some(requested_by) = &request.requested_by {
            input["requestedBy"] = json!(requested_by);
        }
        self.peer.setup("lambda", NOTIFIER)?;
        let execution = statemachine::start(&self.sfn, &self.state_machine, name, &input).await?;
        let payload = scheduled_payload(&self.sfn, &execution).await;
        self.peer.setup("delete-lambda", NOTIFIER)?;
        let mut payload = payload?;
        for field in ["quorum", "requestedBy"] {
            if let (Some(value), None) = (input.get(field), payload.get(field)) {
                payload[field] = value.clone();
            }
        }
        let answer = self.notifier.invoke(&payload).await?;
        Ok(Notified {
            execution,
            payload,
            answer,
        })
    }

    /// Hands `payload` to the notifier again, as a redelivery does.
    pub async fn redeliver(&mut self, payload: &Value) -> Result<Answer> {
        self.notifier.invoke(payload).await
    }

    /// Every email moto sent, by recipient (lowercase), oldest first.
    pub fn emails_by_recipient(&self) -> Result<BTreeMap<String, Vec<Email>>> {
        let mut by_recipient: BTreeMap<String, Vec<Email>> = BTreeMap::new();
        for message in find_ses_messages(&self.mail.data()?) {
            let email = Email::from_ses_message(&message);
            for recipient in email.recipients() {
                by_recipient
                    .entry(recipient)
                    .or_default()
                    .push(email.clone());
            }
        }
        Ok(by_recipient)
    }

    /// Every email moto sent to `address`, oldest first.
    pub fn emails_to(&self, address: &str) -> Result<Vec<Email>> {
        Ok(self
            .emails_by_recipient()?
            .remove(&address.to_ascii_lowercase())
            .unwrap_or_default())
    }

    /// Every item of the approval table.
    pub async fn scan_table(&self) -> Result<Vec<HashMap<String, AttributeValue>>> {
        scan(self.table()?).await
    }

    /// Every item of the approval table as text, to search for what must
    /// never be stored.
    pub async fn table_text(&self) -> Result<String> {
        Ok(format!("{:?}", self.scan_table().await?))
    }
}

impl Email {
    /// The `To` addresses, lowercase.
    pub fn recipients(&self) -> Vec<String> {
        let to = self
            .destinations
            .get("ToAddresses")
            .unwrap_or(&self.destinations);
        match to {
            Value::Array(addresses) => addresses
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
            Value::String(address) => vec![address.to_ascii_lowercase()],
            _ => Vec::new(),
        }
    }
}

/// A recorded-mode notifier's environment that reaches no AWS peer (a
/// loopback port nobody answers), for tests of its start: `LINK_KEY` set,
/// `APPROVERS_ALLOWED` not, the rest from `settings` (which may add it).
pub fn recorded_notifier_env(settings: &[(&str, &str)]) -> Result<Vec<(String, String)>> {
    let key = LinkKey::generate()?.expose_base64();
    let mut env = crate::peer::local_process_env("http://127.0.0.1:9");
    for (name, value) in [
        ("LINK_KEY", key.as_str()),
        ("SENDER_EMAIL", SENDER),
        ("APPROVAL_BASE_URL", "http://127.0.0.1:9/"),
        ("APPROVAL_TABLE", TABLE),
    ]
    .into_iter()
    .chain(settings.iter().copied())
    {
        env.retain(|(existing, _)| existing != name);
        env.push((name.to_owned(), value.to_owned()));
    }
    Ok(env)
}

/// The approval table [`TABLE`], created in `peer`: for tests of the table's
/// operations without the functions.
pub async fn table_in(peer: &LocalAws) -> Result<ApprovalTable> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&peer.sdk_config().await);
    create_table(&dynamodb, TABLE).await?;
    Ok(ApprovalTable::new(dynamodb, TABLE))
}

/// Every item of `table`, read consistently.
pub async fn scan(table: &ApprovalTable) -> Result<Vec<HashMap<String, AttributeValue>>> {
    table
        .client()
        .scan()
        .table_name(table.name())
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| aws_error("Scan", err))
}

/// Creates the approval table as the template does: `pk`/`sk` strings,
/// on demand, TTL on `ttl`.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<()> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|err| aws_error("CreateTable", err))?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|err| aws_error("UpdateTimeToLive", err))?;
    Ok(())
}

/// The `Payload` of the execution's TaskScheduled event, polled until it appears.
async fn scheduled_payload(sfn: &aws_sdk_sfn::Client, execution: &str) -> Result<Value> {
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        let history = statemachine::history(sfn, execution).await?;
        if let Some(parameters) = history.iter().find_map(|e| {
            e.task_scheduled_event_details()
                .map(|d| d.parameters().to_owned())
        }) {
            let parameters: Value = serde_json::from_str(&parameters)?;
            return parameters
                .get("Payload")
                .cloned()
                .ok_or_else(|| "TaskScheduled without a Payload".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("execution {execution} scheduled no task within {LIMIT:?}").into())
}

/// moto keeps sent emails under `ses.Message`, per account and region.
fn find_ses_messages(data: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    collect_messages(data.get("ses").unwrap_or(&Value::Null), &mut found);
    found
}

fn collect_messages(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("subject") && map.contains_key("body") {
                found.push(value.clone());
                return;
            }
            map.values().for_each(|v| collect_messages(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_messages(v, found)),
        _ => {}
    }
}

/// The `href` of the first `<a>` whose text is `label`, HTML-unescaped.
pub fn link_labelled(html: &str, label: &str) -> Result<String> {
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        rest = &rest[start..];
        let end = rest.find("</a>").ok_or("unclosed <a>")?;
        let anchor = &rest[..end];
        let text = anchor.rsplit('>').next().unwrap_or_default().trim();
        if text == label {
            let href = anchor
                .split("href=\"")
                .nth(1)
                .and_then(|h| h.split('"').next())
                .ok_or("<a> without href")?;
            return Ok(unescape(href));
        }
        rest = &rest[end..];
    }
    Err(format!("no link labelled {label:?}").into())
}

/// The `value` of the form input named `name`, HTML-unescaped.
pub fn input_value(html: &str, name: &str) -> Result<String> {
    let marker = format!("name=\"{name}\"");
    let tag_start = html
        .find(&marker)
        .ok_or_else(|| format!("no input named {name}"))?;
    let tag_open = html[..tag_start].rfind('<').ok_or("no tag")?;
    let tag_end = tag_start + html[tag_start..].find('>').ok_or("unclosed tag")?;
    let tag = &html[tag_open..tag_end];
    let value = tag
        .split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .ok_or("input without value")?;
    Ok(unescape(value))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One HTTP exchange with the page, as a browser without JavaScript makes it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The sealed link the page's confirmation form carries.
    pub fn form_link(&self) -> Result<String> {
        input_value(&self.body, "link")
    }
}

/// GET (or HEAD) `url`.
pub async fn fetch(method: &'static str, url: String) -> Result<Page> {
    tokio::task::spawn_blocking(move || {
        let agent = agent();
        let response = match method {
            "HEAD" => agent.head(&url).call()?,
            _ => agent.get(&url).call()?,
        };
        into_page(response)
    })
    .await?
}

/// POSTs the confirmation form at `url` with `decision` and `comment`.
pub async fn post_form(url: String, link: String, decision: &str, comment: &str) -> Result<Page> {
    post_urlencoded(
        url,
        &[
            ("link", &link),
            ("decision", decision),
            ("comment", comment),
        ],
    )
    .await
}

/// POSTs `fields` at `url` as an `application/x-www-form-urlencoded` form.
async fn post_urlencoded(url: String, fields: &[(&str, &str)]) -> Result<Page> {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    tokio::task::spawn_blocking(move || {
        let response = agent()
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body)?;
        into_page(response)
    })
    .await?
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn into_page(mut response: ureq::http::Response<ureq::Body>) -> Result<Page> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.body_mut().read_to_string()?;
    Ok(Page {
        status,
        headers,
        body,
    })
}

/// GET (or HEAD) `url` with `headers` added, e.g. a `User-Agent`.
pub async fn fetch_with_headers(
    method: &'static str,
    url: String,
    headers: &[(&str, &str)],
) -> Result<Page> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let agent = agent();
        let response = match method {
            "HEAD" => headers
                .iter()
                .fold(agent.head(&url), |request, (name, value)| {
                    request.header(name, value)
                })
                .call()?,
            _ => headers
                .iter()
                .fold(agent.get(&url), |request, (name, value)| {
                    request.header(name, value)
                })
                .call()?,
        };
        into_page(response)
    })
    .await?
}

/// POSTs a recorded-mode ballot at `url`: its button `decision` and `comment`.
pub async fn post_vote(url: String, decision: &str, comment: &str) -> Result<Page> {
    post_urlencoded(url, &[("decision", decision), ("comment", comment)]).await
}

/// Recorded mode's page and votes: more instances, the ledger, a withdrawal.
impl ApprovalWorld {
    /// Another approval-http instance whose Step Functions calls go through
    /// `proxy` (everything else straight to moto), at its own URL.
    pub async fn start_http_instance_via(
        &self,
        proxy: &crate::fault_proxy::FaultProxy,
    ) -> Result<FunctionUrl> {
        let mut env = self.http_env.clone();
        env.push(("AWS_ENDPOINT_URL_SFN".to_owned(), proxy.endpoint()));
        FunctionUrl::serve(Lambda::start("approval-http", &env).await?).await
    }

    /// The ledger of request `request_id`, oldest first.
    pub async fn ledger(&self, request_id: &str) -> Result<Vec<HashMap<String, AttributeValue>>> {
        let partition = format!("request#{request_id}");
        let mut ledger: Vec<_> = self
            .scan_table()
            .await?
            .into_iter()
            .filter(|item| {
                item.get("pk").and_then(|v| v.as_s().ok()) == Some(&partition)
                    && item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|sk| sk.starts_with("ledger#"))
            })
            .collect();
        ledger.sort_by_key(|item| item.get("sk").and_then(|v| v.as_s().ok()).cloned());
        Ok(ledger)
    }

    /// Withdraws request `request_id` as an operator's revoke does, through
    /// the table's own [`ApprovalTable::withdraw`].
    pub async fn withdraw_in_table(&self, request_id: &str) -> Result<()> {
        let id = sfn_callback_approval::record::RequestId::parse(request_id)?;
        match self
            .table()?
            .withdraw(&id, sfn_callback_approval::now_unix())
            .await?
        {
            sfn_callback_approval::record::Withdrawal::Withdrawn(_) => Ok(()),
            other => Err(format!("request {request_id} was not withdrawn: {other:?}").into()),
        }
    }
}
