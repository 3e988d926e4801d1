"""The deploy template's safe defaults, asserted on the CloudFormation that SAM
makes of template.yaml (aws-sam-translator, offline), so that an edit that
drops one fails CI. The second half breaks each default in a copy of the
template and proves that its check reports it.

Run by `make lint`; alone: `.venv-lint/bin/python -m pytest tests/template`.
"""

from __future__ import annotations

import base64
import re
import string
import tomllib
from typing import Any, Callable

import pytest

import checks
import samtemplate

ROOT = samtemplate.ROOT


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    return samtemplate.load()


@pytest.fixture(scope="session")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return samtemplate.transform(sam)


# --------------------------------------------------------- the safe defaults


def test_every_sqs_event_source_reports_batch_item_failures_with_a_batch_size_and_a_concurrency_cap(cfn):
    assert checks.sqs_batch_failures(cfn) == []
    triggered = {checks.binary(checks.functions(cfn)[f]) for _, f in checks.sqs_mappings(cfn).values()}
    assert triggered == {"sqs-callback", "sqs-worker"}


# The safe defaults that one check proves on its own, each named by what it keeps true.
SAFE_DEFAULTS: list[tuple[str, Callable[[dict], list[str]]]] = [
    ("every_queue_a_function_drains_stays_invisible_for_six_times_the_function_timeout", checks.sqs_visibility),
    ("every_queue_redrives_to_a_dead_letter_queue_after_at_least_three_receives", checks.sqs_redrive),
    ("sns_callback_retries_failed_events_then_sends_them_to_an_on_failure_queue", checks.sns_on_failure),
    ("no_policy_statement_anywhere_has_a_wildcard_action", checks.no_wildcard_actions),
    ("send_task_actions_are_granted_exactly_to_the_functions_that_complete_tokens", checks.send_task_grants),
    ("only_approval_notifier_may_send_email_and_only_from_the_sender_identity", checks.ses_send_grants),
    ("only_the_two_approval_functions_may_read_the_link_key_secret", checks.link_key_readers),
    ("every_function_is_an_arm64_bootstrap_on_provided_al2023_that_logs_json", checks.function_runtime),
    ("function_roles_carry_no_managed_policy_beyond_logging_and_sqs_polling", checks.managed_policies),
    ("each_approval_function_may_use_only_its_own_item_actions_on_the_approval_table", checks.approval_table_grants),
]


@pytest.mark.parametrize("check", [pytest.param(c, id=name) for name, c in SAFE_DEFAULTS])
def test_the_template_keeps_the_safe_default(cfn, check):
    assert check(cfn) == []


def test_the_approval_table_is_on_demand_recoverable_encrypted_expiring_and_kept(cfn):
    assert checks.approval_table_settings(cfn) == []
    assert cfn["Outputs"]["ApprovalTableName"]["Value"] == {"Ref": next(iter(checks.approval_tables(cfn)))}


def test_approvers_allowed_accepts_addresses_and_domains_and_refuses_what_could_break_out(sam):
    pattern = sam["Parameters"]["ApproversAllowed"]["AllowedPattern"]
    for good in ["a@example.com", "@example.com", "a.b+c@example.com,@ops.example.org"]:
        assert re.fullmatch(pattern, good), good
    for bad in ["", "example.com", "a@example.com,", "a@example.com, b@example.com", "@example", "a'@example.com"]:
        assert not re.fullmatch(pattern, bad), bad


def test_every_dead_letter_target_and_failure_destination_is_a_queue_of_the_template(cfn):
    assert checks.dead_letter_queues_exist(cfn) == []
    assert len(checks.dead_letter_targets(cfn)) >= 4  # work, callback and worker queues, sns-callback


def test_every_state_machine_logs_errors_without_execution_data(cfn):
    assert checks.state_machine_logging(cfn) == []
    assert len(checks.resources(cfn, "AWS::StepFunctions::StateMachine")) == 5


