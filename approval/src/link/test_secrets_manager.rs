//! A Secrets Manager double: replayed answers and a client that reads them
//! without retrying. Shared by the key modules' unit tests and the crate's
//! integration tests (their support module includes this file).

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use sfn_callback_test_support::{json_service_answer, replay_sdk_config};

/// A replayed Secrets Manager answer: `status` with the JSON `body`.
pub fn answer(status: u16, body: &str) -> ReplayEvent {
    json_service_answer(
        "https://secretsmanager.us-east-1.amazonaws.com/",
        "application/x-amz-json-1.1",
        status,
        body,
    )
}

/// A client whose calls get the answers of `replay`, in order.
pub fn client(replay: &StaticReplayClient) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&replay_sdk_config(replay.clone()))
}
