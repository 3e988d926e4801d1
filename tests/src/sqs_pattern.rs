//! The SQS callback pattern on a local peer, as `template.yaml` deploys it: the
//! queue the state machine sends task tokens to, the callback queue (with its
//! DLQ) that `sqs-callback` drains, and `statemachines/sqs-callback.asl.json`.

use crate::Result;
use crate::event_source::{QueuePair, create_queue, create_queue_pair};
use crate::statemachine;

#[derive(Debug)]
pub struct SqsCallbackPattern {
    pub work_queue: String,
    pub callbacks: QueuePair,
    pub state_machine: String,
}

impl SqsCallbackPattern {
    /// Creates `{name}-work`, `{name}-callbacks` (redriving to `{name}-callbacks-dlq`
    /// after `max_receive_count` receives) and the state machine `name`.
    pub async fn create(
        sfn: &aws_sdk_sfn::Client,
        sqs: &aws_sdk_sqs::Client,
        name: &str,
        visibility_timeout_s: u32,
        max_receive_count: u32,
    ) -> Result<Self> {
        let work_queue = create_queue(sqs, &format!("{name}-work"), &[]).await?;
        let callbacks = create_queue_pair(
            sqs,
            &format!("{name}-callbacks"),
            visibility_timeout_s,
            max_receive_count,
        )
        .await?;
        let definition =
            statemachine::definition("sqs-callback", &[("WorkQueueUrl", &work_queue)])?;
        let state_machine = statemachine::create(sfn, name, &definition).await?;
        Ok(Self {
            work_queue,
            callbacks,
            state_machine,
        })
    }
}
