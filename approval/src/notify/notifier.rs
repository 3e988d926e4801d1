//! The `approval-notifier` function: takes an approval request, seals an
//! Approve and a Reject link for its token, and sends one email through SES v2.
//!
//! The request arrives in one of three shapes, told apart by the JSON itself:
//! - an SQS event (`Records[0].eventSource == "aws:sqs"`): every record's body is
//!   a request (or an SNS notification carrying one); bad requests go to the
//!   DLQ through the partial batch response;
//! - an SNS event (`Records[0].EventSource == "aws:sns"`): the record's `Message`
//!   is the request; a failure is returned as an error, so Lambda retries it
//!   and then hands it to the function's failure destination;
//! - anything else is the request itself (a direct invoke, as from
//!   `arn:aws:states:::lambda:invoke.waitForTaskToken`); a failure is returned
//!   as an error whose `errorType` names it, which the state machine can catch.
//!
//! With `APPROVAL_TABLE` set, the notifier runs in recorded mode (see
//! [`recorded`](super::recorded)): one email per approver, and a request it
//! refuses has its task failed with `ApprovalRequestInvalid`, whatever its
//! shape. Without it, the stateless mode below is unchanged.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sfn_callback::aws::ClientOnFirstUse;
use sfn_callback::batch::{Handled, process_sqs_batch};
use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::config::{Config, ConfigError};
use sfn_callback::envelope::sqs_callback_text;
use sfn_callback::{Classify, Done};

use super::email::{self, ButtonLinks, Email};
use super::error::{NotSent, NotifyError};
use super::recorded::{Mail, Recorded, Recording, refuse};
use super::request::{self, ApprovalRequest};
use super::ses;
use super::settings::{NotifierSettings, check_recorded_base_url};
use super::trigger::{NotifierResponse, Trigger, detect};
use crate::link::{self, Action, KeySource, KeyStore, LinkData, LinkKeys};
use crate::record::{ApprovalTable, RecordedSettings, RequestId};
use crate::{now_unix, rfc3339};

/// An email that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    /// SES's id for the message.
    pub(crate) message_id: Option<String>,
    /// Unix seconds; the links work until then.
    pub(crate) expires_at: u64,
}

/// What the function builds once at cold start and borrows on every invocation.
#[derive(Debug, Clone)]
pub struct ApprovalNotifier {
    parts: Arc<Parts>,
}

/// What every invocation borrows.
#[derive(Debug)]
struct Parts {
    ses: ClientOnFirstUse<aws_sdk_sesv2::Client>,
    keys: KeyStore,
    settings: NotifierSettings,
    max_concurrency: usize,
    /// Recorded mode's table and settings; `None` in the stateless mode.
    recording: Option<Recording>,
}

/// What became of one valid request, in either mode.
enum Notified {
    Stateless(Sent),
    Recorded(Recorded),
}

impl ApprovalNotifier {
    /// A notifier with keys that never change, sending at most 10 emails of
    /// one SQS batch at once.
    pub fn new(ses: aws_sdk_sesv2::Client, keys: LinkKeys, settings: NotifierSettings) -> Self {
        Self::with_key_store(ses, KeyStore::fixed(keys), settings, 10)
    }

    /// A notifier with keys from `keys` (for example read again from the
    /// secret on an interval), sending at most `max_concurrency` emails of one
    /// SQS batch at once.
    pub fn with_key_store(
        ses: aws_sdk_sesv2::Client,
        keys: KeyStore,
        settings: NotifierSettings,
        max_concurrency: usize,
    ) -> Self {
        Self::build(
            ClientOnFirstUse::ready(ses),
            keys,
            settings,
            max_concurrency,
            None,
        )
    }

    /// A notifier in recorded mode: one email per approver, recorded in
    /// `recording`'s table. Refuses a base URL that could make a link longer
    /// than 100 characters.
    pub fn recorded(
        ses: aws_sdk_sesv2::Client,
        keys: KeyStore,
        settings: NotifierSettings,
        recording: Recording,
        max_concurrency: usize,
    ) -> Result<Self, ConfigError> {
        check_recorded_base_url(&settings.base_url)?;
        Ok(Self::build(
            ClientOnFirstUse::ready(ses),
            keys,
            settings,
            max_concurrency,
            Some(recording),
        ))
    }

