"""The safe defaults of the deployed template, as checks over the CloudFormation
that SAM makes of template.yaml. Each check returns a list of problems, empty
when the template is right, so a test can also prove that a broken copy is
reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from samtemplate import PLACEHOLDER, STAND_IN, substituted

Template = dict[str, Any]

SEND_TASK = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
SUCCESS_FAILURE = {"states:SendTaskSuccess", "states:SendTaskFailure"}

# Which function (by its Cargo binary) may call which SendTask* action, and why.
SEND_TASK_BY_BINARY = {
    # Relay SUCCEEDED, FAILED and HEARTBEAT callback messages.
    "sqs-callback": SEND_TASK,
    "sns-callback": SEND_TASK,
    # Completes its own tasks and beats while it works.
    "sqs-worker": SEND_TASK,
    # The approver's decision: success or ApprovalRejected.
    "approval-http": SUCCESS_FAILURE,
    # A request naming an approver that is not allowed fails its own task.
    "approval-notifier": {"states:SendTaskFailure"},
}
# The activity worker runs outside the stack; its managed policy may poll the
# template's activities and complete their tasks, and nothing more.
GET_ACTIVITY_TASK = "states:GetActivityTask"
ACTIVITY_WORKER_ACTIONS = {GET_ACTIVITY_TASK} | SEND_TASK
LINK_KEY_READERS = {"approval-notifier", "approval-http"}
EMAIL_SENDERS = {"approval-notifier"}
# The approval table's item actions, by function: each gets only what it uses.
TABLE_ACTIONS_BY_BINARY = {
    "approval-notifier": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    "approval-http": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"},
}
SQS_VISIBILITY_FACTOR = 6
MIN_MAX_RECEIVE_COUNT = 3
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
# The managed policies SAM attaches: logging for every function, polling for SQS triggers.
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_POLLING = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


# ------------------------------------------------------------------ navigation


def resources(cfn: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in cfn["Resources"].items() if r["Type"] == kind}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def target(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
    return None


def functions(cfn: Template) -> dict[str, dict[str, Any]]:
    return resources(cfn, "AWS::Lambda::Function")


def binary(function: dict[str, Any]) -> str | None:
    return (function.get("Metadata") or {}).get("BuildProperties", {}).get("Binary")


def function_named(cfn: Template, name: str) -> str | None:
    """The logical id of the function that deploys the binary `name`."""
    return next((lid for lid, f in functions(cfn).items() if binary(f) == name), None)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    return [s for s in as_list((document or {}).get("Statement", [])) if isinstance(s, dict)]


def role_statements(cfn: Template, role: str) -> list[dict[str, Any]]:
    """Inline statements of `role`, plus those of any IAM policy attached to it."""
    found = []
    for policy in props(cfn["Resources"].get(role, {})).get("Policies", []):
        found += statements(policy.get("PolicyDocument"))
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in resources(cfn, kind).values():
            if role in [target(r) for r in props(policy).get("Roles", [])]:
                found += statements(props(policy).get("PolicyDocument"))
    return found


def principals(cfn: Template) -> dict[str, str]:
    """Every function and state machine, by a readable name, to its role's logical id."""
    named = {}
    for lid, function in functions(cfn).items():
        named[binary(function) or lid] = target(props(function).get("Role"))
    for lid, machine in resources(cfn, "AWS::StepFunctions::StateMachine").items():
        named[lid] = target(props(machine).get("RoleArn"))
    return named


def allowed(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts if s.get("Effect") == "Allow" for a in as_list(s.get("Action", []))}


def activities(cfn: Template) -> dict[str, dict[str, Any]]:
    return resources(cfn, "AWS::StepFunctions::Activity")


def activity_worker_policies(cfn: Template) -> dict[str, dict[str, Any]]:
    """The managed policies meant for an activity worker: those that grant states:GetActivityTask."""
    return {
        lid: policy
        for lid, policy in resources(cfn, "AWS::IAM::ManagedPolicy").items()
        if GET_ACTIVITY_TASK in allowed(statements(props(policy).get("PolicyDocument")))
    }


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)


