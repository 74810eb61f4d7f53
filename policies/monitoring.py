"""Monitoring policies: log retention and encryption, encrypted topics, endpoint alarms."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import (
    Finding,
    MlopsResourcePolicy,
    MlopsStackPolicy,
    Node,
    StackGraph,
    Subject,
    identifiers,
    references,
    schema,
)
from ._values import UNKNOWN, Tri, combine_all, get, items, number, strings

LOG_GROUP_TYPE: Final = "aws:cloudwatch/logGroup:LogGroup"
TOPIC_TYPE: Final = "aws:sns/topic:Topic"
ALARM_TYPE: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
ENDPOINT_TYPE: Final = "aws:sagemaker/endpoint:Endpoint"
SAGEMAKER_NAMESPACE: Final = "AWS/SageMaker"
LATENCY_METRICS: Final = frozenset({"ModelLatency", "OverheadLatency"})
ERROR_METRICS: Final = frozenset(
    {"Invocation5XXErrors", "Invocation4XXErrors", "InvocationModelErrors"}
)
DEFAULT_MIN_RETENTION_DAYS: Final = 30
_SNS_ARN: Final = re.compile(r"^arn:aws[a-z-]*:sns:")


def _check_retention(subject: Subject) -> Iterator[str]:
    minimum = number(subject.config.get("minRetentionDays")) or DEFAULT_MIN_RETENTION_DAYS
    value = get(subject.props, "retentionInDays")
    if value is UNKNOWN:
        return
    days = number(value)
    if not days:  # absent or 0: CloudWatch keeps the logs forever
        yield (
            f"CloudWatch log group '{subject.name}' never expires its logs. Set "
            f"retention_in_days to at least {int(minimum)}."
        )
    elif days < minimum:
        yield (
            f"CloudWatch log group '{subject.name}' keeps logs for {int(days)} days, less than "
            f"the required {int(minimum)}. Set retention_in_days >= {int(minimum)}."
        )


def _check_log_kms(subject: Subject) -> Iterator[str]:
    if get(subject.props, "kmsKeyId") is None:
        yield (
            f"CloudWatch log group '{subject.name}' is not encrypted with a customer-managed "
            "key. Set kms_key_id=<key>.arn (the key policy must allow logs.<region>.amazonaws.com)."
        )


def _check_topic_kms(subject: Subject) -> Iterator[str]:
    if get(subject.props, "kmsMasterKeyId") is None:
        yield (
            f"SNS topic '{subject.name}' is not encrypted. Set kms_master_key_id=<key>.arn "
            "(or 'alias/aws/sns')."
        )


# --- endpoint alarms --------------------------------------------------------------------


def _metrics(alarm: Node) -> list[tuple[Any, Any]]:
    """(namespace, metric name) pairs of an alarm, including metric-math queries."""
    pairs = [(get(alarm.props, "namespace"), get(alarm.props, "metricName"))]
    for query in items(get(alarm.props, "metricQueries")):
        metric = get(query, "metric")
        if metric is not None:
            pairs.append((get(metric, "namespace"), get(metric, "metricName")))
    return [(ns, name) for ns, name in pairs if name is not None]


def _measures(alarm: Node, wanted: frozenset[str]) -> Tri:
    verdicts: list[Tri] = []
    for namespace, name in _metrics(alarm):
        if name is UNKNOWN or namespace is UNKNOWN:
            verdicts.append(Tri.UNSURE)
        elif name in wanted and namespace in (SAGEMAKER_NAMESPACE, None):
            verdicts.append(Tri.YES)
    if Tri.YES in verdicts:
        return Tri.YES
    return Tri.UNSURE if verdicts else Tri.NO


def _endpoint_ids(node: Node) -> set[str]:
    return identifiers(node, "name", "id", "arn")


def _alarmed_endpoints(alarm: Node, endpoints: list[Node]) -> list[Node]:
    """Endpoints named by the alarm's EndpointName dimension (by value or dependency)."""
    top = get(alarm.props, "dimensions", "EndpointName")
    linked = references(alarm, "dimensions", endpoints, _endpoint_ids, value=top)
    queries = items(get(alarm.props, "metricQueries"))
    if queries:
        nested = [get(q, "metric", "dimensions", "EndpointName") for q in queries]
        linked += references(alarm, "metricQueries", endpoints, _endpoint_ids, value=nested)
    return linked


def _notifies_sns(alarm: Node, topics: list[Node]) -> Tri:
    if get(alarm.props, "actionsEnabled") is False:
        return Tri.NO
    topic_urns = {topic.urn for topic in topics}
    by_property = alarm.property_dependencies.get("alarmActions", frozenset())
    if by_property & topic_urns:
        return Tri.YES
    known, unsure = strings(get(alarm.props, "alarmActions"))
    topic_arns = set().union(*(identifiers(topic, "arn", "id") for topic in topics))
    if any(_SNS_ARN.match(action) or action in topic_arns for action in known):
        return Tri.YES
    # An unknown action with no recorded dependency may well be a topic ARN: do not guess.
    return Tri.UNSURE if unsure and not by_property else Tri.NO


