"""Evaluate the policy pack on a captured resource graph, without the Pulumi CLI.

Parity with ``pulumi preview --policy-pack policies --policy-pack-config <file>``:

* The pack runs inside the pulumi_policy SDK's own analyzer servicer
  (``pulumi_policy.policy._PolicyAnalyzerServicer``), driven in-process with the same
  protobuf requests the engine sends over gRPC (``pulumi.runtime.proto.analyzer_pb2``):
  ``Configure`` once, ``Analyze`` per resource (its inputs), ``AnalyzeStack`` once (every
  resource with its outputs, parent, dependencies and property dependencies). Enforcement
  levels, per-policy config and unknown-value handling are therefore the SDK's.
* The config file is parsed, defaulted and validated the way the CLI does before it calls
  ``Configure`` (pulumi/pulumi ``pkg/resource/analyzer/config.go``: ``parsePolicyPackConfig``,
  ``createConfigWithDefaults``, ``applyConfig`` for ``all`` then per-policy entries, JSON
  Schema validation of each policy's properties), and violations get the URNs the engine
  reports (``pkg/resource/deploy/step_generator.go``: the analysed resource's URN for
  resource policies; for stack policies the reported URN if it names a resource of the
  stack, else the root stack URN).

Deliberate differences, all stricter: an unknown policy name, a property a policy's
schema does not declare, or properties under ``all`` raise :class:`PolicyConfigError`
(the CLI silently ignores them, which hides typos in generated config).
The SDK's "can't run policy ... during preview" notes (a policy touched an unknown value)
are returned as :class:`Skipped`, not as violations: an unknown value is not a violation.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, TypedDict, Unpack

from google.protobuf import struct_pb2
from jsonschema import Draft7Validator
from pulumi.output import Unknown as PulumiUnknown
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy, ResourceValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from .registry import ALL_POLICIES, PACK_NAME, POLICIES_BY_NAME

UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Pulumi's wire sentinel for unknowns
LEVELS: Final = ("advisory", "mandatory", "remediate", "disabled")
ENVIRONMENTS: Final = ("local", "dev", "staging", "prod")
CONFIG_DIR: Final = Path(__file__).with_name("config")
PACK_VERSION: Final = "0.0.1"  # what the Python SDK reports; the CLI shows PulumiPolicy.yaml's
_PROVIDER_TYPE_PREFIX: Final = "pulumi:providers:"
_ROOT_STACK_TYPE: Final = "pulumi:pulumi:Stack"

Level = Literal["advisory", "mandatory", "remediate"]


class PolicyConfigError(ValueError):
    """The policy pack config is invalid (what, where, and how to fix it is in the message)."""


class ResourceFormatError(ValueError):
    """A resource mapping handed to :func:`evaluate` is malformed."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "advisory" | "mandatory" | "remediate"
    urn: str
    message: str


@dataclass(frozen=True)
class Skipped:
    """A policy the SDK could not run on a resource because it read an unknown value."""

    policy: str
    urn: str
    message: str


@dataclass(frozen=True)
class Report:
    violations: tuple[Violation, ...]
    skipped: tuple[Skipped, ...]

    @property
    def mandatory(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.level == "mandatory")

    @property
    def passed(self) -> bool:
        """What ``pulumi up`` would decide: no mandatory violation."""
        return not self.mandatory


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str  # resolved for the given config: advisory|mandatory|remediate|disabled
    default_level: str
    kind: Literal["resource", "stack"]
    config_schema: dict[str, Any] | None
    config: dict[str, Any]
    remediation: str
    resource_types: tuple[str, ...] = field(default=())


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class _PolicyConfig:
    level: str  # "" = not set
    properties: dict[str, Any] | None


