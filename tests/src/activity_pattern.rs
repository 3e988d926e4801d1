//! The activity pattern on localstack (moto has no `GetActivityTask`,
//! docs/local-peers.md): an activity, and `statemachines/activity.asl.json`
//! whose task waits on it until a worker polling the activity completes it.

use aws_sdk_sfn::Client;

use crate::{Result, aws_error, statemachine};

#[derive(Debug)]
pub struct ActivityPattern {
    pub activity: String,
    pub state_machine: String,
}

impl ActivityPattern {
    /// Creates the activity `{name}-work` and the state machine `name` on it.
    pub async fn create(sfn: &Client, name: &str) -> Result<Self> {
        let activity = sfn
            .create_activity()
            .name(format!("{name}-work"))
            .send()
            .await
            .map_err(|err| aws_error("create activity", err))?
            .activity_arn()
            .to_owned();
        let definition = statemachine::definition("activity", &[("ActivityArn", &activity)])?;
        let state_machine = statemachine::create(sfn, name, &definition).await?;
        Ok(Self {
            activity,
            state_machine,
        })
    }
}