def test_the_activity_worker_policy_may_poll_only_the_activity_and_complete_its_tasks(cfn):
    assert checks.activity_worker_grants(cfn) == []
    (policy,) = checks.activity_worker_policies(cfn)
    (activity,) = checks.activities(cfn)
    outputs = cfn["Outputs"]
    assert outputs["ActivityArn"]["Value"] == {"Ref": activity}
    assert outputs["ActivityWorkerPolicyArn"]["Value"] == {"Ref": policy}


def test_every_definition_is_fully_substituted_and_its_callback_tasks_time_out_and_catch_every_error(cfn):
    assert checks.definition_files(cfn, ROOT) == []
    files = {path.name for path, _ in checks.definitions(cfn, ROOT).values()}
    assert files == {p.name for p in (ROOT / "statemachines").glob("*.asl.json")}


def test_each_state_machine_may_call_exactly_what_its_definition_calls(cfn):
    assert checks.state_machine_permissions(cfn, ROOT) == []


def test_every_function_crate_is_deployed_from_its_own_binary(cfn):
    crates = set()
    for manifest in (ROOT / "functions").glob("*/Cargo.toml"):
        if (manifest.parent / "src" / "main.rs").is_file():
            crates.add(tomllib.loads(manifest.read_text())["package"]["name"])
    deployed = [checks.binary(f) for f in checks.functions(cfn).values()]
    assert sorted(deployed) == sorted(crates | set(checks.SEND_TASK_BY_BINARY) | checks.LINK_KEY_READERS)


def test_approval_links_point_at_approval_http_whose_url_needs_no_auth(cfn):
    http = checks.function_named(cfn, "approval-http")
    notifier = checks.functions(cfn)[checks.function_named(cfn, "approval-notifier")]
    urls = checks.resources(cfn, "AWS::Lambda::Url")
    assert [checks.target(checks.props(u)["TargetFunctionArn"]) for u in urls.values()] == [http]
    (url_id, url), = urls.items()
    assert checks.props(url)["AuthType"] == "NONE"
    base_url = checks.props(notifier)["Environment"]["Variables"]["APPROVAL_BASE_URL"]
    assert base_url == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_the_public_approval_page_runs_on_at_most_approval_http_concurrency_instances(cfn):
    assert checks.public_url_concurrency(cfn) == []
    http = checks.functions(cfn)[checks.function_named(cfn, "approval-http")]
    assert checks.props(http)["ReservedConcurrentExecutions"] == {"Ref": "ApprovalHttpConcurrency"}
    assert cfn["Parameters"]["ApprovalHttpConcurrency"]["Default"] == 10


def test_every_log_group_keeps_logs_for_a_limited_time(cfn):
    groups = checks.resources(cfn, "AWS::Logs::LogGroup")
    used = [checks.target(checks.props(f)["LoggingConfig"].get("LogGroup")) for f in checks.functions(cfn).values()]
    for machine in checks.resources(cfn, "AWS::StepFunctions::StateMachine").values():
        for destination in checks.props(machine)["LoggingConfiguration"]["Destinations"]:
            used.append(checks.target(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]))
    assert sorted(used) == sorted(groups)
    assert all(checks.props(g).get("RetentionInDays") for g in groups.values())


def test_worker_heartbeat_interval_is_a_third_of_every_allowed_heartbeat_seconds(sam):
    allowed = sam["Parameters"]["HeartbeatSeconds"]["AllowedValues"]
    intervals = sam["Mappings"]["HeartbeatIntervals"]
    assert sorted(intervals, key=int) == [str(v) for v in allowed]
    for seconds in allowed:
        assert 3 * intervals[str(seconds)]["IntervalSeconds"] == seconds
    # The task's HeartbeatSeconds must stay under its TimeoutSeconds (3,600).
    assert max(allowed) < 3600


