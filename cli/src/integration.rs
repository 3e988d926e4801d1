//! Which service a callback task waits on, named from its resource.

/// The integration of a task resource: `arn:aws:states:::sqs:sendMessage.waitForTaskToken`
/// is `sqs`, `arn:aws:states:::events:putEvents.waitForTaskToken` is `eventbridge`,
/// an activity ARN is `activity`. Anything else keeps the service part as it is.
pub fn of_resource(resource: &str) -> String {
    if is_activity_arn(resource) {
        return "activity".to_owned();
    }
    let service = resource
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(4))
        .unwrap_or(resource);
    of_service(service.split(['.', ':']).next().unwrap_or(service))
}

/// The integration of a history event's `resourceType` (`sqs`, `events`, ...).
pub fn of_service(service: &str) -> String {
    match service {
        "events" => "eventbridge".to_owned(),
        "states" => "stepfunctions".to_owned(),
        other => other.to_owned(),
    }
}

/// A `.waitForTaskToken` service integration: the task waits for a callback.
pub fn waits_for_token(resource: &str) -> bool {
    resource.ends_with(".waitForTaskToken")
}

/// `arn:<partition>:states:<region>:<account>:activity:<name>`.
pub fn is_activity_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.split(':').collect();
    parts.len() >= 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "activity"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrations_are_named_from_the_resource() {
        for (resource, integration) in [
            ("arn:aws:states:::sqs:sendMessage.waitForTaskToken", "sqs"),
            ("arn:aws:states:::sns:publish.waitForTaskToken", "sns"),
            ("arn:aws:states:::lambda:invoke.waitForTaskToken", "lambda"),
            (
                "arn:aws:states:::events:putEvents.waitForTaskToken",
                "eventbridge",
            ),
            ("arn:aws:states:::ecs:runTask.waitForTaskToken", "ecs"),
            (
                "arn:aws:states:us-east-1:123456789012:activity:work",
                "activity",
            ),
        ] {
            assert_eq!(of_resource(resource), integration, "{resource}");
        }
    }

    #[test]
    fn only_wait_for_task_token_resources_wait() {
        assert!(waits_for_token(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
        assert!(!waits_for_token("arn:aws:states:::sqs:sendMessage"));
        assert!(!waits_for_token("arn:aws:states:::lambda:invoke"));
    }
}
