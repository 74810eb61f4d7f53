"""Small building blocks shared by every policy module.

* :class:`MlopsResourcePolicy` / :class:`MlopsStackPolicy` wrap the SDK policy classes so a
  policy is written as a pure function from plain data to messages (easy to test, no proxy
  or unknown-value exceptions leaking into the SDK).
* :class:`StackGraph` and :func:`references` answer "which resource does this property
  point at?" either by value or — during preview, when names and ids are unknown — through
  the engine's property dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._values import UNKNOWN, get, plain, strings


@dataclass(frozen=True)
class Subject:
    """One resource as a resource-level check sees it (inputs, wire names)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    config: Mapping[str, Any]
    provider_props: dict[str, Any]


@dataclass(frozen=True)
class Node:
    """One resource as a stack-level check sees it (outputs, plus the dependency graph)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    parent: str | None
    dependencies: frozenset[str]
    property_dependencies: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Finding:
    """A stack-level violation: the URN it is attached to and the message."""

    urn: str
    message: str


ResourceCheck = Callable[[Subject], Iterable[str]]
StackCheck = Callable[["StackGraph", Mapping[str, Any]], Iterable[Finding]]


def schema(properties: dict[str, dict[str, Any]]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


class _Spec(TypedDict):
    name: str
    description: str
    level: EnforcementLevel
    resource_types: Iterable[str]
    remediation: str
    config_schema: NotRequired[PolicyConfigSchema]


class ResourceSpec(_Spec):
    """Keyword arguments of :class:`MlopsResourcePolicy`."""

    check: ResourceCheck


class StackSpec(_Spec):
    """Keyword arguments of :class:`MlopsStackPolicy`."""

    check: StackCheck


class MlopsResourcePolicy(ResourceValidationPolicy):
    """A resource policy restricted to ``resource_types`` and written as a pure check."""

    def __init__(self, **spec: Unpack[ResourceSpec]) -> None:
        self.resource_types: tuple[str, ...] = tuple(sorted(set(spec["resource_types"])))
        type_set = frozenset(self.resource_types)
        check = spec["check"]

        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type not in type_set:
                return
            for message in check(_subject(args)):
                report(message, None)

        super().__init__(
            name=spec["name"],
            description=spec["description"],
            validate=validate,
            enforcement_level=spec["level"],
            config_schema=spec.get("config_schema"),
            remediation_steps=spec["remediation"],
        )


class MlopsStackPolicy(StackValidationPolicy):
    """A stack policy written as a pure check over a :class:`StackGraph`."""

    def __init__(self, **spec: Unpack[StackSpec]) -> None:
        self.resource_types: tuple[str, ...] = tuple(sorted(set(spec["resource_types"])))
        check = spec["check"]

        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            graph = StackGraph.from_policy_resources(args.resources)
            for finding in check(graph, args.get_config()):
                report(finding.message, finding.urn)

        super().__init__(
            name=spec["name"],
            description=spec["description"],
            validate=validate,
            enforcement_level=spec["level"],
            config_schema=spec.get("config_schema"),
            remediation_steps=spec["remediation"],
        )


def _subject(args: ResourceValidationArgs) -> Subject:
    provider_props: dict[str, Any] = {}
    if args.provider is not None:
        provider_props = plain(args.provider.props)
    return Subject(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        config=args.get_config(),
        provider_props=provider_props,
    )


class StackGraph:
    """All resources of a stack, indexed by type and URN."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self._by_type: dict[str, list[Node]] = {}
        for node in self.nodes:
            self._by_type.setdefault(node.type, []).append(node)

    @classmethod
    def from_policy_resources(cls, resources: Sequence[PolicyResource]) -> StackGraph:
        return cls([_node(resource) for resource in resources])

    def of_type(self, *types: str) -> list[Node]:
        return [node for type_ in types for node in self._by_type.get(type_, [])]


def _node(resource: PolicyResource) -> Node:
    return Node(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        parent=resource.parent.urn if resource.parent is not None else None,
        dependencies=frozenset(dep.urn for dep in resource.dependencies),
        property_dependencies={
            key: frozenset(dep.urn for dep in deps)
            for key, deps in resource.property_dependencies.items()
        },
    )


def identifiers(node: Node, *keys: str) -> set[str]:
    """Known string values of ``keys`` (e.g. id, name, arn) that other resources may quote."""
    found: set[str] = set()
    for key in keys:
        value = get(node.props, key)
        if isinstance(value, str) and value:
            found.add(value)
    return found


_FROM_PROP: Any = object()  # "read the value of ``prop`` itself" (None is a real value)


def references(
    source: Node,
    prop: str,
    candidates: Sequence[Node],
    ids: Callable[[Node], set[str]],
    value: Any = _FROM_PROP,
    *,
    fallback: bool = True,
) -> list[Node]:
    """The candidates that ``source``'s top-level property ``prop`` refers to.

    1. If the engine recorded property dependencies for ``prop``, they are authoritative:
       that is the only reliable link during preview, when ids and names are unknown.
    2. Otherwise match the property's known value(s) against ``ids`` (``value`` replaces the
       property's own value, e.g. for a nested path or a bucket name taken from a URI).
    3. Otherwise fall back to plain ``dependencies``, minus those explained by other
       properties (a BucketLogging depends on both its bucket and its target bucket).
       When the property's value is fully known, a candidate whose identifiers are known
       too was compared in step 2 and does not match: the property names something else
       (e.g. a hand-typed bucket name plus ``depends_on``), so only candidates whose
       identifiers are still unknown (preview) can be linked this way.
       ``fallback=False`` skips this step: where a link exempts a resource from a check,
       a guess from ``depends_on`` must not.
    """
    by_property = source.property_dependencies.get(prop)
    if by_property:
        return [c for c in candidates if c.urn in by_property]
    raw = get(source.props, prop) if value is _FROM_PROP else value
    known, unsure = strings(raw)
    wanted = set(known)
    linked = [c for c in candidates if ids(c) & wanted]
    if linked or not fallback:
        return linked
    explained_elsewhere: set[str] = set()
    for key, deps in source.property_dependencies.items():
        if key != prop:
            explained_elsewhere.update(deps)
    remaining = source.dependencies - explained_elsewhere
    settled = bool(wanted) and not unsure
    return [c for c in candidates if c.urn in remaining and not (settled and ids(c))]


def known_string(value: Any) -> str | None:
    """``value`` if it is a known, non-empty string."""
    if value is UNKNOWN or not isinstance(value, str) or not value:
        return None
    return value
