"""template.yaml as CloudFormation: parse it, point its local code and
definitions at dummy S3 URIs, and run aws-sam-translator over it, offline.

cfn-lint and `sam validate --lint` read the SAM template and miss mistakes that
only show once SAM has expanded it (a wrong Runtime, a misspelled
FunctionResponseTypes value, a bad GetAtt); the CloudFormation this module
makes is what `scripts/lint-template.sh` lints and `test_template.py` checks.

    python tests/template/samtemplate.py OUT.json   # the transformed template, definitions inlined
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
STATEMACHINES = ROOT / "statemachines"
DUMMY_BUCKET = "sfn-callback-offline-lint"
DUMMY_REGION = "us-east-1"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as plain dicts, short-form intrinsics expanded (`!Ref X` -> `{"Ref": "X"}`)."""
    from samcli.yamlhelper import yaml_parse

    return json.loads(json.dumps(yaml_parse(path.read_text())))


# A `${Name}` that DefinitionSubstitutions replaces in a state machine definition.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")
STAND_IN = "stand-in-for-"


def substituted(text: str, keep_quoted: bool = False) -> str:
    """A definition with stand-ins for its placeholders, so that it parses: a
    number for one outside a JSON string (`"HeartbeatSeconds": ${HeartbeatSeconds}`),
    `stand-in-for-Name` (or, with keep_quoted, the placeholder itself) inside one."""

    def stand_in(match: re.Match[str]) -> str:
        line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
        inside_string = len(re.findall(r'(?<!\\)"', line)) % 2 == 1
        if not inside_string:
            return "300"
        return match.group(0) if keep_quoted else f"{STAND_IN}{match.group(1)}"

    return PLACEHOLDER.sub(stand_in, text)


def _dummy_uri(local: str) -> str:
    key = local.strip("./") or "workspace"
    return f"s3://{DUMMY_BUCKET}/{key}"


def with_dummy_uris(sam: dict[str, Any]) -> dict[str, Any]:
    """A copy whose local CodeUri and DefinitionUri are dummy s3:// URIs, as
    `sam package` would leave them; the translator refuses local paths."""
    sam = copy.deepcopy(sam)
    function_globals = sam.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = _dummy_uri(function_globals["CodeUri"])
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "DefinitionUri"):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = _dummy_uri(value)
    return sam


class _OfflinePolicyLoader:
    """Managed policy names would be looked up in IAM: this template uses none."""

    def load(self) -> dict[str, str]:
        raise RuntimeError("the template names a managed policy that needs an IAM lookup; use its ARN")


def transform(sam: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template SAM makes of `sam` (which is left unchanged)."""
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", DUMMY_REGION)
    cfn = sam_transform(with_dummy_uris(sam), {}, _OfflinePolicyLoader(), passthrough_metadata=True)
    return json.loads(json.dumps(cfn))


def with_inline_definitions(cfn: dict[str, Any], root: Path = ROOT) -> dict[str, Any]:
    """For cfn-lint: each state machine's DefinitionS3Location replaced by the
    file's JSON as `Definition`, so that its states language is checked too.
    Placeholders in strings stay for DefinitionSubstitutions; an unquoted one
    (a number) becomes 300."""
    cfn = copy.deepcopy(cfn)
    for resource in cfn["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        location = properties.pop("DefinitionS3Location", None)
        if location:
            text = (root / location["Key"]).read_text()
            properties["Definition"] = json.loads(substituted(text, keep_quoted=True))
    return cfn


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    cfn = with_inline_definitions(transform(load()))
    out.write_text(json.dumps(cfn, indent=2, sort_keys=True) + "\n")
    print(f"transformed {TEMPLATE.name} -> {out.relative_to(ROOT) if out.is_absolute() else out} (definitions inlined)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
