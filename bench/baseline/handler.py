"""The Python baseline of `make bench`: the SQS callback job as the AWS samples
write it with boto3.

The client is created at import, as Lambda's Python runtime would (the samples
do it at module level so warm invocations reuse it). Records are handled one
after another, as in the samples: each callback message is parsed and its task
token completed with SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat. A
record that fails is reported in `batchItemFailures` (partial batch response),
so the job matches `sqs-callback`'s.

The message format is sfn-callback's:
    {"taskToken": "...", "status": "SUCCEEDED", "output": {...}}
    {"taskToken": "...", "status": "FAILED", "error": "Code", "cause": "text"}
    {"taskToken": "...", "status": "HEARTBEAT"}
"""

import json

import boto3

sfn = boto3.client("stepfunctions")


def complete(message):
    token = message.get("taskToken") or message["TaskToken"]
    status = str(message.get("status", "SUCCEEDED")).upper()
    if status in ("SUCCEEDED", "SUCCESS"):
        output = json.dumps(message.get("output", {}), separators=(",", ":"))
        sfn.send_task_success(taskToken=token, output=output)
    elif status in ("FAILED", "FAILURE"):
        details = {k: message[k] for k in ("error", "cause") if k in message}
        sfn.send_task_failure(taskToken=token, **details)
    elif status == "HEARTBEAT":
        sfn.send_task_heartbeat(taskToken=token)
    else:
        raise ValueError(f"unknown status {status!r}")


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            complete(json.loads(record["body"]))
        except Exception as err:  # noqa: BLE001 - every failure goes back to the queue
            print(json.dumps({"messageId": record["messageId"], "error": type(err).__name__}))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