def config_path(environment: str) -> Path:
    """The checked-in ``--policy-pack-config`` file of an environment."""
    if environment not in ENVIRONMENTS:
        raise PolicyConfigError(
            f"unknown environment '{environment}'; use one of {', '.join(ENVIRONMENTS)}"
        )
    return CONFIG_DIR / f"{environment}.json"


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a ``--policy-pack-config`` JSON file (empty file = no config, as in the CLI)."""
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyConfigError(f"cannot read policy pack config {location}: {error}") from error
    if not text.strip():
        return {}
    try:
        loaded = json.loads(text)
    except ValueError as error:
        raise PolicyConfigError(
            f"policy pack config {location} is not valid JSON ({error}); fix the syntax"
        ) from error
    if not isinstance(loaded, dict):
        raise PolicyConfigError(
            f"policy pack config {location} must be a JSON object of policy name -> level/object"
        )
    return loaded


def _level_of(key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        raise PolicyConfigError(
            f"policy pack config '{key}': {value!r} is not a valid enforcement level; "
            f"use one of {', '.join(LEVELS)}"
        )
    return value


def _parse(config: Mapping[str, Any]) -> dict[str, _PolicyConfig]:
    """The CLI's parsePolicyPackConfig: a level string, or an object with enforcementLevel."""
    if not isinstance(config, Mapping):
        raise PolicyConfigError("policy pack config must be a mapping of policy name -> config")
    parsed: dict[str, _PolicyConfig] = {}
    for key, value in config.items():
        if isinstance(value, str):
            parsed[key] = _PolicyConfig(_level_of(key, value), None)
            continue
        if not isinstance(value, Mapping):
            raise PolicyConfigError(
                f"policy pack config '{key}': {value!r} is not valid; use a level string such "
                'as "mandatory" or an object like {"enforcementLevel": "advisory", ...}'
            )
        properties = dict(value)
        level = ""
        if "enforcementLevel" in properties:
            level = _level_of(f"{key}.enforcementLevel", properties.pop("enforcementLevel"))
        if level or properties:  # the CLI drops empty entries
            parsed[key] = _PolicyConfig(level, properties or None)
    return parsed


