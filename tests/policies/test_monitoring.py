"""Monitoring policies: log groups, topics, and endpoint alarms matched by value or dependency."""

from __future__ import annotations

import pytest

from policies.offline import UNKNOWN, resource

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:ml-alerts"


# --- log groups and topics ------------------------------------------------------------


def test_retention_fails_when_never_expiring(assert_violation):
    assert_violation(
        "cloudwatch-log-group-retention",
        [resource(LOG_GROUP, "training", {})],
        "log group 'training' never expires its logs",
    )


def test_retention_fails_below_configured_minimum(assert_violation):
    group = resource(LOG_GROUP, "training", {"retentionInDays": 14.0})
    config = {"cloudwatch-log-group-retention": {"minRetentionDays": 30}}
    assert_violation(
        "cloudwatch-log-group-retention",
        [group],
        "keeps logs for 14 days, less than the required 30",
        config,
    )


def test_retention_passes(assert_passes):
    groups = [
        resource(LOG_GROUP, "a", {"retentionInDays": 90.0}),
        resource(LOG_GROUP, "b", {"retentionInDays": UNKNOWN}),
    ]
    assert_passes(
        "cloudwatch-log-group-retention",
        groups,
        {"cloudwatch-log-group-retention": {"minRetentionDays": 90}},
    )


def test_log_kms_fails(assert_violation):
    assert_violation(
        "cloudwatch-log-group-kms", [resource(LOG_GROUP, "training", {})], "is not encrypted"
    )


def test_log_kms_passes(assert_passes):
    assert_passes(
        "cloudwatch-log-group-kms", [resource(LOG_GROUP, "training", {"kmsKeyId": UNKNOWN})]
    )


def test_topic_kms_fails(assert_violation):
    assert_violation(
        "sns-topic-kms", [resource(TOPIC, "alerts", {})], "SNS topic 'alerts' is not encrypted"
    )


def test_topic_kms_passes(assert_passes):
    assert_passes("sns-topic-kms", [resource(TOPIC, "alerts", {"kmsMasterKeyId": "alias/aws/sns"})])


# --- endpoint alarms ------------------------------------------------------------------


def _endpoint(by_dependency):
    inputs = (
        {"endpointConfigName": "cfg"}
        if by_dependency
        else {"name": "churn", "endpointConfigName": "cfg"}
    )
    return resource(ENDPOINT, "churn", inputs)


def _alarm(name, metric, targets, *, by_dependency, actions=None):
    endpoint, topic = targets
    inputs = {
        "namespace": "AWS/SageMaker",
        "metricName": metric,
        "comparisonOperator": "GreaterThanThreshold",
        "evaluationPeriods": 3.0,
        "threshold": 1.0,
        "dimensions": {
            "EndpointName": UNKNOWN if by_dependency else "churn",
            "VariantName": "main",
        },
        "alarmActions": actions
        if actions is not None
        else ([UNKNOWN] if by_dependency else [TOPIC_ARN]),
    }
    deps = (
        {"dimensions": [endpoint["urn"]], "alarmActions": [topic["urn"]]} if by_dependency else None
    )
    return resource(ALARM, name, inputs, property_dependencies=deps)


def _stack(by_dependency, metrics=("ModelLatency", "Invocation5XXErrors")):
    topic = resource(TOPIC, "alerts", {"kmsMasterKeyId": "alias/aws/sns"})
    endpoint = _endpoint(by_dependency)
    alarms = [
        _alarm(f"churn-{m}", m, (endpoint, topic), by_dependency=by_dependency) for m in metrics
    ]
    return [topic, endpoint, *alarms]


@pytest.mark.parametrize("by_dependency", [False, True])
def test_latency_alarm_passes(assert_passes, by_dependency):
    assert_passes("sagemaker-endpoint-latency-alarm", _stack(by_dependency))


@pytest.mark.parametrize("by_dependency", [False, True])
def test_latency_alarm_fails_when_missing(assert_violation, by_dependency):
    stack = _stack(by_dependency, metrics=("Invocation5XXErrors",))
    found = assert_violation(
        "sagemaker-endpoint-latency-alarm", stack, "SageMaker endpoint 'churn' has no latency alarm"
    )
    assert found[0].urn.endswith("::churn") and "metric_name='ModelLatency'" in found[0].message