def policy_statements_anywhere(cfn: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in the template: role and resource policies alike."""
    for lid, resource in cfn["Resources"].items():
        for node in walk(resource):
            if isinstance(node, dict) and "Statement" in node:
                for statement in statements(node):
                    yield lid, statement


def number(value: Any, default: int) -> int | None:
    """A literal number (as CloudFormation reads it), the default when absent, None for an intrinsic."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def sqs_mappings(cfn: Template) -> dict[str, tuple[str | None, str | None]]:
    """Each SQS event source mapping to (queue, function) logical ids."""
    queues = resources(cfn, "AWS::SQS::Queue")
    found = {}
    for lid, mapping in resources(cfn, "AWS::Lambda::EventSourceMapping").items():
        queue = target(props(mapping).get("EventSourceArn"))
        if queue in queues:
            found[lid] = (queue, target(props(mapping).get("FunctionName")))
    return found


def sns_triggered(cfn: Template) -> set[str]:
    """Functions an SNS topic invokes."""
    return {
        target(props(s).get("Endpoint"))
        for s in resources(cfn, "AWS::SNS::Subscription").values()
        if props(s).get("Protocol") == "lambda"
    }


def dead_letter_targets(cfn: Template) -> dict[str, Any]:
    """Where failed work goes: each redrive policy's and OnFailure destination's target, by its source."""
    found = {}
    for lid, queue in resources(cfn, "AWS::SQS::Queue").items():
        redrive = props(queue).get("RedrivePolicy")
        if isinstance(redrive, dict):
            found[lid] = redrive.get("deadLetterTargetArn")
    for lid, config in resources(cfn, "AWS::Lambda::EventInvokeConfig").items():
        on_failure = props(config).get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            found[lid] = on_failure.get("Destination")
    return found


# ---------------------------------------------------------------------- checks


def sqs_batch_failures(cfn: Template) -> list[str]:
    """Every SQS event source reports partial batch failures, with a batch size and a concurrency cap of at least 2."""
    problems = []
    mappings = sqs_mappings(cfn)
    if not mappings:
        problems.append("no SQS event source mapping at all")
    parameters = cfn.get("Parameters", {})
    for lid, _ in mappings.items():
        p = props(cfn["Resources"][lid])
        if "ReportBatchItemFailures" not in (p.get("FunctionResponseTypes") or []):
            problems.append(f"{lid}: FunctionResponseTypes lacks ReportBatchItemFailures")
        if p.get("BatchSize") is None:
            problems.append(f"{lid}: no BatchSize")
        cap = (p.get("ScalingConfig") or {}).get("MaximumConcurrency")
        parameter = parameters.get(target(cap) or "", {})
        if cap is None:
            problems.append(f"{lid}: no ScalingConfig.MaximumConcurrency")
        elif not parameter or number(parameter.get("MinValue"), 0) < 2:
            problems.append(f"{lid}: MaximumConcurrency is not a parameter with MinValue >= 2")
    return problems


def sqs_visibility(cfn: Template) -> list[str]:
    """Each queue a function drains stays invisible for at least 6x that function's Timeout."""
    problems = []
    lambdas = functions(cfn)
    for lid, (queue, function) in sqs_mappings(cfn).items():
        visibility = number(props(cfn["Resources"][queue]).get("VisibilityTimeout"), SQS_DEFAULT_VISIBILITY_TIMEOUT)
        timeout = number(props(lambdas.get(function, {})).get("Timeout"), LAMBDA_DEFAULT_TIMEOUT)
        if visibility is None or timeout is None:
            problems.append(f"{lid}: {queue}'s VisibilityTimeout or {function}'s Timeout is not a literal number")
        elif visibility < SQS_VISIBILITY_FACTOR * timeout:
            problems.append(
                f"{queue}: VisibilityTimeout {visibility} < {SQS_VISIBILITY_FACTOR} x {function} Timeout {timeout}"
            )
    return problems


def sqs_redrive(cfn: Template) -> list[str]:
    """Every queue that is not itself a dead-letter queue redrives to one after at least 3 receives."""
    problems = []
    queues = resources(cfn, "AWS::SQS::Queue")
    dead_letter = {target(t) for t in dead_letter_targets(cfn).values()}
    for lid, queue in queues.items():
        if lid in dead_letter:
            continue
        redrive = props(queue).get("RedrivePolicy")
        if not isinstance(redrive, dict):
            problems.append(f"{lid}: no RedrivePolicy (and it is no dead-letter queue)")
            continue
        count = number(redrive.get("maxReceiveCount"), 0)
        if count is None or count < MIN_MAX_RECEIVE_COUNT:
            problems.append(f"{lid}: maxReceiveCount {redrive.get('maxReceiveCount')} < {MIN_MAX_RECEIVE_COUNT}")
    return problems


def dead_letter_queues_exist(cfn: Template) -> list[str]:
    """Every redrive target and OnFailure destination is a queue this template creates."""
    queues = resources(cfn, "AWS::SQS::Queue")
    return [
        f"{source}: dead-letter target {json.dumps(value)} is not a queue of this template"
        for source, value in dead_letter_targets(cfn).items()
        if target(value) not in queues
    ]


def sns_on_failure(cfn: Template) -> list[str]:
    """Every SNS-triggered function retries and then sends failed events to a queue."""
    problems = []
    triggered = sns_triggered(cfn)
    if function_named(cfn, "sns-callback") not in triggered:
        problems.append("sns-callback is not subscribed to any topic")
    configs = {target(props(c).get("FunctionName")): props(c) for c in resources(cfn, "AWS::Lambda::EventInvokeConfig").values()}
    queues = resources(cfn, "AWS::SQS::Queue")
    for function in sorted(f for f in triggered if f):
        config = configs.get(function)
        if config is None:
            problems.append(f"{function}: no EventInvokeConfig")
            continue
        destination = (config.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
        if target(destination) not in queues:
            problems.append(f"{function}: no OnFailure destination to an SQS queue of this template")
        retries = number(config.get("MaximumRetryAttempts"), 2)
        if retries is None or retries < 1:
            problems.append(f"{function}: MaximumRetryAttempts {config.get('MaximumRetryAttempts')} retries nothing")
    return problems


def state_machine_logging(cfn: Template) -> list[str]:
    """Every state machine logs, to a log group, without execution data (it holds task tokens)."""
    problems = []
    machines = resources(cfn, "AWS::StepFunctions::StateMachine")
    if not machines:
        problems.append("no state machine at all")
    for lid, machine in machines.items():
        logging = props(machine).get("LoggingConfiguration")
        if not logging:
            problems.append(f"{lid}: no LoggingConfiguration")
            continue
        if logging.get("IncludeExecutionData") is not False:
            problems.append(f"{lid}: IncludeExecutionData is {logging.get('IncludeExecutionData')!r}, not false")
        if logging.get("Level") not in ("ALL", "ERROR", "FATAL"):
            problems.append(f"{lid}: log Level {logging.get('Level')!r} logs nothing")
        if not logging.get("Destinations"):
            problems.append(f"{lid}: no log destination")
    return problems


def no_wildcard_actions(cfn: Template) -> list[str]:
    """No statement anywhere uses a wildcard action or NotAction."""
    problems = []
    for lid, statement in policy_statements_anywhere(cfn):
        if "NotAction" in statement:
            problems.append(f"{lid}: NotAction {statement['NotAction']}")
        for action in as_list(statement.get("Action", [])):
            if not isinstance(action, str) or "*" in action or "?" in action:
                problems.append(f"{lid}: wildcard or non-literal action {action!r}")
    return problems


def send_task_grants(cfn: Template) -> list[str]:
    """SendTask* is granted exactly to the functions that call it and to the
    activity worker's policy (activity_worker_grants checks that), and nowhere else."""
    problems = []
    named = principals(cfn)
    for name, role in sorted(named.items()):
        granted = allowed(role_statements(cfn, role)) & SEND_TASK
        expected = SEND_TASK_BY_BINARY.get(name, set())
        if granted != expected:
            problems.append(f"{name}: SendTask* granted {sorted(granted)}, expected {sorted(expected)}")
    for name in sorted(set(SEND_TASK_BY_BINARY) - set(named)):
        problems.append(f"{name}: no such function in the template")
    roles = set(named.values())
    workers = set(activity_worker_policies(cfn))
    for lid, statement in policy_statements_anywhere(cfn):
        if lid not in roles | workers and set(as_list(statement.get("Action", []))) & SEND_TASK:
            problems.append(f"{lid}: grants SendTask* outside the functions' roles")
    return problems


def activity_worker_grants(cfn: Template) -> list[str]:
    """Every activity has a worker policy; a worker policy allows exactly
    GetActivityTask on activities of this template and SendTask* on "*" (which
    takes no resource-level permission), nothing else and no Deny tricks; and no
    other statement anywhere may poll an activity."""
    problems = []
    acts = activities(cfn)
    if not acts:
        problems.append("no activity at all")
    policies = activity_worker_policies(cfn)
    polled = set()
    for lid, policy in sorted(policies.items()):
        stmts = statements(props(policy).get("PolicyDocument"))
        granted = allowed(stmts)
        if granted != ACTIVITY_WORKER_ACTIONS:
            problems.append(f"{lid}: allows {sorted(granted)}, expected {sorted(ACTIVITY_WORKER_ACTIONS)}")
        for statement in stmts:
            if statement.get("Effect") != "Allow" or "NotResource" in statement:
                problems.append(f"{lid}: a statement that is not a plain Allow on Resource")
                continue
            actions = set(as_list(statement.get("Action", [])))
            for resource in as_list(statement.get("Resource")):
                if GET_ACTIVITY_TASK in actions:
                    if target(resource) in acts:
                        polled.add(target(resource))
                    else:
                        problems.append(f"{lid}: {GET_ACTIVITY_TASK} on {json.dumps(resource)}, not an activity of this template")
                if actions & SEND_TASK and resource != "*":
                    problems.append(f"{lid}: SendTask* on {json.dumps(resource)}; it takes only \"*\"")
    for activity in sorted(set(acts) - polled):
        problems.append(f"{activity}: no worker policy may poll it")
    for lid, statement in policy_statements_anywhere(cfn):
        if lid not in policies and GET_ACTIVITY_TASK in as_list(statement.get("Action", [])):
            problems.append(f"{lid}: grants {GET_ACTIVITY_TASK} outside the activity worker's policy")
    return problems


def ses_send_grants(cfn: Template) -> list[str]:
    """Only approval-notifier may send email, and only from the sender identity."""
    problems = []
    sender_arn = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"
    for name, role in sorted(principals(cfn).items()):
        for statement in role_statements(cfn, role):
            ses_actions = [a for a in as_list(statement.get("Action", [])) if str(a).startswith("ses:")]
            if not ses_actions:
                continue
            if name not in EMAIL_SENDERS:
                problems.append(f"{name}: may call {ses_actions}")
            for resource in as_list(statement.get("Resource")):
                text = json.dumps(resource)
                if resource == "*" or sender_arn not in text or "SenderEmail" not in text:
                    problems.append(f"{name}: {ses_actions} on {text}, not the sender identity")
    notifier = function_named(cfn, "approval-notifier")
    if notifier and "ses:SendEmail" not in allowed(role_statements(cfn, principals(cfn)["approval-notifier"])):
        problems.append("approval-notifier may not call ses:SendEmail")
    return problems


def link_key_readers(cfn: Template) -> list[str]:
    """Only the two approval functions may read a secret, and only the link-key secret they are told about."""
    problems = []
    named = principals(cfn)
    readers = set()
    for name, role in sorted(named.items()):
        for statement in role_statements(cfn, role):
            actions = [a for a in as_list(statement.get("Action", [])) if str(a).startswith("secretsmanager:")]
            if not actions:
                continue
            readers.add(name)
            if name not in LINK_KEY_READERS:
                problems.append(f"{name}: may call {actions}")
                continue
            function = functions(cfn)[function_named(cfn, name)]
            told = props(function).get("Environment", {}).get("Variables", {}).get("LINK_KEY_SECRET_ARN")
            if told is None:
                problems.append(f"{name}: has no LINK_KEY_SECRET_ARN")
            for resource in as_list(statement.get("Resource")):
                if resource != told:
                    problems.append(f"{name}: {actions} on {json.dumps(resource)}, not its LINK_KEY_SECRET_ARN")
    for name in sorted(LINK_KEY_READERS - readers):
        problems.append(f"{name}: may not read the link-key secret")
    told = {
        json.dumps(props(f).get("Environment", {}).get("Variables", {}).get("LINK_KEY_SECRET_ARN"))
        for f in functions(cfn).values()
        if binary(f) in LINK_KEY_READERS
    }
    if len(told) != 1:
        problems.append(f"the approval functions are told different secrets: {sorted(told)}")
    roles = set(named.values())
    for lid, statement in policy_statements_anywhere(cfn):
        actions = as_list(statement.get("Action", []))
        if lid not in roles and any(str(a).startswith("secretsmanager:") for a in actions):
            problems.append(f"{lid}: grants secretsmanager outside the functions' roles")
    return problems


def public_url_concurrency(cfn: Template) -> list[str]:
    """A function anyone on the internet can call (a Function URL without auth)
    runs on reserved concurrency of at least 1, so a flood of requests neither
    scales it without bound nor starves the account's other functions."""
    problems = []
    parameters = cfn.get("Parameters") or {}
    for url in resources(cfn, "AWS::Lambda::Url").values():
        if props(url).get("AuthType") != "NONE":
            continue
        lid = target(props(url).get("TargetFunctionArn"))
        reserved = props(cfn["Resources"].get(lid, {})).get("ReservedConcurrentExecutions")
        if reserved is None:
            problems.append(f"{lid}: a Function URL without auth and no ReservedConcurrentExecutions")
            continue
        parameter = parameters.get(target(reserved) or "", {})
        lowest = parameter.get("MinValue") if parameter else reserved
        if not isinstance(lowest, int) or lowest < 1:
            problems.append(f"{lid}: ReservedConcurrentExecutions may be {lowest} ({json.dumps(reserved)})")
    return problems


def function_runtime(cfn: Template) -> list[str]:
    """Every function is a Rust bootstrap on provided.al2023, arm64, logging JSON."""
    problems = []
    for lid, function in functions(cfn).items():
        p = props(function)
        if p.get("Runtime") != "provided.al2023":
            problems.append(f"{lid}: Runtime {p.get('Runtime')!r}")
        if p.get("Handler") != "bootstrap":
            problems.append(f"{lid}: Handler {p.get('Handler')!r}")
        if p.get("Architectures") != ["arm64"]:
            problems.append(f"{lid}: Architectures {p.get('Architectures')!r}")
        if (p.get("LoggingConfig") or {}).get("LogFormat") != "JSON":
            problems.append(f"{lid}: LogFormat is not JSON")
        metadata = function.get("Metadata") or {}
        if metadata.get("BuildMethod") != "rust-cargolambda" or not binary(function):
            problems.append(f"{lid}: not built by rust-cargolambda with a Binary")
    return problems


def managed_policies(cfn: Template) -> list[str]:
    """Function roles carry only SAM's logging policy, plus SQS polling where an SQS queue triggers them."""
    problems = []
    sqs_functions = {function for _, function in sqs_mappings(cfn).values()}
    for lid, function in functions(cfn).items():
        role = target(props(function).get("Role"))
        arns = props(cfn["Resources"].get(role, {})).get("ManagedPolicyArns", [])
        expected = [BASIC_EXECUTION] + ([SQS_POLLING] if lid in sqs_functions else [])
        if sorted(map(json.dumps, arns)) != sorted(map(json.dumps, expected)):
            problems.append(f"{lid}: managed policies {arns}, expected {expected}")
    return problems


# ---------------------------------------------------------- state machine files


def definitions(cfn: Template, root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each state machine's definition file and substitutions."""
    found = {}
    for lid, machine in resources(cfn, "AWS::StepFunctions::StateMachine").items():
        location = props(machine).get("DefinitionS3Location") or {}
        found[lid] = (root / location.get("Key", "?"), props(machine).get("DefinitionSubstitutions") or {})
    return found


def states_of(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested ones (Parallel branches, Map iterators) included."""
    for name, state in definition.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states_of(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from states_of(state[key])


def definition_files(cfn: Template, root: Path) -> list[str]:
    """Each definition uses exactly the placeholders its DefinitionSubstitutions
    fill and parses once they are; every Next leads to a state, every state but
    a final one has a Next, and there is a final state; every Task catches
    States.ALL, and every callback or activity task has a TimeoutSeconds above
    its HeartbeatSeconds."""
    problems = []
    for lid, (path, substitutions) in sorted(definitions(cfn, root).items()):
        if not path.is_file():
            problems.append(f"{lid}: definition {path} does not exist")
            continue
        text = path.read_text()
        used = set(PLACEHOLDER.findall(text))
        for name in sorted(used - set(substitutions)):
            problems.append(f"{lid}: {path.name} has ${{{name}}} but DefinitionSubstitutions has no {name}")
        for name in sorted(set(substitutions) - used):
            problems.append(f"{lid}: DefinitionSubstitutions has {name}, which {path.name} never uses")
        try:
            definition = json.loads(substituted(text))
        except json.JSONDecodeError as err:
            problems.append(f"{lid}: {path.name} is not JSON once substituted: {err}")
            continue
        problems += [f"{lid}: {p}" for p in _flow(definition, activity_stand_ins(cfn, substitutions))]
    return problems


def activity_stand_ins(cfn: Template, substitutions: dict[str, Any]) -> set[str]:
    """The stand-ins (see samtemplate.substituted) of the placeholders that name an activity of this template."""
    acts = activities(cfn)
    return {f"{STAND_IN}{key}" for key, value in substitutions.items() if target(value) in acts}


def _flow(definition: dict[str, Any], activity_resources: set[str]) -> list[str]:
    problems = []
    states = definition.get("States", {})
    if definition.get("StartAt") not in states:
        problems.append(f"StartAt {definition.get('StartAt')!r} is no state")
    for name, state in states.items():
        kind = state.get("Type")
        nexts = [state.get("Next"), state.get("Default")]
        nexts += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
        for following in filter(None, nexts):
            if following not in states:
                problems.append(f"{name}: Next {following!r} is no state")
        if kind not in ("Succeed", "Fail", "Choice") and not state.get("End") and not state.get("Next"):
            problems.append(f"{name}: neither Next nor End")
        if kind == "Task":
            caught = {e for c in state.get("Catch", []) for e in c.get("ErrorEquals", [])}
            if "States.ALL" not in caught:
                problems.append(f"{name}: no Catch of States.ALL")
            resource = state.get("Resource", "")
            if ".waitForTaskToken" in resource or resource in activity_resources:
                timeout = state.get("TimeoutSeconds")
                if not isinstance(timeout, int):
                    problems.append(f"{name}: a callback or activity task without TimeoutSeconds waits a year")
                heartbeat = state.get("HeartbeatSeconds")
                if isinstance(heartbeat, int) and isinstance(timeout, int) and heartbeat >= timeout:
                    problems.append(f"{name}: HeartbeatSeconds {heartbeat} >= TimeoutSeconds {timeout}")
    if not any(s.get("Type") in ("Succeed", "Fail") or s.get("End") for s in states.values()):
        problems.append("no final state")
    return problems


# What each service integration calls, and the parameter naming its resource.
INTEGRATIONS = {
    "arn:aws:states:::sqs:sendMessage": ("sqs:SendMessage", "QueueUrl"),
    "arn:aws:states:::sns:publish": ("sns:Publish", "TopicArn"),
    "arn:aws:states:::lambda:invoke": ("lambda:InvokeFunction", "FunctionName"),
}
# Step Functions' documented policy for logging to CloudWatch Logs.
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def state_machine_permissions(cfn: Template, root: Path) -> list[str]:
    """Each state machine may call exactly what its tasks call, on exactly the
    resources they name, plus log delivery. An activity task calls nothing: the
    worker polls for it."""
    problems = []
    for lid, (path, substitutions) in sorted(definitions(cfn, root).items()):
        if not path.is_file():
            continue
        try:
            definition = json.loads(substituted(path.read_text()))
        except json.JSONDecodeError:
            continue  # definition_files reports it
        needed: set[tuple[str, str | None]] = set()
        for name, state in states_of(definition):
            if state.get("Type") != "Task":
                continue
            resource = state.get("Resource", "")
            if resource in activity_stand_ins(cfn, substitutions):
                continue
            integration = INTEGRATIONS.get(resource.removesuffix(".waitForTaskToken").removesuffix(".sync"))
            if integration is None:
                problems.append(f"{lid}: {name} uses {resource}, which this check does not know")
                continue
            action, parameter = integration
            value = str(state.get("Parameters", {}).get(parameter, ""))
            key = value.removeprefix(STAND_IN) if value.startswith(STAND_IN) else None
            named = target(substitutions.get(key)) if key else None
            if named is None:
                problems.append(f"{lid}: {name}'s {parameter} is not a substituted resource of this template")
            needed.add((action, named))
        role = target(props(cfn["Resources"][lid]).get("RoleArn"))
        granted: set[tuple[str, str | None]] = set()
        for statement in role_statements(cfn, role):
            for action in as_list(statement.get("Action", [])):
                if action in LOG_DELIVERY:
                    continue
                for resource in as_list(statement.get("Resource")):
                    granted.add((action, target(resource) or json.dumps(resource)))
        for action, named in sorted(needed - granted, key=str):
            problems.append(f"{lid}: may not {action} on {named}, which its definition calls")
        for action, named in sorted(granted - needed, key=str):
            problems.append(f"{lid}: may {action} on {named}, which its definition never calls")
    return problems


def approval_tables(cfn: Template) -> dict[str, dict[str, Any]]:
    return resources(cfn, "AWS::DynamoDB::Table")


def approval_table_settings(cfn: Template) -> list[str]:
    """The approval table: on demand, point-in-time recovery, encrypted, TTL on
    `ttl`, and kept when the stack goes (it is the record of who decided)."""
    problems = []
    tables = approval_tables(cfn)
    if len(tables) != 1:
        problems.append(f"expected one approval table, found {sorted(tables)}")
    for lid, table in sorted(tables.items()):
        p = props(table)
        if p.get("BillingMode") != "PAY_PER_REQUEST":
            problems.append(f"{lid}: BillingMode {p.get('BillingMode')!r}, not on demand")
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{lid}: no point-in-time recovery")
        if p.get("SSESpecification", {}).get("SSEEnabled") is not True:
            problems.append(f"{lid}: server-side encryption not enabled")
        ttl = p.get("TimeToLiveSpecification", {})
        if ttl.get("Enabled") is not True or ttl.get("AttributeName") != "ttl":
            problems.append(f"{lid}: TTL not enabled on ttl")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if table.get(policy) != "Retain":
                problems.append(f"{lid}: {policy} {table.get(policy)!r}, not Retain")
    for name in sorted(TABLE_ACTIONS_BY_BINARY):
        function = functions(cfn).get(function_named(cfn, name) or "", {})
        told = props(function).get("Environment", {}).get("Variables", {}).get("APPROVAL_TABLE")
        if target(told) not in tables:
            problems.append(f"{name}: APPROVAL_TABLE is {json.dumps(told)}, not the approval table")
        if "APPROVERS_ALLOWED" not in props(function).get("Environment", {}).get("Variables", {}):
            problems.append(f"{name}: no APPROVERS_ALLOWED")
    return problems


def approval_table_grants(cfn: Template) -> list[str]:
    """Each approval function may call exactly the table actions it uses, on
    the approval table alone; nothing else anywhere may touch DynamoDB."""
    problems = []
    named = principals(cfn)
    roles = set(named.values())
    tables = approval_tables(cfn)
    for name, role in sorted(named.items()):
        granted = set()
        for statement in role_statements(cfn, role):
            actions = {a for a in as_list(statement.get("Action", [])) if str(a).startswith("dynamodb:")}
            if not actions:
                continue
            granted |= actions
            for resource in as_list(statement.get("Resource")):
                if not (isinstance(resource, dict) and resource.get("Fn::GetAtt", [None, None])[1] == "Arn" and target(resource) in tables):
                    problems.append(f"{name}: {sorted(actions)} on {json.dumps(resource)}, not the approval table")
        expected = TABLE_ACTIONS_BY_BINARY.get(name, set())
        if granted != expected:
            problems.append(f"{name}: table actions {sorted(granted)}, expected {sorted(expected)}")
    for lid, statement in policy_statements_anywhere(cfn):
        actions = as_list(statement.get("Action", []))
        if lid not in roles and any(str(a).startswith("dynamodb:") for a in actions):
            problems.append(f"{lid}: grants dynamodb outside the approval functions' roles")
    return problems
