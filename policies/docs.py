"""Generate docs/policies.md from the code and the per-environment config files.

    python -m policies.docs > docs/policies.md

A test regenerates the text and fails when the checked-in file is out of date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, Final

from .offline import ENVIRONMENTS, PolicyInfo, config_path, list_policies, load_config
from .registry import PACK_NAME
from .taggable import taggable_types

_MANY_TYPES: Final = 20  # above this, summarise a policy's resource types instead of listing

_NOTES: Final = (
    "## How the checks decide",
    "",
    "- **Unknown is not a violation, absent is.** During preview, values computed from other "
    "resources are unknown; a policy never reports on them. A property that is simply not "
    "set (and whose AWS default is insecure, e.g. `root_access`) is reported.",
    "- **S3 companions.** pulumi-aws v7 configures a bucket through separate resources "
    "(`BucketVersioning`, `BucketServerSideEncryptionConfiguration`, ...). A companion "
    "belongs to a bucket when its `bucket` property depends on the bucket's URN (the "
    "only link during preview, when the id is unknown), or its value equals the bucket's "
    "name/id, or it explicitly depends on the bucket. The legacy `...V2` tokens and the "
    "deprecated inline bucket properties are accepted too; a companion wins over inline "
    "settings.",
    "- **Log buckets.** A bucket that receives server access logs need not log itself, and "
    "must use SSE-S3 (AES256): S3 log delivery supports no other default encryption.",
    "- **Endpoint alarms.** An alarm belongs to an endpoint through its `EndpointName` "
    "dimension (value or dependency, also inside metric-math queries); it notifies SNS when "
    "`alarm_actions` holds an SNS ARN or depends on an `aws.sns.Topic`.",
    "- **Public ingress on any port.** Nothing in these ML environments is reached through a "
    "security group from the internet: endpoints are invoked through the SageMaker API, "
    "training and notebooks run in private subnets. Deliberately public ports go in "
    "`allowedPorts`.",
    "- **Tags** may come from the resource or from the AWS provider's `default_tags`. "
    "Taggable types are generated from pulumi_aws (`python -m policies.taggable`).",
    "- **Offline evaluation** (`policies.offline`) resolves config as the CLI does but is "
    "stricter: unknown policy names, undeclared properties and properties under `all` are "
    "errors (the CLI ignores them).",
    "",
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _per_environment() -> dict[str, dict[str, PolicyInfo]]:
    return {
        env: {info.name: info for info in list_policies(load_config(config_path(env)))}
        for env in ENVIRONMENTS
    }


def _summary_table(
    defaults: list[PolicyInfo], by_env: dict[str, dict[str, PolicyInfo]]
) -> list[str]:
    lines = [
        _row(["Policy", "Kind", "Default", *ENVIRONMENTS, "What it checks", "How to fix"]),
        _row(["---"] * (5 + len(ENVIRONMENTS))),
    ]
    for info in defaults:
        levels = [by_env[env][info.name].level for env in ENVIRONMENTS]
        lines.append(
            _row(
                [
                    f"`{info.name}`",
                    info.kind,
                    info.default_level,
                    *levels,
                    info.description,
                    info.remediation,
                ]
            )
        )
    return lines


def _value(value: Any) -> str:
    return f"`{json.dumps(value)}`"


def _config_table(
    defaults: list[PolicyInfo], by_env: dict[str, dict[str, PolicyInfo]]
) -> list[str]:
    lines = [
        _row(["Policy", "Property", "Schema", "Default", *ENVIRONMENTS]),
        _row(["---"] * (4 + len(ENVIRONMENTS))),
    ]
    for info in defaults:
        for prop, spec in sorted((info.config_schema or {}).items()):
            schema = {k: v for k, v in spec.items() if k not in ("default", "description")}
            values = [_value(by_env[env][info.name].config.get(prop)) for env in ENVIRONMENTS]
            lines.append(
                _row(
                    [
                        f"`{info.name}`",
                        f"`{prop}`: {spec.get('description', '')}",
                        _value(schema),
                        _value(spec.get("default")),
                        *values,
                    ]
                )
            )
    return lines


def _types_section(defaults: list[PolicyInfo]) -> list[str]:
    lines: list[str] = []
    taggable = taggable_types()
    for info in defaults:
        types = info.resource_types
        if set(types) == taggable:
            listed = f"all {len(types)} taggable AWS types (`policies/_aws_taggable_types.py`)"
        elif len(types) > _MANY_TYPES:
            listed = f"{len(types)} resource types"
        else:
            listed = ", ".join(f"`{t}`" for t in types)
        lines.append(f"- `{info.name}` ({info.kind}): {listed}")
    return lines


def render() -> str:
    defaults = list_policies()
    by_env = _per_environment()
    counts = {
        env: sum(1 for info in by_env[env].values() if info.level == "mandatory")
        for env in ENVIRONMENTS
    }
    lines = [
        f"# Policy pack `{PACK_NAME}`",
        "",
        "<!-- Generated by `python -m policies.docs > docs/policies.md`; do not edit by hand. -->",
        "",
        f"{len(defaults)} CrossGuard policies (pulumi_policy, Python) checking the ML "
        "environments' AWS and Kubernetes resources. Run them with the Pulumi CLI:",
        "",
        "```",
        "pulumi preview -s <env> --policy-pack policies \\",
        "    --policy-pack-config policies/config/<env>.json",
        "```",
        "",
        "or without the CLI on a captured resource graph with `policies.offline.evaluate(resources,"
        " config)`, which drives the SDK's own analyzer with the requests the CLI sends.",
        "",
        "Levels: `mandatory` blocks `pulumi up` (preview reports it as an error), `advisory` "
        "only warns, `disabled` skips the policy. *Default* is the level without config; the "
        "environment columns come from `policies/config/<env>.json`, which is generated "
        "from each stack file's `policyEnforcement` and `policyOverrides` by "
        "`python -m infra.policy_config` (mandatory count: "
        + ", ".join(f"{env} {counts[env]}" for env in ENVIRONMENTS)
        + "). Unknown values during preview are never reported as violations; absent "
        "values are.",
        "",
        "## Policies",
        "",
        *_summary_table(defaults, by_env),
        "",
        "## Configurable properties",
        "",
        "Set them per policy in the config file, e.g. "
        '`{"sagemaker-instance-count-capped": {"enforcementLevel": "mandatory", '
        '"maxInstanceCount": 2}}`. The CLI validates them against the schema below.',
        "",
        *_config_table(defaults, by_env),
        "",
        *_NOTES,
        "## Resource types each policy inspects",
        "",
        *_types_section(defaults),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
