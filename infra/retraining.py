"""Retraining triggers: a schedule and quality alarms feed one encrypted SQS queue.

EventBridge turns each trigger into a retraining request,
`{"reason": "schedule" | "alarm", "alarm": <alarm name or null>, "state": <"ALARM" or null>,
"time": <event time>, "stack": <prefix>}`, and sends it to the queue that `ml/` (the
retraining job) consumes. Deliveries EventBridge cannot make, and messages the consumer
fails on three times, land in a dead-letter queue kept 14 days for inspection.

The queue is a standard queue: EventBridge delivers to FIFO queues only with a fixed
message group id and gives scheduled events no deduplication id, so FIFO buys nothing
here. Delivery is at least once; `ml/` deduplicates requests by (reason, alarm, time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from infra.naming import physical_name
from infra.tags import merge_tags

FOURTEEN_DAYS = 14 * 24 * 3600  # SQS's longest retention: time to notice and inspect
# A retraining run holds its message while the pipeline runs; if it dies, the message comes
# back after an hour for another attempt.
VISIBILITY_TIMEOUT_SECONDS = 3600
MAX_RECEIVE_COUNT = 3  # then the request goes to the dead-letter queue
# SQS reuses a KMS data key this long: the default, a balance between KMS calls and how
# much data one key protects (the traffic here is a few messages a day).
KMS_DATA_KEY_REUSE_SECONDS = 300
LONG_POLL_SECONDS = 20  # consumers wait for messages instead of polling empty queues
# EventBridge retries a failed delivery for up to a day (a trigger is still worth acting on
# then), then hands it to the dead-letter queue instead of dropping it.
MAX_EVENT_AGE_SECONDS = 86_400
MAX_RETRY_ATTEMPTS = 185
TARGET_ID = "retraining-queue"

Reason = Literal["schedule", "alarm"]


@dataclass(frozen=True)
class RetrainingArgs:
    prefix: str
    """Start of physical names (cfg.name_prefix); the request's `stack` field."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) merged into every taggable resource."""
    kms_key_arn: pulumi.Input[str]
    """Key that encrypts both queues (the logs key)."""
    schedule: str
    """EventBridge schedule expression: cron(...) or rate(...)."""
    alarm_arns: Sequence[pulumi.Input[str]] = ()
    """Alarms whose transition to ALARM requests retraining (drift, prediction drift,
    accuracy); none: only the schedule triggers."""


# ---------------------------------------------------------------------------- pure helpers


def alarm_event_pattern(alarm_arns: Sequence[str]) -> dict[str, Any]:
    """Matches the given alarms entering ALARM (not OK or INSUFFICIENT_DATA)."""
    if not alarm_arns:
        raise ValueError("an alarm event pattern needs at least one alarm ARN")
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": sorted(alarm_arns),
        "detail": {"state": {"value": ["ALARM"]}},
    }


def request_transformer(reason: Reason, prefix: str) -> tuple[dict[str, str], str]:
    """EventBridge input paths and template that build a retraining request.

    Placeholders sit inside JSON strings, so EventBridge inserts them as strings.
    """
    paths = {"time": "$.time"}
    request: dict[str, Any] = {
        "reason": reason,
        "alarm": None,
        "state": None,
        "time": "<time>",
        "stack": prefix,
    }
    if reason == "alarm":
        paths |= {"alarm": "$.detail.alarmName", "state": "$.detail.state.value"}
        request |= {"alarm": "<alarm>", "state": "<state>"}
    return paths, json.dumps(request)


def queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> dict[str, Any]:
    """Only this stack's EventBridge rules may send; TLS only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowRetrainingRules",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                # A Deny: every SQS action, including ones AWS adds later, needs TLS.
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def redrive_policy(dlq_arn: str) -> dict[str, Any]:
    return {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}


def redrive_allow_policy(source_queue_arns: Sequence[str]) -> dict[str, Any]:
    """Only the retraining queue may use the dead-letter queue."""
    return {"redrivePermission": "byQueue", "sourceQueueArns": list(source_queue_arns)}


# ---------------------------------------------------------------------------- component


class Retraining(pulumi.ComponentResource):
    """Schedule and alarm triggers that queue retraining requests."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    schedule_rule_arn: pulumi.Output[str]
    alarm_rule_arn: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: RetrainingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:retraining:Retraining", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def queue(role: str, physical: str, **extra: Any) -> aws.sqs.Queue:
            return aws.sqs.Queue(
                f"{name}-{role}",
                name=physical,
                # Requests name the stack and its alarms: encrypted with our key (also
                # required for EventBridge to deliver to an encrypted queue at all).
                kms_master_key_id=args.kms_key_arn,
                kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
                message_retention_seconds=FOURTEEN_DAYS,
                tags=merge_tags(args.tags, None, name=physical),
                opts=child,
                **extra,
            )

        dlq = queue("dlq", physical_name(args.prefix, "retraining-dlq", max_length=80))
        requests = queue(
            "queue",
            physical_name(args.prefix, "retraining", max_length=80),
            visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
            receive_wait_time_seconds=LONG_POLL_SECONDS,
            redrive_policy=dlq.arn.apply(lambda arn: json.dumps(redrive_policy(arn))),
        )
        # A separate resource: the queue names the DLQ and the DLQ names the queue.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=requests.arn.apply(
                lambda arn: json.dumps(redrive_allow_policy([arn]))
            ),
            opts=child,
        )

        schedule_name = physical_name(args.prefix, "retraining-schedule", max_length=64)
        schedule_rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=schedule_name,
            description=f"Scheduled retraining of {args.prefix}.",
            schedule_expression=args.schedule,
            tags=merge_tags(args.tags, None, name=schedule_name),
            opts=child,
        )
        rules: list[tuple[Reason, aws.cloudwatch.EventRule]] = [("schedule", schedule_rule)]
        alarm_rule = None
        if args.alarm_arns:
            alarm_name = physical_name(args.prefix, "retraining-alarm", max_length=64)
            alarm_rule = aws.cloudwatch.EventRule(
                f"{name}-alarm",
                name=alarm_name,
                description=f"Retrain {args.prefix} when a model-quality alarm fires.",
                event_pattern=pulumi.Output.all(*args.alarm_arns).apply(
                    lambda arns: json.dumps(alarm_event_pattern(arns))
                ),
                tags=merge_tags(args.tags, None, name=alarm_name),
                opts=child,
            )
            rules.append(("alarm", alarm_rule))

        rule_arns = [rule.arn for _, rule in rules]
        policies = [
            aws.sqs.QueuePolicy(
                f"{name}-{role}-policy",
                queue_url=target.url,
                policy=pulumi.Output.all(target.arn, *rule_arns).apply(
                    lambda values: json.dumps(queue_policy(values[0], values[1:]))
                ),
                opts=child,
            )
            # The DLQ receives EventBridge's failed deliveries: same senders, same policy.
            for role, target in (("queue", requests), ("dlq", dlq))
        ]

        # Targets after the policies: EventBridge cannot deliver until it may send.
        after_policies = pulumi.ResourceOptions(parent=self, depends_on=policies)
        for reason, rule in rules:
            paths, template = request_transformer(reason, args.prefix)
            aws.cloudwatch.EventTarget(
                f"{name}-{reason}-target",
                rule=rule.name,
                target_id=TARGET_ID,
                arn=requests.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=paths, input_template=template
                ),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
                    maximum_retry_attempts=MAX_RETRY_ATTEMPTS,
                ),
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn),
                opts=after_policies,
            )

        self.queue_url = requests.url
        self.queue_arn = requests.arn
        self.dlq_url = dlq.url
        self.dlq_arn = dlq.arn
        self.schedule_rule_arn = schedule_rule.arn
        self.alarm_rule_arn = (
            alarm_rule.arn.apply(lambda arn: arn) if alarm_rule else pulumi.Output.from_input(None)
        )
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dlq_url": self.dlq_url,
                "dlq_arn": self.dlq_arn,
                "schedule_rule_arn": self.schedule_rule_arn,
                "alarm_rule_arn": self.alarm_rule_arn,
            }
        )