@pytest.mark.parametrize("by_dependency", [False, True])
def test_error_alarm_passes(assert_passes, by_dependency):
    assert_passes("sagemaker-endpoint-error-alarm", _stack(by_dependency))


@pytest.mark.parametrize("by_dependency", [False, True])
def test_error_alarm_fails_when_missing(assert_violation, by_dependency):
    assert_violation(
        "sagemaker-endpoint-error-alarm",
        _stack(by_dependency, metrics=("ModelLatency",)),
        "has no error alarm",
    )


def test_error_alarm_fails_without_sns_action(assert_violation):
    topic = resource(TOPIC, "alerts", {})
    endpoint = _endpoint(False)
    alarm = _alarm(
        "churn-errors",
        "Invocation5XXErrors",
        (endpoint, topic),
        by_dependency=False,
        actions=["arn:aws:autoscaling:eu-west-1:111122223333:scalingPolicy:x"],
    )
    assert_violation(
        "sagemaker-endpoint-error-alarm",
        [topic, endpoint, alarm],
        "The error alarm 'churn-errors' of SageMaker endpoint 'churn' notifies no SNS topic",
    )


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_every_silent_error_alarm_is_reported_whatever_the_order(assert_violation, order):
    topic = resource(TOPIC, "alerts", {})
    endpoint = _endpoint(False)
    alarms = [
        _alarm(name, metric, (endpoint, topic), by_dependency=False, actions=[])
        for name, metric in (
            ("churn-5xx", "Invocation5XXErrors"),
            ("churn-4xx", "Invocation4XXErrors"),
        )
    ]
    found = assert_violation(
        "sagemaker-endpoint-error-alarm",
        [topic, endpoint, *(alarms[i] for i in order)],
        "notifies no SNS topic",
    )
    reported = sorted(v.urn.rsplit("::", 1)[-1] for v in found)
    assert reported == ["churn-4xx", "churn-5xx"]


def test_alarm_for_another_endpoint_does_not_count(assert_violation):
    topic = resource(TOPIC, "alerts", {})
    churn, other = _endpoint(False), resource(ENDPOINT, "other", {"name": "other"})
    alarm = _alarm("other-latency", "ModelLatency", (other, topic), by_dependency=False)
    alarm["inputs"]["dimensions"] = {"EndpointName": "other"}
    found = assert_violation(
        "sagemaker-endpoint-latency-alarm", [topic, churn, other, alarm], "has no latency alarm"
    )
    assert [v.urn for v in found] == [churn["urn"]]


def test_alarm_with_unknown_actions_and_no_dependency_is_not_a_violation(assert_passes):
    topic = resource(TOPIC, "alerts", {})
    endpoint = _endpoint(False)
    alarm = _alarm(
        "churn-latency", "ModelLatency", (endpoint, topic), by_dependency=False, actions=UNKNOWN
    )
    assert_passes("sagemaker-endpoint-latency-alarm", [topic, endpoint, alarm])


def test_metric_math_alarm_counts(assert_passes):
    topic = resource(TOPIC, "alerts", {})
    endpoint = _endpoint(False)
    alarm = resource(
        ALARM,
        "churn-p99",
        {
            "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 1.0,
            "threshold": 1.0,
            "alarmActions": [TOPIC_ARN],
            "metricQueries": [
                {
                    "id": "m1",
                    "returnData": True,
                    "metric": {
                        "namespace": "AWS/SageMaker",
                        "metricName": "ModelLatency",
                        "period": 60.0,
                        "stat": "p99",
                        "dimensions": {"EndpointName": "churn", "VariantName": "main"},
                    },
                }
            ],
        },
    )
    assert_passes("sagemaker-endpoint-latency-alarm", [topic, endpoint, alarm])


def test_alarm_on_another_namespace_does_not_count(assert_violation):
    topic = resource(TOPIC, "alerts", {})
    endpoint = _endpoint(False)
    alarm = _alarm("churn-latency", "ModelLatency", (endpoint, topic), by_dependency=False)
    alarm["inputs"]["namespace"] = "Custom/MyApp"  # same metric name, not SageMaker's metric
    assert_violation(
        "sagemaker-endpoint-latency-alarm", [topic, endpoint, alarm], "has no latency alarm"
    )