def _check_names(parsed: Mapping[str, _PolicyConfig]) -> None:
    for key, entry in parsed.items():
        if key == "all":
            if entry.properties:
                raise PolicyConfigError(
                    "policy pack config 'all' accepts only an enforcement level, got "
                    f"properties {sorted(entry.properties)}; set properties per policy"
                )
            continue
        if key not in POLICIES_BY_NAME:
            close = difflib.get_close_matches(key, list(POLICIES_BY_NAME), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise PolicyConfigError(
                f"policy pack config names unknown policy '{key}'; {hint}"
                "see docs/policies.md for the policy names"
            )


def _default_level(policy: Policy) -> str:
    # As GetAnalyzerInfo: the policy's level, else the pack's (ADVISORY in __main__.py).
    level = policy.enforcement_level or EnforcementLevel.ADVISORY
    return str(level.value)


def _schema_properties(policy: Policy) -> dict[str, dict[str, Any]]:
    return dict(policy.config_schema.properties) if policy.config_schema else {}


def _defaults(policy: Policy) -> dict[str, Any] | None:
    found = {
        key: spec["default"]
        for key, spec in _schema_properties(policy).items()
        if "default" in spec
    }
    return found or None


def _reconcile(parsed: Mapping[str, _PolicyConfig]) -> dict[str, _PolicyConfig]:
    """The CLI's ReconcilePolicyPackConfig: schema defaults, then ``all``, then per policy."""
    result = {p.name: _PolicyConfig(_default_level(p), _defaults(p)) for p in ALL_POLICIES}
    everything = parsed.get("all")
    if everything is not None and everything.level:
        result = {name: replace(entry, level=everything.level) for name, entry in result.items()}
    for name, given in parsed.items():
        current = result.get(name, _PolicyConfig("", None))
        properties = current.properties
        if given.properties:
            properties = {**(properties or {}), **given.properties}
        result[name] = _PolicyConfig(given.level or current.level, properties)
    return result


def _validate(resolved: Mapping[str, _PolicyConfig]) -> None:
    """JSON Schema validation of each policy's properties, as validatePolicyPackConfig."""
    problems: list[str] = []
    for policy in ALL_POLICIES:
        properties = resolved[policy.name].properties or {}
        declared = _schema_properties(policy)
        for key in sorted(set(properties) - set(declared)):
            allowed = ", ".join(sorted(declared)) or "none"
            problems.append(
                f"{policy.name}.{key}: not a property of this policy (allowed: {allowed})"
            )
        schema: dict[str, Any] = {"type": "object", "properties": declared}
        if policy.config_schema and policy.config_schema.required:
            schema["required"] = list(policy.config_schema.required)
        for error in Draft7Validator(schema).iter_errors(properties):
            where = ".".join([policy.name, *(str(part) for part in error.absolute_path)])
            problems.append(f"{where}: {error.message}")
    if problems:
        raise PolicyConfigError(
            "invalid policy pack config:\n  "
            + "\n  ".join(problems)
            + "\nFix these values in the --policy-pack-config file (see docs/policies.md)."
        )


def resolve_config(config: Mapping[str, Any] | None = None) -> dict[str, _PolicyConfig]:
    """Parse, check, default and validate ``config``; what the CLI passes to Configure."""
    parsed = _parse(config or {})
    _check_names(parsed)
    resolved = _reconcile(parsed)
    _validate(resolved)
    return resolved


def _configure_request(
    resolved: Mapping[str, _PolicyConfig],
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in resolved.items():
        policy_config = request.policyConfig[name]
        policy_config.enforcementLevel = analyzer_pb2.EnforcementLevel.Value(entry.level.upper())
        if entry.properties:
            policy_config.properties.update(entry.properties)
    return request


# --- resources --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resource:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    provider: str

    @property
    def stack_properties(self) -> dict[str, Any]:
        """What AnalyzeStack sees: the engine sends outputs. In preview a custom resource's
        outputs are its inputs plus unknown computed values, so inputs are the base and
        recorded outputs win; a component's outputs are only what it registered."""
        return {**self.inputs, **self.outputs} if self.custom else dict(self.outputs)


def _field(raw: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = raw.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, kind):
        raise ResourceFormatError(
            f"resource {where}: '{key}' must be {kind.__name__}, got {value!r}"
        )
    return value


def _resource(raw: Mapping[str, Any], index: int) -> _Resource:
    if not isinstance(raw, Mapping):
        raise ResourceFormatError(f"resource #{index} must be a mapping, got {type(raw).__name__}")
    where = f"#{index}"
    for key in ("type", "name", "urn"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ResourceFormatError(f"resource {where}: '{key}' must be a non-empty string")
    where = f"{raw['urn']}"
    property_dependencies = _field(raw, "propertyDependencies", Mapping, {}, where)
    if isinstance(raw.get("dependencies"), str):
        raise ResourceFormatError(f"resource {where}: 'dependencies' must be a list of URNs")
    return _Resource(
        type=raw["type"],
        name=raw["name"],
        urn=raw["urn"],
        parent=_field(raw, "parent", str, "", where),
        dependencies=tuple(_field(raw, "dependencies", Sequence, (), where)),
        property_dependencies={str(k): tuple(v) for k, v in property_dependencies.items()},
        inputs=dict(_field(raw, "inputs", Mapping, {}, where)),
        outputs=dict(_field(raw, "outputs", Mapping, {}, where)),
        custom=bool(raw.get("custom", True)),
        provider=_field(raw, "provider", str, "", where),
    )


def _strip_internal(value: Any) -> Any:
    """Wire form as the engine sends it: keys starting with "__" dropped (SkipInternalKeys),
    and the SDK's in-memory unknown marker (``pulumi.output.Unknown``, which a mocks capture
    may leave in outputs) turned into the wire sentinel."""
    if isinstance(value, Mapping):
        return {k: _strip_internal(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list | tuple):
        return [_strip_internal(v) for v in value]
    if isinstance(value, PulumiUnknown):
        return UNKNOWN
    return value


def _struct(properties: Mapping[str, Any], urn: str) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    try:
        message.update(_strip_internal(properties))
    except (TypeError, ValueError) as error:
        raise ResourceFormatError(
            f"resource {urn}: properties must be JSON-like wire values ({error})"
        ) from error
    return message


def _provider_message(
    resource: _Resource, providers: Mapping[str, _Resource]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    # A provider reference is "<provider urn>::<provider id>"; the engine sends that
    # provider's inputs along with the resource.
    reference = resource.provider
    provider = providers.get(reference) or providers.get(reference.rsplit("::", 1)[0])
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        urn=provider.urn,
        name=provider.name,
        properties=_struct(provider.inputs, provider.urn),
    )


def _options(resource: _Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        parent=resource.parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
    )


def _analyze_request(
    resource: _Resource, providers: Mapping[str, _Resource]
) -> analyzer_pb2.AnalyzeRequest:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        urn=resource.urn,
        name=resource.name,
        properties=_struct(resource.inputs, resource.urn),
        options=_options(resource),
    )
    provider = _provider_message(resource, providers)
    if provider is not None:
        request.provider.CopyFrom(provider)
    return request


def _stack_request(
    resources: Sequence[_Resource], providers: Mapping[str, _Resource]
) -> analyzer_pb2.AnalyzeStackRequest:
    request = analyzer_pb2.AnalyzeStackRequest()
    for resource in resources:
        message = request.resources.add(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_struct(resource.stack_properties, resource.urn),
            options=_options(resource),
            parent=resource.parent,
            dependencies=list(resource.dependencies),
        )
        for key, urns in resource.property_dependencies.items():
            if urns:  # the engine skips properties without dependencies
                message.propertyDependencies[key].urns.extend(urns)
        provider = _provider_message(resource, providers)
        if provider is not None:
            message.provider.CopyFrom(provider)
    return request


def _root_stack_urn(resources: Sequence[_Resource]) -> str:
    for resource in resources:
        if resource.type == _ROOT_STACK_TYPE:
            return resource.urn
    for resource in resources:
        # urn:pulumi:<stack>::<project>::<type>::<name>
        head, _, rest = resource.urn.partition("::")
        project = rest.split("::", 1)[0]
        if head.startswith("urn:pulumi:") and project:
            stack = head[len("urn:pulumi:") :]
            return f"urn:pulumi:{stack}::{project}::{_ROOT_STACK_TYPE}::{project}-{stack}"
    return ""


# --- evaluation -------------------------------------------------------------------------


class _OfflineAnalyzer(_PolicyAnalyzerServicer):
    def _configure_runtime_settings(self) -> None:
        # The CLI runs the pack in its own process; here it shares the caller's, so skip the
        # SDK's pulumi.runtime.set_config/configure side effects (no policy reads them).
        return None


_LEVEL_NAMES: Final = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}


def _collect(
    response: analyzer_pb2.AnalyzeResponse,
    urn_for: Callable[[str], str],
    violations: list[Violation],
    skipped: list[Skipped],
) -> None:
    for diagnostic in response.diagnostics:
        urn = urn_for(diagnostic.urn)
        if diagnostic.message.startswith(f"can't run policy '{diagnostic.policyName}'"):
            skipped.append(Skipped(diagnostic.policyName, urn, diagnostic.message))
            continue
        message = diagnostic.message
        prefix = diagnostic.description + "\n"
        if message.startswith(prefix):  # the SDK prepends the description
            message = message[len(prefix) :]
        level = _LEVEL_NAMES[diagnostic.enforcementLevel]
        violations.append(Violation(diagnostic.policyName, level, urn, message))


def _always(urn: str) -> Callable[[str], str]:
    return lambda _reported: urn


def analyze(
    resources: Iterable[Mapping[str, Any]], config: Mapping[str, Any] | None = None
) -> Report:
    """Run every policy on ``resources`` as ``pulumi preview --policy-pack`` would."""
    resolved = resolve_config(config)
    parsed = [_resource(raw, index) for index, raw in enumerate(resources)]
    providers = {r.urn: r for r in parsed if r.type.startswith(_PROVIDER_TYPE_PREFIX)}
    analyzer = _OfflineAnalyzer(
        PACK_NAME, PACK_VERSION, list(ALL_POLICIES), EnforcementLevel.ADVISORY
    )
    analyzer.Configure(_configure_request(resolved), None)

    violations: list[Violation] = []
    skipped: list[Skipped] = []
    for resource in parsed:
        response = analyzer.Analyze(_analyze_request(resource, providers), None)
        # The engine attaches resource-policy diagnostics to the analysed resource.
        _collect(response, _always(resource.urn), violations, skipped)

    known = {r.urn for r in parsed}
    root = _root_stack_urn(parsed)
    response = analyzer.AnalyzeStack(_stack_request(parsed, providers), None)
    _collect(response, lambda urn: urn if urn in known else root, violations, skipped)
    return Report(tuple(violations), tuple(skipped))


def evaluate(
    resources: Iterable[Mapping[str, Any]], config: Mapping[str, Any] | None = None
) -> list[Violation]:
    """The policy violations of ``resources`` (see :func:`analyze` for the full report)."""
    return list(analyze(resources, config).violations)


def list_policies(config: Mapping[str, Any] | None = None) -> list[PolicyInfo]:
    """Every policy with its default and resolved level, kind and config."""
    resolved = resolve_config(config)
    return [
        PolicyInfo(
            name=policy.name,
            description=policy.description,
            level=resolved[policy.name].level,
            default_level=_default_level(policy),
            kind="resource" if isinstance(policy, ResourceValidationPolicy) else "stack",
            config_schema=_schema_properties(policy) or None,
            config=dict(resolved[policy.name].properties or {}),
            remediation=policy.remediation_steps or "",
            resource_types=tuple(getattr(policy, "resource_types", ())),
        )
        for policy in ALL_POLICIES
    ]


# --- building resource mappings (tests, captured graphs) --------------------------------


def urn_of(type_: str, name: str, *, stack: str = "dev", project: str = "mlops-platform") -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


class ResourceOptions(TypedDict, total=False):
    """Optional keyword arguments of :func:`resource`."""

    outputs: Mapping[str, Any] | None
    parent: str | None
    dependencies: Iterable[str]
    property_dependencies: Mapping[str, Iterable[str]] | None
    custom: bool
    provider: str
    stack: str
    project: str


def resource(
    type_: str,
    name: str,
    inputs: Mapping[str, Any] | None = None,
    **options: Unpack[ResourceOptions],
) -> dict[str, Any]:
    """A resource mapping in the format :func:`evaluate` takes.

    As in the Python SDK, ``dependencies`` includes every property dependency.
    """
    by_property = {k: list(v) for k, v in (options.get("property_dependencies") or {}).items()}
    explicit = list(options.get("dependencies", ()))
    from_properties = [urn for urns in by_property.values() for urn in urns]
    urn = urn_of(
        type_,
        name,
        stack=options.get("stack", "dev"),
        project=options.get("project", "mlops-platform"),
    )
    return {
        "type": type_,
        "name": name,
        "urn": urn,
        "parent": options.get("parent"),
        "dependencies": list(dict.fromkeys([*explicit, *from_properties])),
        "propertyDependencies": by_property,
        "inputs": dict(inputs or {}),
        "outputs": dict(options.get("outputs") or {}),
        "custom": options.get("custom", True),
        "provider": options.get("provider", ""),
    }
