"""A minimal Lambda Runtime API loop for the Python baseline, standing in for
Lambda's Python runtime: import the handler module (which creates its boto3
client at import), then poll `/2018-06-01/runtime/invocation/next` forever,
call the handler, and post its answer to `/response` or `/error`.

Run: python bootstrap.py  (with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT and,
optionally, _HANDLER=module.function; default handler.lambda_handler).

It is leaner than the real runtime (no awslambdaric, no log formatting), so the
cold start it shows is a lower bound for Python.
"""

import importlib
import json
import os
import sys
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

module_name, _, function_name = os.environ.get("_HANDLER", "handler.lambda_handler").rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))


def post(path, body, headers=None):
    request = urllib.request.Request(api + path, data=body, method="POST", headers=headers or {})
    urllib.request.urlopen(request).read()


while True:
    with urllib.request.urlopen(api + "/invocation/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        context = Context(answer.headers)
        event = json.loads(answer.read())
    try:
        result = handler(event, context)
        post(f"/invocation/{request_id}/response", json.dumps(result).encode())
    except Exception as err:  # noqa: BLE001 - reported to the Runtime API, as Lambda does
        body = {"errorMessage": str(err), "errorType": type(err).__name__,
                "stackTrace": traceback.format_exc().splitlines()}
        post(f"/invocation/{request_id}/error", json.dumps(body).encode(),
             {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