def _endpoint_alarm_findings(
    graph: StackGraph, wanted: frozenset[str], what: str, metric: str
) -> Iterator[Finding]:
    endpoints = graph.of_type(ENDPOINT_TYPE)
    topics = graph.of_type(TOPIC_TYPE)
    alarms: dict[str, list[tuple[Node, Tri]]] = {endpoint.urn: [] for endpoint in endpoints}
    for alarm in graph.of_type(ALARM_TYPE):
        kind = _measures(alarm, wanted)
        if kind is Tri.NO:
            continue
        for endpoint in _alarmed_endpoints(alarm, endpoints):
            alarms[endpoint.urn].append((alarm, combine_all([kind, _notifies_sns(alarm, topics)])))
    fix = (
        f"Add aws.cloudwatch.MetricAlarm(namespace='{SAGEMAKER_NAMESPACE}', "
        f"metric_name='{metric}', dimensions={{'EndpointName': <endpoint>.name, "
        "'VariantName': <variant>}, alarm_actions=[<sns topic>.arn], ...)."
    )
    for endpoint in endpoints:
        found = alarms[endpoint.urn]
        if not found:
            yield Finding(
                endpoint.urn, f"SageMaker endpoint '{endpoint.name}' has no {what} alarm. {fix}"
            )
        elif all(state is Tri.NO for _, state in found):
            # Every one of them is at fault, and choosing one would depend on registration
            # order (which varies between runs), so each is reported.
            for alarm, _ in sorted(found, key=lambda pair: pair[0].urn):
                yield Finding(
                    alarm.urn,
                    f"The {what} alarm '{alarm.name}' of SageMaker endpoint '{endpoint.name}' "
                    f"notifies no SNS topic (or has actions disabled), and no other {what} alarm "
                    "of it does. Add an SNS topic ARN to alarm_actions.",
                )


def _check_latency_alarm(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return _endpoint_alarm_findings(graph, LATENCY_METRICS, "latency", "ModelLatency")


def _check_error_alarm(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return _endpoint_alarm_findings(graph, ERROR_METRICS, "error", "Invocation5XXErrors")


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="cloudwatch-log-group-retention",
        description=(
            "Checks that every CloudWatch log group expires logs after at least minRetentionDays."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(LOG_GROUP_TYPE,),
        check=_check_retention,
        remediation="Set retention_in_days on the aws.cloudwatch.LogGroup (>= minRetentionDays).",
        config_schema=schema(
            {
                "minRetentionDays": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Smallest acceptable retention_in_days.",
                    "default": DEFAULT_MIN_RETENTION_DAYS,
                }
            }
        ),
    ),
    MlopsResourcePolicy(
        name="cloudwatch-log-group-kms",
        description="Checks that every CloudWatch log group is encrypted with a KMS key.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(LOG_GROUP_TYPE,),
        check=_check_log_kms,
        remediation="Set kms_key_id on the aws.cloudwatch.LogGroup.",
    ),
    MlopsResourcePolicy(
        name="sns-topic-kms",
        description="Checks that every SNS topic is encrypted with KMS.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(TOPIC_TYPE,),
        check=_check_topic_kms,
        remediation="Set kms_master_key_id on the aws.sns.Topic.",
    ),
    MlopsStackPolicy(
        name="sagemaker-endpoint-latency-alarm",
        description=(
            "Checks that every SageMaker endpoint has a ModelLatency/OverheadLatency alarm "
            "whose alarm actions include an SNS topic."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(ENDPOINT_TYPE, ALARM_TYPE, TOPIC_TYPE),
        check=_check_latency_alarm,
        remediation=(
            "Add an aws.cloudwatch.MetricAlarm on AWS/SageMaker ModelLatency with dimension "
            "EndpointName and an SNS topic in alarm_actions."
        ),
    ),
    MlopsStackPolicy(
        name="sagemaker-endpoint-error-alarm",
        description=(
            "Checks that every SageMaker endpoint has an Invocation4XX/5XX/ModelErrors alarm "
            "whose alarm actions include an SNS topic."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(ENDPOINT_TYPE, ALARM_TYPE, TOPIC_TYPE),
        check=_check_error_alarm,
        remediation=(
            "Add an aws.cloudwatch.MetricAlarm on AWS/SageMaker Invocation5XXErrors with "
            "dimension EndpointName and an SNS topic in alarm_actions."
        ),
    ),
]