    fn build(
        ses: ClientOnFirstUse<aws_sdk_sesv2::Client>,
        keys: KeyStore,
        settings: NotifierSettings,
        max_concurrency: usize,
        recording: Option<Recording>,
    ) -> Self {
        Self {
            parts: Arc::new(Parts {
                ses,
                keys,
                settings,
                max_concurrency,
                recording,
            }),
        }
    }

    /// Reads the settings (`SENDER_EMAIL`, `APPROVAL_BASE_URL`,
    /// `LINK_KEY_SECRET_ARN` and `LINK_KEY_REFRESH_SECONDS` or `LINK_KEY`,
    /// `MAX_CONCURRENCY`, and recorded mode's `APPROVAL_TABLE` and
    /// `APPROVERS_ALLOWED`), loads the keys and prepares the SES client (built
    /// on the first email: see [`ClientOnFirstUse`]).
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let settings = NotifierSettings::from_env()?;
        let recorded = RecordedSettings::from_env()?;
        if recorded.is_some() {
            check_recorded_base_url(&settings.base_url)?;
        }
        let config = Config::from_env()?;
        let key_source = KeySource::from_env()?;
        let sdk_config = sfn_callback::aws::sdk_config().await;
        let keys = key_source.into_store(&sdk_config).await?;
        let recording = recorded.map(|recorded| Recording {
            table: ApprovalTable::from_sdk_config(&sdk_config, recorded.table.clone()),
            callback: CallbackClient::from_sdk_config(&sdk_config, config.retry),
            settings: recorded,
        });
        let ses = ClientOnFirstUse::new(move || aws_sdk_sesv2::Client::new(&sdk_config));
        Ok(Self::build(
            ses,
            keys,
            settings,
            config.max_concurrency,
            recording,
        ))
    }

    /// Handles one invocation of any shape (see the module docs).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<NotifierResponse, NotifyError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        match detect(event.payload)? {
            Trigger::Sqs(event) => Ok(NotifierResponse::Batch(
                self.handle_sqs(event, deadline).await,
            )),
            Trigger::Sns(event) => {
                let mut emails_sent = 0;
                for record in &event.records {
                    let request = request::parse(&record.sns.message)
                        .map_err(NotifyError::from)
                        .inspect_err(|err| log_failure(None, err))?;
                    emails_sent += match self.notify(&request, deadline).await? {
                        Notified::Stateless(_) => 1,
                        Notified::Recorded(Recorded::Sent { emails_sent, .. }) => emails_sent,
                        Notified::Recorded(Recorded::Refused { .. }) => 0,
                    };
                }
                Ok(NotifierResponse::Published { emails_sent })
            }
            Trigger::Direct(payload) => {
                let request = request::from_value(payload)
                    .map_err(NotifyError::from)
                    .inspect_err(|err| log_failure(None, err))?;
                Ok(match self.notify(&request, deadline).await? {
                    Notified::Stateless(sent) => NotifierResponse::Sent {
                        message_id: sent.message_id,
                        expires_at: rfc3339(sent.expires_at),
                    },
                    Notified::Recorded(Recorded::Sent {
                        request_id,
                        emails_sent,
                        expires_at,
                    }) => NotifierResponse::Recorded {
                        request_id: request_id.to_string(),
                        emails_sent,
                        expires_at: rfc3339(expires_at),
                    },
                    Notified::Recorded(Recorded::Refused { request_id, cause }) => {
                        NotifierResponse::Refused {
                            request_id: request_id.to_string(),
                            error: refuse::REQUEST_INVALID_ERROR.to_owned(),
                            cause,
                        }
                    }
                })
            }
        }
    }

    /// Sends the emails of each record; the response lists the records to
    /// retry or dead-letter.
    pub(crate) async fn handle_sqs(&self, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let notifier = self.clone();
        let handler = move |record: SqsMessage| {
            let notifier = notifier.clone();
            async move { notifier.handle_record(&record, deadline).await }
        };
        process_sqs_batch(event.records, self.parts.max_concurrency, handler).await
    }

    async fn handle_record(&self, record: &SqsMessage, deadline: Deadline) -> Handled<NotSent> {
        let text = match sqs_callback_text(record) {
            Ok(text) => text,
            Err(err) => return Handled::new(None, Err(err.into())),
        };
        let request = match request::parse(&text) {
            Ok(request) => request,
            Err(err) => {
                let err = NotifyError::from(err);
                log_failure(None, &err);
                return Handled::new(None, Err(err.into()));
            }
        };
        let token = Some(request.token.fingerprint());
        // A refused request's task was failed: completed too.
        match self.notify(&request, deadline).await {
            Ok(_) => Handled::new(token, Ok(Done::Completed)),
            Err(err) => Handled::new(token, Err(err.into())),
        }
    }

    /// Sends the email of a valid request in the mode configured.
    async fn notify(
        &self,
        request: &ApprovalRequest,
        deadline: Deadline,
    ) -> Result<Notified, NotifyError> {
        let Some(recording) = &self.parts.recording else {
            return self.send(request).await.map(Notified::Stateless);
        };
        let mail = Mail {
            ses: self.parts.ses.get(),
            from: &self.parts.settings.sender_email,
            base_url: &self.parts.settings.base_url,
        };
        recording
            .notify(mail, &self.parts.keys, request, deadline)
            .await
            .map(Notified::Recorded)
            .inspect_err(|err| log_recorded_failure(request, err))
    }

    /// Seals the links and sends the email for a valid request.
    pub(crate) async fn send(&self, request: &ApprovalRequest) -> Result<Sent, NotifyError> {
        let expires_at = now_unix().saturating_add(request.expires_in_seconds);
        let result = match self.prepare(request, expires_at).await {
            Ok(email) => {
                let from = &self.parts.settings.sender_email;
                ses::send_email(self.parts.ses.get(), from, &request.to, &email).await
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(message_id) => {
                tracing::info!(
                    token = %request.token,
                    recipients = request.to.len(),
                    message_id = message_id.as_deref(),
                    expires_at = %rfc3339(expires_at),
                    "approval email sent"
                );
                Ok(Sent {
                    message_id,
                    expires_at,
                })
            }
            Err(err) => {
                log_failure(Some(request), &err);
                Err(err)
            }
        }
    }

    /// The email for `request`, its links sealed with the current key to
    /// expire at `expires_at`.
    pub(crate) async fn prepare(
        &self,
        request: &ApprovalRequest,
        expires_at: u64,
    ) -> Result<Email, NotifyError> {
        let keys = self.parts.keys.keys().await?;
        let sealed = |action| {
            link::seal(
                &keys,
                &LinkData {
                    token: request.token.clone(),
                    action,
                    expires_at,
                    subject: Some(request.subject.clone()),
                    summary: request.summary.clone(),
                },
            )
        };
        let base_url = &self.parts.settings.base_url;
        let links = ButtonLinks {
            approve: email::link_url(base_url, &sealed(Action::Approve)?),
            reject: email::link_url(base_url, &sealed(Action::Reject)?),
        };
        Ok(email::render(request, &links, expires_at))
    }
}

fn log_failure(request: Option<&ApprovalRequest>, err: &NotifyError) {
    tracing::warn!(
        token = request.map(|request| tracing::field::display(&request.token)),
        outcome = ?err.class(),
        error_type = err.error_type(),
        error = %err,
        "approval email not sent"
    );
}

fn log_recorded_failure(request: &ApprovalRequest, err: &NotifyError) {
    tracing::warn!(
        request_id = %RequestId::for_token(&request.token),
        token = %request.token,
        outcome = ?err.class(),
        error_type = err.error_type(),
        error = %err,
        "approval email not sent"
    );
}