def test_default_approvers_that_could_break_out_of_the_definition_are_refused_at_deploy(sam):
    # DefaultApprovers lands inside a quoted intrinsic argument, States.StringSplit('...', ',').
    pattern = sam["Parameters"]["DefaultApprovers"]["AllowedPattern"]
    for good in ["a@example.com", "a.b+c@example.com,d@sub.example.org"]:
        assert re.fullmatch(pattern, good), good
    for bad in ["", "a@example.com, b@example.com", "o'hara@example.com", 'a"@example.com', "a@example.com,", "x"]:
        assert not re.fullmatch(pattern, bad), bad
    assert re.fullmatch(sam["Parameters"]["SenderEmail"]["AllowedPattern"], "approvals@example.com")


def strict_decode(text: str) -> bytes | None:
    """Unpadded base64 as the functions read it: trailing bits must be zero."""
    padded = text + "=" * (-len(text) % 4)
    decoded = base64.b64decode(padded, validate=True)
    return decoded if base64.b64encode(decoded).decode().rstrip("=") == text else None


def test_generated_link_key_secret_always_decodes_to_a_32_byte_key_with_over_128_random_bits(sam):
    generate = sam["Resources"]["LinkKeySecret"]["Properties"]["GenerateSecretString"]
    assert (generate["SecretStringTemplate"], generate["GenerateStringKey"]) == ("{}", "current")
    assert generate["ExcludePunctuation"] is True and generate["IncludeSpace"] is False
    alphabet = sorted(set(string.ascii_letters + string.digits) - set(generate["ExcludeCharacters"]))
    length = generate["PasswordLength"]
    # Any character may land anywhere, the last one included.
    for last in alphabet:
        for fill in alphabet:
            key = strict_decode(fill * (length - 1) + last)
            assert key is not None and len(key) == 32, (fill, last)
    assert len(alphabet) ** length >= 2**128
    # Why the alphabet is cut: letters and digits alone would fail 3 times in 4.
    assert strict_decode("A" * 42 + "B") is None


# ------------------------------------------- each check reports what it guards


def properties(sam, resource):
    return sam["Resources"][resource]["Properties"]


def event(sam, function, name):
    return properties(sam, function)["Events"][name]["Properties"]


def statement(sam, function, sid):
    for policy in properties(sam, function)["Policies"]:
        for s in policy.get("Statement", []):
            if s.get("Sid") == sid:
                return s
    raise KeyError(sid)


def policy_statement(sam, policy, sid):
    for s in properties(sam, policy)["PolicyDocument"]["Statement"]:
        if s.get("Sid") == sid:
            return s
    raise KeyError(sid)


def set_prop(resource, key, value):
    def mutate(sam):
        properties(sam, resource)[key] = value

    return mutate


