#!/usr/bin/env bash
# `make lint`: first `sfn-callback check` (the operator CLI, built with cargo)
# on every statemachines/*.asl.json and on template.yaml's state machines with
# their substitutions: any error (a callback task that can hang) fails the lint.
# Then it proves template.yaml's safe defaults, offline, with the tools in
# .venv-lint (scripts/ensure-lint-venv.sh):
#   1. cfn-lint on template.yaml;
#   2. sam validate --lint;
#   3. aws-sam-translator turns it into the CloudFormation that would be
#      deployed (local code and definitions replaced by dummy s3:// URIs), and
#      cfn-lint checks that too, with the state machine definitions inlined: the
#      two steps above miss mistakes that only show once SAM has expanded the
#      template (a wrong Runtime, a misspelled ReportBatchItemFailures, a bad GetAtt);
#   4. pytest asserts each safe default on the transformed template
#      (tests/template/test_template.py).
# No AWS account or credentials are involved; the region is a dummy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash "$root/scripts/ensure-lint-venv.sh"
bin="$root/.venv-lint/bin"
out="$root/tests/artifacts/template"
mkdir -p "$out"

export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
# Nothing here may write bytecode or a pytest cache into the work tree.
export PYTHONDONTWRITEBYTECODE=1

step() { printf '\n== %s\n' "$*"; }

step "sfn-callback check statemachines/*.asl.json"
cargo run -q -p sfn-callback-cli --bin sfn-callback -- check statemachines/*.asl.json

step "sfn-callback check --template template.yaml"
cargo run -q -p sfn-callback-cli --bin sfn-callback -- check --template template.yaml

step "cfn-lint template.yaml"
"$bin/cfn-lint" template.yaml
echo "no errors or warnings"

step "sam validate --lint"
"$bin/sam" validate --lint --template template.yaml --region "$AWS_DEFAULT_REGION"

step "aws-sam-translator: template.yaml to CloudFormation"
"$bin/python" tests/template/samtemplate.py "$out/template.cfn.json"

step "cfn-lint on the transformed template"
"$bin/cfn-lint" "$out/template.cfn.json"
echo "no errors or warnings"

step "pytest tests/template: the safe defaults"
"$bin/python" -m pytest -p no:cacheprovider -q tests/template
