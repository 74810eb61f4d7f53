"""Retraining triggers: event pattern, request template and queue policy as data; the graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.naming import physical_name
from infra.plan import UNKNOWN, CapturedResource, Plan
from infra.retraining import (
    FOURTEEN_DAYS,
    KMS_DATA_KEY_REUSE_SECONDS,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_SECONDS,
    Reason,
    Retraining,
    RetrainingArgs,
    alarm_event_pattern,
    queue_policy,
    redrive_allow_policy,
    redrive_policy,
    request_transformer,
)
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
TAGS = {"project": "mlops-platform", "environment": "test", "owner": "ml-team"}
LOGS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"
ALARMS = [
    f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-alarm-{what}"
    for what in ("feature-drift", "prediction-drift", "accuracy")
]
SCHEDULE = "cron(0 3 ? * MON *)"
QUEUE_T = "aws:sqs/queue:Queue"
QUEUE_POLICY_T = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_ALLOW_T = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
RULE_T = "aws:cloudwatch/eventRule:EventRule"
TARGET_T = "aws:cloudwatch/eventTarget:EventTarget"
COMPONENT_T = "mlops:retraining:Retraining"
OUTPUTS = ("queue_url", "queue_arn", "dlq_url", "dlq_arn", "schedule_rule_arn", "alarm_rule_arn")
MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])


def _args(**overrides: Any) -> RetrainingArgs:
    values: dict[str, Any] = {
        "prefix": PREFIX,
        "tags": TAGS,
        "kms_key_arn": LOGS_KEY,
        "schedule": SCHEDULE,
        "alarm_arns": ALARMS,
    }
    return RetrainingArgs(**{**values, **overrides})


def _program(args: RetrainingArgs) -> Callable[[], None]:
    def program() -> None:
        retraining = Retraining("retrain", args)
        for key in OUTPUTS:
            pulumi.export(key, getattr(retraining, key))

    return program


def _run(args: RetrainingArgs, *, preview: bool = False) -> Plan:
    return plan_component(_program(args), region=REGION, preview=preview)


def _named(plan: Plan, name: str) -> CapturedResource:
    return plan.get(name)


def _one(plan: Plan, type_: str) -> CapturedResource:
    found = plan.by_type(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def _render(template: str, values: dict[str, str]) -> Any:
    """What EventBridge does: replace each <placeholder>, then the target gets the JSON."""
    for key, value in values.items():
        template = template.replace(f"<{key}>", value)
    return json.loads(template)


# ---------------------------------------------------------------------------- pure helpers


def test_alarm_event_pattern_matches_our_alarms_entering_alarm() -> None:
    pattern = alarm_event_pattern(ALARMS)
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert sorted(pattern["resources"]) == sorted(ALARMS)
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    with pytest.raises(ValueError, match="at least one"):
        alarm_event_pattern([])


def test_schedule_request() -> None:
    paths, template = request_transformer("schedule", PREFIX)
    assert paths == {"time": "$.time"}
    request = _render(template, {"time": "2024-05-06T03:00:00Z"})
    assert request == {
        "reason": "schedule",
        "alarm": None,
        "state": None,
        "time": "2024-05-06T03:00:00Z",
        "stack": PREFIX,
    }


def test_alarm_request() -> None:
    paths, template = request_transformer("alarm", PREFIX)
    assert paths == {
        "time": "$.time",
        "alarm": "$.detail.alarmName",
        "state": "$.detail.state.value",
    }
    values = {"time": "2024-05-06T10:11:12Z", "alarm": f"{PREFIX}-alarm-feature-drift"}
    request = _render(template, {**values, "state": "ALARM"})
    assert request == {
        "reason": "alarm",
        "alarm": values["alarm"],
        "state": "ALARM",
        "time": values["time"],
        "stack": PREFIX,
    }


@given(
    st.lists(
        st.from_regex(r"arn:aws:events:eu-west-1:\d{12}:rule/[a-z-]{1,20}", fullmatch=True),
        min_size=1,
        max_size=3,
    )
)
def test_queue_policy_admits_only_the_rules_and_requires_tls(rules: list[str]) -> None:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining"
    policy = queue_policy(queue, rules)
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == queue
    assert sorted(allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(rules)
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Resource"] == queue
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_redrive_documents() -> None:
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining-dlq"
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining"
    assert redrive_policy(dlq) == {"deadLetterTargetArn": dlq, "maxReceiveCount": MAX_RECEIVE_COUNT}
    assert redrive_allow_policy([queue]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [queue],
    }


# ---------------------------------------------------------------------------- the graph


@MODES
def test_children_are_parented_and_tagged(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    component = _one(plan, COMPONENT_T)
    children = plan.children(component)
    assert len(children) == len(plan.resources) - 1
    assert sorted(r.type for r in children) == sorted(
        [QUEUE_T] * 2 + [QUEUE_POLICY_T] * 2 + [REDRIVE_ALLOW_T] + [RULE_T] * 2 + [TARGET_T] * 2
    )
    for resource in children:
        if resource.type in (QUEUE_T, RULE_T):
            tags = resource.inputs["tags"]
            assert {k: tags[k] for k in TAGS} == TAGS, resource.name
            assert tags["Name"] == resource.inputs["name"]


@MODES
def test_queues_are_encrypted_and_keep_messages_14_days(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    queue, dlq = _named(plan, "retrain-queue"), _named(plan, "retrain-dlq")
    assert queue.inputs["name"] == physical_name(PREFIX, "retraining")
    assert dlq.inputs["name"] == physical_name(PREFIX, "retraining-dlq")
    for resource in (queue, dlq):
        assert resource.inputs["kmsMasterKeyId"] == LOGS_KEY
        assert resource.inputs["kmsDataKeyReusePeriodSeconds"] == KMS_DATA_KEY_REUSE_SECONDS
        assert resource.inputs["messageRetentionSeconds"] == FOURTEEN_DAYS == 1_209_600
        assert "sqsManagedSseEnabled" not in resource.inputs
        assert "fifoQueue" not in resource.inputs  # standard queue (see module docstring)
    assert queue.inputs["visibilityTimeoutSeconds"] == VISIBILITY_TIMEOUT_SECONDS


@MODES
def test_queue_redrives_to_the_dlq_and_only_it_may(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    queue, dlq = _named(plan, "retrain-queue"), _named(plan, "retrain-dlq")
    assert queue.property_dependencies["redrivePolicy"] == (dlq.urn,)
    allow = _one(plan, REDRIVE_ALLOW_T)
    assert allow.property_dependencies["queueUrl"] == (dlq.urn,)
    assert allow.property_dependencies["redriveAllowPolicy"] == (queue.urn,)
    if preview:
        assert queue.inputs["redrivePolicy"] == UNKNOWN
        return
    assert json.loads(queue.inputs["redrivePolicy"]) == redrive_policy(dlq.outputs["arn"])
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == redrive_allow_policy(
        [queue.outputs["arn"]]
    )
    assert allow.inputs["queueUrl"] == dlq.outputs["url"]


@MODES
def test_rules(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    schedule, alarm = _named(plan, "retrain-schedule"), _named(plan, "retrain-alarm")
    assert schedule.inputs["scheduleExpression"] == SCHEDULE
    assert "eventPattern" not in schedule.inputs
    assert json.loads(alarm.inputs["eventPattern"]) == alarm_event_pattern(ALARMS)
    assert "scheduleExpression" not in alarm.inputs


@MODES
def test_alarm_rule_depends_on_the_alarms_it_watches(preview: bool) -> None:
    import pulumi_aws as aws

    def program() -> None:
        alarm = aws.cloudwatch.MetricAlarm(
            "drift",
            name=f"{PREFIX}-alarm-feature-drift",
            namespace="MLOps",
            metric_name="FeatureDrift",
            comparison_operator="GreaterThanThreshold",
            threshold=0.2,
            period=3600,
            evaluation_periods=1,
            statistic="Maximum",
        )
        Retraining("retrain", _args(alarm_arns=[alarm.arn]))

    plan = plan_component(program, region=REGION, preview=preview)
    alarm, rule = _named(plan, "drift"), _named(plan, "retrain-alarm")
    assert rule.property_dependencies["eventPattern"] == (alarm.urn,)
    if preview:
        assert rule.inputs["eventPattern"] == UNKNOWN  # the alarm's ARN is not known yet
    else:
        pattern = json.loads(rule.inputs["eventPattern"])
        assert pattern["resources"] == [alarm.outputs["arn"]]


@MODES
def test_queue_policies_admit_only_the_rules(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    rules = [_named(plan, "retrain-schedule"), _named(plan, "retrain-alarm")]
    for queue_name in ("retrain-queue", "retrain-dlq"):
        queue = _named(plan, queue_name)
        policy = _named(plan, f"{queue_name}-policy")
        assert policy.property_dependencies["queueUrl"] == (queue.urn,)
        assert set(policy.property_dependencies["policy"]) == {queue.urn} | {r.urn for r in rules}
        if preview:
            continue
        expected = queue_policy(queue.outputs["arn"], [r.outputs["arn"] for r in rules])
        assert json.loads(policy.inputs["policy"]) == expected


@MODES
def test_targets_send_requests_to_the_queue_with_a_dlq(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    queue, dlq = _named(plan, "retrain-queue"), _named(plan, "retrain-dlq")
    policies = {_named(plan, "retrain-queue-policy").urn, _named(plan, "retrain-dlq-policy").urn}
    reasons: tuple[Reason, ...] = ("schedule", "alarm")
    for reason in reasons:
        rule, target = _named(plan, f"retrain-{reason}"), _named(plan, f"retrain-{reason}-target")
        assert target.property_dependencies["arn"] == (queue.urn,)
        assert target.property_dependencies["rule"] == (rule.urn,)
        assert target.property_dependencies["deadLetterConfig"] == (dlq.urn,)
        assert policies <= set(target.dependencies)  # deliveries are allowed before they start
        assert target.inputs["rule"] == rule.inputs["name"]
        if not preview:
            assert target.inputs["arn"] == queue.outputs["arn"]
            assert target.inputs["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
        retry = target.inputs["retryPolicy"]
        assert retry["maximumEventAgeInSeconds"] > 0 and retry["maximumRetryAttempts"] > 0
        paths, template = request_transformer(reason, PREFIX)
        assert target.inputs["inputTransformer"] == {
            "inputPaths": paths,
            "inputTemplate": template,
        }


@MODES
def test_no_alarms_means_schedule_only(preview: bool) -> None:
    plan = _run(_args(alarm_arns=()), preview=preview)
    assert [r.name for r in plan.by_type(RULE_T)] == ["retrain-schedule"]
    assert [r.name for r in plan.by_type(TARGET_T)] == ["retrain-schedule-target"]
    policy = _named(plan, "retrain-queue-policy")
    if not preview:
        statement = json.loads(policy.inputs["policy"])["Statement"][0]
        schedule = _named(plan, "retrain-schedule")
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [schedule.outputs["arn"]]
    assert plan.outputs["alarm_rule_arn"] is None


def test_outputs() -> None:
    plan = _run(_args())
    queue, dlq = _named(plan, "retrain-queue"), _named(plan, "retrain-dlq")
    assert plan.outputs == {
        "queue_url": queue.outputs["url"],
        "queue_arn": queue.outputs["arn"],
        "dlq_url": dlq.outputs["url"],
        "dlq_arn": dlq.outputs["arn"],
        "schedule_rule_arn": _named(plan, "retrain-schedule").outputs["arn"],
        "alarm_rule_arn": _named(plan, "retrain-alarm").outputs["arn"],
    }


def test_outputs_in_preview() -> None:
    assert set(_run(_args(), preview=True).outputs.values()) == {UNKNOWN}