MUTATIONS: list[tuple[str, Callable[[dict], None], Callable[[dict], list[str]], str]] = [
    ("sqs-callback-drops-ReportBatchItemFailures", lambda sam: event(sam, "SqsCallbackFunction", "Callbacks").pop("FunctionResponseTypes"),
     checks.sqs_batch_failures, "lacks ReportBatchItemFailures"),
    ("misspelled-ReportBatchItemFailure", lambda sam: event(sam, "SqsWorkerFunction", "Tasks").update(FunctionResponseTypes=["ReportBatchItemFailure"]),
     checks.sqs_batch_failures, "lacks ReportBatchItemFailures"),
    ("sqs-event-without-concurrency-cap", lambda sam: event(sam, "SqsCallbackFunction", "Callbacks").pop("ScalingConfig"),
     checks.sqs_batch_failures, "no ScalingConfig.MaximumConcurrency"),
    ("callback-queue-visibility-under-6x-timeout", set_prop("CallbackQueue", "VisibilityTimeout", 179),
     checks.sqs_visibility, "VisibilityTimeout 179 < 6 x SqsCallbackFunction Timeout 30"),
    ("worker-timeout-raised-past-its-queue", set_prop("SqsWorkerFunction", "Timeout", 901),
     checks.sqs_visibility, "WorkerQueue: VisibilityTimeout 5400"),
    ("maxReceiveCount-2", lambda sam: properties(sam, "WorkerQueue")["RedrivePolicy"].update(maxReceiveCount=2),
     checks.sqs_redrive, "WorkerQueue: maxReceiveCount 2 < 3"),
    ("queue-without-redrive", lambda sam: properties(sam, "WorkQueue").pop("RedrivePolicy"),
     checks.sqs_redrive, "WorkQueue: no RedrivePolicy"),
    ("redrive-to-a-missing-queue", lambda sam: properties(sam, "CallbackQueue")["RedrivePolicy"].update(deadLetterTargetArn="arn:aws:sqs:us-east-1:123456789012:elsewhere"),
     checks.dead_letter_queues_exist, "CallbackQueue: dead-letter target"),
    ("sns-callback-without-on-failure", lambda sam: properties(sam, "SnsCallbackFunction")["EventInvokeConfig"].pop("DestinationConfig"),
     checks.sns_on_failure, "no OnFailure destination"),
    ("sns-callback-never-retries", lambda sam: properties(sam, "SnsCallbackFunction")["EventInvokeConfig"].update(MaximumRetryAttempts=0),
     checks.sns_on_failure, "retries nothing"),
    ("state-machine-logs-execution-data", lambda sam: properties(sam, "ApprovalStateMachine")["Logging"].update(IncludeExecutionData=True),
     checks.state_machine_logging, "ApprovalStateMachine: IncludeExecutionData is True"),
    ("wildcard-action", lambda sam: statement(sam, "ApprovalHttpFunction", "DecideApprovalTasks").update(Action="states:*"),
     checks.no_wildcard_actions, "'states:*'"),
    ("approval-http-gains-heartbeat", lambda sam: statement(sam, "ApprovalHttpFunction", "DecideApprovalTasks")["Action"].append("states:SendTaskHeartbeat"),
     checks.send_task_grants, "approval-http: SendTask* granted"),
    ("state-machine-gains-send-task-success", lambda sam: statement(sam, "ApprovalStateMachine", "InvokeNotifier").update(Action=["lambda:InvokeFunction", "states:SendTaskSuccess"]),
     checks.send_task_grants, "ApprovalStateMachine: SendTask* granted"),
    ("email-from-any-identity", lambda sam: statement(sam, "ApprovalNotifierFunction", "SendFromSenderIdentity").update(Resource="*"),
     checks.ses_send_grants, "not the sender identity"),
    ("sqs-callback-reads-the-link-key", lambda sam: properties(sam, "SqsCallbackFunction")["Policies"].append({"Statement": [statement(sam, "ApprovalHttpFunction", "ReadLinkKeys")]}),
     checks.link_key_readers, "sqs-callback: may call ['secretsmanager:GetSecretValue']"),
    ("public-url-without-reserved-concurrency", lambda sam: properties(sam, "ApprovalHttpFunction").pop("ReservedConcurrentExecutions"),
     checks.public_url_concurrency, "ApprovalHttpFunction: a Function URL without auth and no ReservedConcurrentExecutions"),
    ("approval-http-concurrency-may-be-0", lambda sam: sam["Parameters"]["ApprovalHttpConcurrency"].update(MinValue=0),
     checks.public_url_concurrency, "ApprovalHttpFunction: ReservedConcurrentExecutions may be 0"),
    ("x86_64-function", set_prop("SqsWorkerFunction", "Architectures", ["x86_64"]),
     checks.function_runtime, "SqsWorkerFunction: Architectures"),
    ("wrong-runtime-for-all", lambda sam: sam["Globals"]["Function"].update(Runtime="provided.al2"),
     checks.function_runtime, "Runtime 'provided.al2'"),
    ("placeholder-without-substitution", lambda sam: properties(sam, "ApprovalStateMachine")["DefinitionSubstitutions"].pop("DefaultApprovers"),
     lambda cfn: checks.definition_files(cfn, ROOT), "has ${DefaultApprovers} but DefinitionSubstitutions has no DefaultApprovers"),
    ("activity-worker-polls-every-activity", lambda sam: policy_statement(sam, "ActivityWorkerPolicy", "PollWorkActivity").update(Resource="*"),
     checks.activity_worker_grants, 'states:GetActivityTask on "*", not an activity of this template'),
    ("activity-worker-may-start-executions", lambda sam: policy_statement(sam, "ActivityWorkerPolicy", "CompleteActivityTasks")["Action"].append("states:StartExecution"),
     checks.activity_worker_grants, "ActivityWorkerPolicy: allows"),
    ("activity-without-worker-policy", lambda sam: [sam[section].pop(key) for section, key in [("Resources", "ActivityWorkerPolicy"), ("Outputs", "ActivityWorkerPolicyArn")]],
     checks.activity_worker_grants, "WorkActivity: no worker policy may poll it"),
    ("sqs-worker-polls-the-activity", lambda sam: properties(sam, "SqsWorkerFunction")["Policies"].append({"Statement": [policy_statement(sam, "ActivityWorkerPolicy", "PollWorkActivity")]}),
     checks.activity_worker_grants, "grants states:GetActivityTask outside the activity worker's policy"),
    ("activity-task-pointed-at-a-queue", lambda sam: properties(sam, "ActivityStateMachine")["DefinitionSubstitutions"].update(ActivityArn={"Ref": "WorkQueue"}),
     lambda cfn: checks.state_machine_permissions(cfn, ROOT), "ActivityStateMachine: DoWork uses stand-in-for-ActivityArn, which this check does not know"),
    ("state-machine-sends-to-the-wrong-queue", lambda sam: statement(sam, "SqsCallbackStateMachine", "SendWork").update(Resource={"Fn::GetAtt": ["CallbackQueue", "Arn"]}),
     lambda cfn: checks.state_machine_permissions(cfn, ROOT), "may not sqs:SendMessage on WorkQueue"),
    ("approval-table-without-point-in-time-recovery", lambda sam: properties(sam, "ApprovalTable").pop("PointInTimeRecoverySpecification"),
     checks.approval_table_settings, "ApprovalTable: no point-in-time recovery"),
    ("approval-table-without-ttl", lambda sam: properties(sam, "ApprovalTable")["TimeToLiveSpecification"].update(Enabled=False),
     checks.approval_table_settings, "ApprovalTable: TTL not enabled on ttl"),
    ("approval-table-deleted-with-the-stack", lambda sam: sam["Resources"]["ApprovalTable"].pop("DeletionPolicy"),
     checks.approval_table_settings, "ApprovalTable: DeletionPolicy None, not Retain"),
    ("notifier-may-scan-the-table", lambda sam: statement(sam, "ApprovalNotifierFunction", "RecordApprovalRequests")["Action"].append("dynamodb:Scan"),
     checks.approval_table_grants, "approval-notifier: table actions"),
    ("approval-http-on-every-table", lambda sam: statement(sam, "ApprovalHttpFunction", "RecordVotes").update(Resource="*"),
     checks.approval_table_grants, 'on "*", not the approval table'),
    ("sqs-callback-reads-the-approval-table", lambda sam: properties(sam, "SqsCallbackFunction")["Policies"].append(
        {"Statement": [statement(sam, "ApprovalHttpFunction", "RecordVotes")]}),
     checks.approval_table_grants, "sqs-callback: table actions"),
]


@pytest.mark.parametrize(
    "mutate, check, reported",
    [pytest.param(m, c, r, id=name) for name, m, c, r in MUTATIONS],
)
def test_a_template_that_breaks_a_safe_default_is_reported(sam, mutate, check, reported):
    """The check passes on template.yaml (above) and names the mistake in a broken copy."""
    broken = samtemplate.load()
    mutate(broken)
    assert broken != sam
    cfn = samtemplate.transform(broken)
    problems = check(cfn)
    assert any(reported in p for p in problems), problems
