//! End to end over SNS: the state machine publishes its task with
//! `sns:publish.waitForTaskToken`; the worker's callback travels through SNS to
//! SQS (raw and wrapped) for `sqs-callback`, or straight to `sns-callback`.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::event_source::{create_queue, deliver, receive_exactly, task_token};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::{Answer, Lambda};
use sfn_callback_tests::{Result, sns, statemachine};

const LIMIT: Duration = Duration::from_secs(20);

struct World {
    _peer: LocalAws,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    work_queue: String,
    state_machine: String,
    env: Vec<(String, String)>,
}

/// A queue subscribed to its own callback topic.
struct CallbackRoute {
    topic: String,
    queue_url: String,
    queue_arn: String,
}

impl World {
    async fn start() -> Result<Self> {
        let peer = LocalAws::start()?;
        let Clients { sfn, sqs, sns } = peer.clients().await;
        let work_topic = sns::create_topic(&sns, "work").await?;
        let work_queue = create_queue(&sqs, "work", &[]).await?;
        sns::subscribe_queue(&sns, &work_topic, &sns::local_queue_arn(&work_queue), true).await?;
        let definition =
            statemachine::definition("sns-callback", &[("WorkTopicArn", &work_topic)])?;
        let state_machine = statemachine::create(&sfn, "sns-callback", &definition).await?;
        let env = peer.function_env();
        Ok(Self {
            _peer: peer,
            sfn,
            sqs,
            sns,
            work_queue,
            state_machine,
            env,
        })
    }

    /// A callback topic delivering to a new queue, raw or wrapped in the SNS notification.
    async fn callback_route(&self, name: &str, raw: bool) -> Result<CallbackRoute> {
        let topic = sns::create_topic(&self.sns, name).await?;
        let queue_url = create_queue(&self.sqs, name, &[]).await?;
        let queue_arn = sns::local_queue_arn(&queue_url);
        sns::subscribe_queue(&self.sns, &topic, &queue_arn, raw).await?;
        Ok(CallbackRoute {
            topic,
            queue_url,
            queue_arn,
        })
    }

    async fn start_execution(&self, name: &str) -> Result<(String, String)> {
        let execution =
            statemachine::start(&self.sfn, &self.state_machine, name, &json!({"job": name}))
                .await?;
        let work = receive_exactly(&self.sqs, &self.work_queue, 1, LIMIT).await?;
        Ok((execution, task_token(work[0].body().unwrap_or_default())?))
    }

    async fn publish(&self, topic: &str, callback: &Value) -> Result<()> {
        self.sns
            .publish()
            .topic_arn(topic)
            .message(callback.to_string())
            .send()
            .await?;
        Ok(())
    }

    async fn finished(&self, execution: &str) -> Result<(ExecutionStatus, Value)> {
        let described = statemachine::wait_finished(&self.sfn, execution, LIMIT).await?;
        let output = described
            .output()
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or(Value::Null);
        Ok((described.status().clone(), output))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_callback_completes_from_raw_and_wrapped_sns_deliveries() -> Result<()> {
    let world = World::start().await?;
    let raw = world.callback_route("callbacks-raw", true).await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let (first, first_token) = world.start_execution("via-raw").await?;
    let (second, second_token) = world.start_execution("via-wrapped").await?;
    let mut lambda = Lambda::start("sqs-callback", &world.env).await?;

    world
        .publish(
            &raw.topic,
            &json!({"taskToken": first_token, "output": {"route": "raw"}}),
        )
        .await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": second_token, "output": {"route": "wrapped"}}),
        )
        .await?;
    let raw_failed = deliver(&world.sqs, &raw.queue_url, &raw.queue_arn, 1, &mut lambda).await?;
    let wrapped_failed = deliver(
        &world.sqs,
        &wrapped.queue_url,
        &wrapped.queue_arn,
        1,
        &mut lambda,
    )
    .await?;

    assert!(
        raw_failed.is_empty() && wrapped_failed.is_empty(),
        "{raw_failed:?} {wrapped_failed:?}"
    );
    assert_eq!(
        world.finished(&first).await?,
        (ExecutionStatus::Succeeded, json!({"route": "raw"}))
    );
    assert_eq!(
        world.finished(&second).await?,
        (ExecutionStatus::Succeeded, json!({"route": "wrapped"}))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_notification_whose_message_is_not_a_callback_is_reported_failed() -> Result<()> {
    let world = World::start().await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let mut lambda = Lambda::start("sqs-callback", &world.env).await?;
    world
        .sns
        .publish()
        .topic_arn(&wrapped.topic)
        .message("not a callback")
        .send()
        .await?;

    let failed = deliver(
        &world.sqs,
        &wrapped.queue_url,
        &wrapped.queue_arn,
        1,
        &mut lambda,
    )
    .await?;

    assert_eq!(failed.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_callback_completes_from_the_notification_sns_delivered() -> Result<()> {
    let world = World::start().await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let (execution, token) = world.start_execution("via-sns").await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": token, "status": "FAILED", "error": "Rejected", "cause": "no"}),
        )
        .await?;
    let delivered = receive_exactly(&world.sqs, &wrapped.queue_url, 1, LIMIT).await?;
    let event = sns::sns_event(delivered[0].body().unwrap_or_default())?;
    let mut lambda = Lambda::start("sns-callback", &world.env).await?;

    let answer = lambda.invoke(&event).await?;

    assert_eq!(answer, Answer::Response(Value::Null));
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        (described.status(), described.error()),
        (&ExecutionStatus::Failed, Some("Rejected"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_callback_failure_names_its_class_in_the_lambda_error_type() -> Result<()> {
    let world = World::start().await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": "unknown-token-for-this-peer"}),
        )
        .await?;
    let delivered = receive_exactly(&world.sqs, &wrapped.queue_url, 1, LIMIT).await?;
    let mut lambda = Lambda::start("sns-callback", &world.env).await?;

    let answer = lambda
        .invoke(&sns::sns_event(delivered[0].body().unwrap_or_default())?)
        .await?;

    let Answer::Error { error_type, body } = answer else {
        return Err(format!("expected an error answer, got {answer:?}").into());
    };
    assert_eq!(error_type, "sfn_callback.Permanent");
    assert!(body.contains("InvalidToken"), "{body}");
    assert!(
        !body.contains("unknown-token-for-this-peer"),
        "the token is not echoed: {body}"
    );
    Ok(())
}
