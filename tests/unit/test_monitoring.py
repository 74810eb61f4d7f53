"""Monitoring: alarm specs, topic policy and dashboard as data; the graph under mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.monitoring import (
    ACCURACY,
    CLIENT_ERRORS,
    CPU,
    DISK,
    FEATURE_DRIFT,
    INSTANCE_NAMESPACE,
    LATENCY,
    LOW_INVOCATIONS,
    MEMORY,
    PREDICTION_DRIFT,
    ROLLBACK_KEYS,
    SAGEMAKER_NAMESPACE,
    SERVER_ERRORS,
    AlarmThresholds,
    Monitoring,
    MonitoringArgs,
    alarm_specs,
    arn_account,
    dashboard_body,
    instance_vcpus,
    log_group_names,
    rollback_alarm_names,
    subscription_suffix,
    topic_policy,
)
from infra.naming import alarm_name, endpoint_name, physical_name
from infra.outputs import (
    ACCURACY_METRIC,
    FEATURE_DRIFT_METRIC,
    METRIC_DIMENSIONS,
    METRICS_NAMESPACE,
    PREDICTION_DRIFT_METRIC,
)
from infra.plan import UNKNOWN, CapturedResource, Plan
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
ENDPOINT = endpoint_name(PREFIX)
TAGS = {"project": "mlops-platform", "environment": "test", "owner": "ml-team"}
LOGS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-alerts"
THRESHOLDS = AlarmThresholds(
    latency_p99_ms=250,
    server_errors=2,
    client_errors=40,
    min_invocations=5,
    cpu_percent=70,
    memory_percent=85,
    disk_percent=90,
    min_accuracy=0.85,
    prediction_drift=0.25,
    drift_threshold=0.15,
)
ALARM_T = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_T = "aws:cloudwatch/logGroup:LogGroup"
TOPIC_T = "aws:sns/topic:Topic"
TOPIC_POLICY_T = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION_T = "aws:sns/topicSubscription:TopicSubscription"
DASHBOARD_T = "aws:cloudwatch/dashboard:Dashboard"
COMPONENT_T = "mlops:monitoring:Monitoring"
ENDPOINT_KEYS = {LATENCY, SERVER_ERRORS, CLIENT_ERRORS, LOW_INVOCATIONS, CPU, MEMORY, DISK}
QUALITY_KEYS = {FEATURE_DRIFT, PREDICTION_DRIFT, ACCURACY}
OUTPUTS = (
    "rollback_alarm_names",
    "drift_alarm_arn",
    "prediction_drift_alarm_arn",
    "accuracy_alarm_arn",
    "alarm_names",
    "topic_arn",
    "dashboard_name",
    "log_group_names",
)
MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])


def _args(**overrides: Any) -> MonitoringArgs:
    values: dict[str, Any] = {
        "prefix": PREFIX,
        "tags": TAGS,
        "region": REGION,
        "logs_kms_key_arn": LOGS_KEY,
        "thresholds": THRESHOLDS,
        "endpoint_name": ENDPOINT,
        "endpoint_deployed": True,
        "instance_type": "ml.m5.xlarge",
        "log_retention_days": 365,
        "alert_emails": ("oncall@example.com", "lead@example.com"),
    }
    return MonitoringArgs(**{**values, **overrides})


def _program(args: MonitoringArgs) -> Callable[[], None]:
    def program() -> None:
        monitoring = Monitoring("mon", args)
        for key in OUTPUTS:
            pulumi.export(key, getattr(monitoring, key))

    return program


def _run(args: MonitoringArgs, *, preview: bool = False) -> Plan:
    return plan_component(_program(args), region=REGION, preview=preview)


def _one(plan: Plan, type_: str) -> CapturedResource:
    found = plan.by_type(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def _alarms(plan: Plan) -> dict[str, CapturedResource]:
    """Alarms by key (the `what` of alarm_name)."""
    prefix = alarm_name(PREFIX, "")
    return {r.inputs["name"].removeprefix(prefix + "-"): r for r in plan.by_type(ALARM_T)}


# ---------------------------------------------------------------------------- pure helpers


def test_rollback_alarms_are_latency_and_server_errors() -> None:
    names = rollback_alarm_names(PREFIX)
    assert names == [alarm_name(PREFIX, LATENCY), alarm_name(PREFIX, SERVER_ERRORS)]
    assert all(name.startswith(PREFIX) for name in names)


def test_log_group_names() -> None:
    assert log_group_names(PREFIX, ENDPOINT, False) == [f"/mlops/{PREFIX}/pipeline"]
    assert log_group_names(PREFIX, ENDPOINT, True) == [
        f"/mlops/{PREFIX}/pipeline",
        f"/aws/sagemaker/Endpoints/{ENDPOINT}",
    ]


@pytest.mark.parametrize(
    ("instance_type", "vcpus"),
    [
        ("ml.t2.medium", 2),
        ("ml.m8g.medium", 1),
        ("ml.m5.large", 2),
        ("ml.m5.xlarge", 4),
        ("ml.c5.2xlarge", 8),
        ("ml.g5.12xlarge", 48),
        ("ml.p4d.24xlarge", 96),
        ("something-odd", 1),
    ],
)
def test_instance_vcpus(instance_type: str, vcpus: int) -> None:
    assert instance_vcpus(instance_type) == vcpus


def test_arn_account() -> None:
    assert arn_account(TOPIC_ARN) == ACCOUNT
    with pytest.raises(ValueError, match="not an ARN"):
        arn_account("mlops-alerts")


def test_topic_policy_allows_only_account_services_and_denies_plain_http() -> None:
    policy = topic_policy(TOPIC_ARN)
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert {s["Principal"]["Service"] for s in allows} == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    for statement in allows:
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == TOPIC_ARN
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (deny,) = denies
    assert deny["Principal"] == "*"
    assert "sns:Publish" in deny["Action"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])


@given(st.emails(), st.emails())
def test_subscription_suffix_is_stable_and_distinguishes_addresses(a: str, b: str) -> None:
    assert subscription_suffix(a) == subscription_suffix(a.upper())
    assert a not in subscription_suffix(a)
    if a.lower() != b.lower():
        assert subscription_suffix(a) != subscription_suffix(b)


def test_alarm_specs_when_deployed() -> None:
    specs = {s.key: s for s in alarm_specs(PREFIX, ENDPOINT, THRESHOLDS, endpoint_deployed=True)}
    assert set(specs) == ENDPOINT_KEYS | QUALITY_KEYS
    latency = specs[LATENCY]
    assert latency.extended_statistic == "p99" and latency.statistic is None
    assert latency.threshold == THRESHOLDS.latency_p99_ms * 1000  # microseconds
    assert specs[SERVER_ERRORS].threshold == THRESHOLDS.server_errors
    assert specs[SERVER_ERRORS].comparison == "GreaterThanOrEqualToThreshold"
    assert specs[CLIENT_ERRORS].threshold == THRESHOLDS.client_errors
    invocations = specs[LOW_INVOCATIONS]
    assert invocations.comparison == "LessThanThreshold"
    assert invocations.treat_missing_data == "breaching"


def test_no_low_traffic_alarm_without_a_minimum() -> None:
    thresholds = replace(THRESHOLDS, min_invocations=0)
    keys = {s.key for s in alarm_specs(PREFIX, ENDPOINT, thresholds, endpoint_deployed=True)}
    assert keys == (ENDPOINT_KEYS - {LOW_INVOCATIONS}) | QUALITY_KEYS


def test_only_quality_alarms_without_an_endpoint() -> None:
    specs = alarm_specs(PREFIX, ENDPOINT, THRESHOLDS, endpoint_deployed=False)
    assert {s.key for s in specs} == QUALITY_KEYS


def test_cpu_threshold_is_per_core() -> None:
    for instance_type in ("ml.m5.large", "ml.m5.4xlarge"):
        specs = alarm_specs(
            PREFIX, ENDPOINT, THRESHOLDS, endpoint_deployed=True, instance_type=instance_type
        )
        cpu = next(s for s in specs if s.key == CPU)
        assert cpu.threshold == THRESHOLDS.cpu_percent * instance_vcpus(instance_type)


def test_dashboard_shows_serving_and_quality_metrics() -> None:
    body = dashboard_body(region=REGION, prefix=PREFIX, endpoint=ENDPOINT, thresholds=THRESHOLDS)
    widgets = body["widgets"]
    shown = {
        (line[0], line[1])
        for widget in widgets
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], str)
    }
    assert shown == {
        (SAGEMAKER_NAMESPACE, "ModelLatency"),
        (SAGEMAKER_NAMESPACE, "Invocation5XXErrors"),
        (SAGEMAKER_NAMESPACE, "Invocation4XXErrors"),
        (SAGEMAKER_NAMESPACE, "Invocations"),
        (INSTANCE_NAMESPACE, "CPUUtilization"),
        (INSTANCE_NAMESPACE, "MemoryUtilization"),
        (INSTANCE_NAMESPACE, "DiskUtilization"),
        (METRICS_NAMESPACE, FEATURE_DRIFT_METRIC),
        (METRICS_NAMESPACE, PREDICTION_DRIFT_METRIC),
        (METRICS_NAMESPACE, ACCURACY_METRIC),
    }
    for widget in widgets:
        assert widget["properties"]["region"] == REGION
        assert 0 <= widget["x"] and widget["x"] + widget["width"] <= 24
    positions = {(w["x"], w["y"]) for w in widgets}
    assert len(positions) == len(widgets), "widgets do not overlap"
    custom = [
        line for w in widgets for line in w["properties"]["metrics"] if line[0] == METRICS_NAMESPACE
    ]
    for line in custom:
        assert line[2:6] == [METRIC_DIMENSIONS[0], PREFIX, METRIC_DIMENSIONS[1], ENDPOINT]
    json.dumps(body)  # serialisable as the dashboard body


# ---------------------------------------------------------------------------- the graph


@MODES
def test_children_are_parented_and_tagged(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    component = _one(plan, COMPONENT_T)
    children = plan.children(component)
    assert len(children) == len(plan.resources) - 1
    for resource in children:
        if resource.type in (TOPIC_POLICY_T, SUBSCRIPTION_T, DASHBOARD_T):
            continue  # not taggable
        tags = resource.inputs["tags"]
        assert {k: tags[k] for k in TAGS} == TAGS, resource.name
        assert "Name" in tags, resource.name


@MODES
def test_log_groups_have_retention_and_the_logs_key(preview: bool) -> None:
    groups = _run(_args(), preview=preview).by_type(LOG_T)
    assert {g.inputs["name"] for g in groups} == set(log_group_names(PREFIX, ENDPOINT, True))
    for group in groups:
        assert group.inputs["retentionInDays"] == 365
        assert group.inputs["kmsKeyId"] == LOGS_KEY


@MODES
def test_topic_is_encrypted_and_its_policy_is_scoped(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    topic, policy = _one(plan, TOPIC_T), _one(plan, TOPIC_POLICY_T)
    assert topic.inputs["kmsMasterKeyId"] == LOGS_KEY
    assert topic.inputs["name"] == physical_name(PREFIX, "alerts")
    assert policy.property_dependencies["arn"] == (topic.urn,)
    assert policy.property_dependencies["policy"] == (topic.urn,)
    if preview:
        assert policy.inputs["policy"] == UNKNOWN
    else:
        assert json.loads(policy.inputs["policy"]) == topic_policy(topic.outputs["arn"])


@MODES
def test_one_email_subscription_per_address(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    topic = _one(plan, TOPIC_T)
    subscriptions = plan.by_type(SUBSCRIPTION_T)
    assert {s.inputs["endpoint"] for s in subscriptions} == {
        "oncall@example.com",
        "lead@example.com",
    }
    for subscription in subscriptions:
        assert subscription.inputs["protocol"] == "email"
        assert subscription.property_dependencies["topic"] == (topic.urn,)
        assert "@" not in subscription.name  # addresses stay out of URNs

    assert _run(_args(alert_emails=()), preview=preview).by_type(SUBSCRIPTION_T) == []


@MODES
def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    topic, policy = _one(plan, TOPIC_T), _one(plan, TOPIC_POLICY_T)
    alarms = plan.by_type(ALARM_T)
    assert alarms
    expected = UNKNOWN if preview else topic.outputs["arn"]
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [expected], alarm.name
        assert alarm.inputs["okActions"] == [expected], alarm.name
        assert alarm.property_dependencies["alarmActions"] == (topic.urn,)
        assert alarm.property_dependencies["okActions"] == (topic.urn,)
        assert policy.urn in alarm.dependencies  # CloudWatch may publish before it fires
        assert alarm.inputs["treatMissingData"] in {"notBreaching", "breaching"}
        assert alarm.inputs["alarmDescription"]


@MODES
def test_endpoint_alarms(preview: bool) -> None:
    alarms = _alarms(_run(_args(), preview=preview))
    assert set(alarms) == ENDPOINT_KEYS | QUALITY_KEYS
    dims = {"EndpointName": ENDPOINT, "VariantName": "primary"}

    latency = alarms[LATENCY].inputs
    assert latency["namespace"] == SAGEMAKER_NAMESPACE
    assert latency["metricName"] == "ModelLatency"
    assert latency["extendedStatistic"] == "p99" and "statistic" not in latency
    assert latency["threshold"] == 250_000  # 250 ms in microseconds
    assert latency["dimensions"] == dims
    assert latency["treatMissingData"] == "notBreaching"

    for key, metric, threshold in (
        (SERVER_ERRORS, "Invocation5XXErrors", 2),
        (CLIENT_ERRORS, "Invocation4XXErrors", 40),
    ):
        alarm = alarms[key].inputs
        assert (alarm["metricName"], alarm["statistic"]) == (metric, "Sum")
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["threshold"] == threshold
        assert alarm["period"] == 300
        assert alarm["dimensions"] == dims

    invocations = alarms[LOW_INVOCATIONS].inputs
    assert invocations["metricName"] == "Invocations"
    assert invocations["comparisonOperator"] == "LessThanThreshold"
    assert invocations["threshold"] == 5
    assert invocations["treatMissingData"] == "breaching"

    for key, metric, threshold in (
        (CPU, "CPUUtilization", 70 * 4),  # ml.m5.xlarge: 4 vCPUs, summed
        (MEMORY, "MemoryUtilization", 85),
        (DISK, "DiskUtilization", 90),
    ):
        alarm = alarms[key].inputs
        assert alarm["namespace"] == INSTANCE_NAMESPACE
        assert alarm["metricName"] == metric
        assert alarm["threshold"] == threshold
        assert alarm["dimensions"] == dims


@MODES
def test_quality_alarms_watch_the_custom_metrics(preview: bool) -> None:
    alarms = _alarms(_run(_args(), preview=preview))
    dims = {"Stack": PREFIX, "EndpointName": ENDPOINT}
    for key, metric, statistic, comparison, threshold in (
        (FEATURE_DRIFT, FEATURE_DRIFT_METRIC, "Maximum", "GreaterThanThreshold", 0.15),
        (PREDICTION_DRIFT, PREDICTION_DRIFT_METRIC, "Maximum", "GreaterThanThreshold", 0.25),
        (ACCURACY, ACCURACY_METRIC, "Minimum", "LessThanThreshold", 0.85),
    ):
        alarm = alarms[key].inputs
        assert alarm["namespace"] == METRICS_NAMESPACE
        assert alarm["metricName"] == metric
        assert alarm["statistic"] == statistic
        assert alarm["comparisonOperator"] == comparison
        assert alarm["threshold"] == pytest.approx(threshold)
        assert alarm["dimensions"] == dims
        assert alarm["treatMissingData"] == "notBreaching"
        assert alarm["period"] * alarm["evaluationPeriods"] <= 86_400


@MODES
def test_without_an_endpoint_only_quality_alarms_and_the_pipeline_logs(preview: bool) -> None:
    plan = _run(_args(endpoint_deployed=False), preview=preview)
    assert set(_alarms(plan)) == QUALITY_KEYS
    assert [g.inputs["name"] for g in plan.by_type(LOG_T)] == [f"/mlops/{PREFIX}/pipeline"]
    assert plan.outputs["rollback_alarm_names"] == []
    assert len(plan.by_type(DASHBOARD_T)) == 1


@MODES
def test_dashboard(preview: bool) -> None:
    dashboard = _one(_run(_args(), preview=preview), DASHBOARD_T)
    assert dashboard.inputs["dashboardName"] == physical_name(PREFIX, "ml")
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert body == dashboard_body(
        region=REGION,
        prefix=PREFIX,
        endpoint=ENDPOINT,
        thresholds=THRESHOLDS,
        instance_type="ml.m5.xlarge",
    )


def test_outputs() -> None:
    plan = _run(_args())
    alarms = _alarms(plan)
    outputs = plan.outputs
    assert outputs["rollback_alarm_names"] == rollback_alarm_names(PREFIX)
    assert outputs["rollback_alarm_names"] == [alarms[k].inputs["name"] for k in ROLLBACK_KEYS]
    assert outputs["drift_alarm_arn"] == alarms[FEATURE_DRIFT].outputs["arn"]
    assert outputs["prediction_drift_alarm_arn"] == alarms[PREDICTION_DRIFT].outputs["arn"]
    assert outputs["accuracy_alarm_arn"] == alarms[ACCURACY].outputs["arn"]
    assert sorted(outputs["alarm_names"]) == sorted(a.inputs["name"] for a in alarms.values())
    assert outputs["topic_arn"] == _one(plan, TOPIC_T).outputs["arn"]
    assert outputs["dashboard_name"] == physical_name(PREFIX, "ml")
    assert outputs["log_group_names"] == log_group_names(PREFIX, ENDPOINT, True)


def test_outputs_in_preview() -> None:
    outputs = _run(_args(), preview=True).outputs
    # Names are ours and known before deployment; ARNs are not.
    assert outputs["rollback_alarm_names"] == rollback_alarm_names(PREFIX)
    assert outputs["dashboard_name"] == physical_name(PREFIX, "ml")
    for key in ("drift_alarm_arn", "prediction_drift_alarm_arn", "accuracy_alarm_arn", "topic_arn"):
        assert outputs[key] == UNKNOWN
