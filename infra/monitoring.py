"""Monitoring: log groups, an encrypted alert topic, alarms and a dashboard.

Alarms have deterministic names (`infra.naming.alarm_name`) so the endpoint can list its
rollback alarms (`rollback_alarm_names(prefix)`) before they exist, without a dependency
cycle: the alarms reference the endpoint by its deterministic name, never by an output.

Two families of alarms:
- endpoint health (only when the stack serves a model): p99 model latency, 5xx and 4xx
  errors, low traffic, and instance CPU / memory / disk, from SageMaker's own metrics;
- model quality (always): feature drift, prediction drift and live accuracy, custom
  metrics that `ml/` publishes under `METRICS_NAMESPACE` with the dimensions
  `METRIC_DIMENSIONS` (Stack = prefix, EndpointName = the endpoint's name). These are
  what `infra.retraining` reacts to.

Every alarm notifies the alert topic both when it fires and when it recovers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.naming import alarm_name, physical_name
from infra.outputs import (
    ACCURACY_METRIC,
    FEATURE_DRIFT_METRIC,
    METRIC_DIMENSIONS,
    METRICS_NAMESPACE,
    PREDICTION_DRIFT_METRIC,
)
from infra.tags import merge_tags

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"  # CPU, memory and disk of endpoint instances

# Alarm keys: the `what` of alarm_name(prefix, what).
LATENCY = "latency-p99"
SERVER_ERRORS = "5xx-errors"
CLIENT_ERRORS = "4xx-errors"
LOW_INVOCATIONS = "low-invocations"
CPU = "cpu"
MEMORY = "memory"
DISK = "disk"
FEATURE_DRIFT = "feature-drift"
PREDICTION_DRIFT = "prediction-drift"
ACCURACY = "accuracy"
ROLLBACK_KEYS = (LATENCY, SERVER_ERRORS)

# Endpoint metrics arrive every minute: latency is judged on 3 of the last 5 minutes (fast
# enough to roll back within one bake period, robust to a single slow minute); error and
# traffic counts per 5 minutes, as the config describes them; utilisation over 15 minutes,
# since only sustained load matters.
LATENCY_PERIOD, LATENCY_EVALUATIONS, LATENCY_DATAPOINTS = 60, 5, 3
COUNT_PERIOD = 300
UTILISATION_PERIOD, UTILISATION_EVALUATIONS = 300, 3
# ml/ publishes quality metrics per monitoring run (hourly or daily): an hourly period and a
# day-long window with 1 breaching point keep the alarm in ALARM for a day after a bad run,
# so it does not flap between runs and EventBridge sees one ALARM transition per episode.
QUALITY_PERIOD, QUALITY_EVALUATIONS = 3600, 24
MICROSECONDS_PER_MS = 1000  # ModelLatency is reported in microseconds


@dataclass(frozen=True)
class AlarmThresholds:
    latency_p99_ms: int
    """Alarm when p99 model latency exceeds this many milliseconds."""
    server_errors: int
    """Alarm at this many 5xx errors in 5 minutes."""
    client_errors: int
    """Alarm at this many 4xx errors in 5 minutes."""
    min_invocations: int
    """Alarm when 5-minute invocations drop below this (0: no alarm)."""
    cpu_percent: int
    """Alarm on average CPU utilisation per core, in percent."""
    memory_percent: int
    """Alarm on instance memory utilisation, in percent."""
    disk_percent: int
    """Alarm on instance disk utilisation, in percent."""
    min_accuracy: float
    """Alarm when live accuracy drops below this."""
    prediction_drift: float
    """Alarm when prediction drift (PSI) exceeds this."""
    drift_threshold: float
    """Alarm (and retrain) when feature drift (PSI) exceeds this."""


@dataclass(frozen=True)
class MonitoringArgs:
    prefix: str
    """Start of physical names (cfg.name_prefix); also the Stack metric dimension."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) merged into every taggable resource."""
    region: str
    """AWS region, for the dashboard's widgets."""
    logs_kms_key_arn: pulumi.Input[str]
    """Key that encrypts the log groups and the alert topic."""
    thresholds: AlarmThresholds
    """Alarm thresholds (cfg.monitoring plus cfg.retraining.drift_threshold)."""
    endpoint_name: str
    """The stack's deterministic endpoint name (infra.naming.endpoint_name)."""
    endpoint_deployed: bool
    """Whether the stack serves a model: endpoint alarms and log group only then."""
    instance_type: str
    """Endpoint instance type: its vCPU count scales the CPU alarm."""
    log_retention_days: int
    """Retention of the log groups (a value CloudWatch Logs accepts)."""
    alert_emails: Sequence[str] = ()
    """Addresses subscribed to the alert topic (each must confirm by e-mail)."""
    variant_name: str = "primary"
    """Production variant whose metrics the endpoint alarms watch."""


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm, as data."""

    key: str
    description: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    statistic: str | None = None
    extended_statistic: str | None = None


# ---------------------------------------------------------------------------- pure helpers


def rollback_alarm_names(prefix: str) -> list[str]:
    """Alarms whose firing rolls a blue/green deployment back: p99 latency and 5xx errors.

    Pure, so the lead can pass them to the endpoint before this component exists.
    """
    return [alarm_name(prefix, key) for key in ROLLBACK_KEYS]


def log_group_names(prefix: str, endpoint: str, endpoint_deployed: bool) -> list[str]:
    names = [f"/mlops/{prefix}/pipeline"]
    if endpoint_deployed:
        names.append(f"/aws/sagemaker/Endpoints/{endpoint}")  # where SageMaker writes
    return names


def instance_vcpus(instance_type: str) -> int:
    """vCPUs of an `ml.<family>.<size>` type, from its size (AWS's naming is regular).

    large = 2, xlarge = 4, Nxlarge = 4N; medium = 2 for burstable t-types, 1 otherwise
    (Graviton). Unknown sizes count as 1, which makes the CPU alarm stricter, never laxer.
    """
    parts = instance_type.split(".")
    family, size = (parts[1], parts[2]) if len(parts) == 3 else ("", instance_type)
    if size == "medium":
        return 2 if family.startswith("t") else 1
    if size == "large":
        return 2
    match = re.fullmatch(r"(\d*)xlarge", size)
    if match:
        return 4 * int(match[1] or 1)
    return 1


def endpoint_dimensions(endpoint: str, variant: str) -> dict[str, str]:
    return {"EndpointName": endpoint, "VariantName": variant}


def quality_dimensions(prefix: str, endpoint: str) -> dict[str, str]:
    """Dimensions of the custom metrics ml/ publishes (METRIC_DIMENSIONS, in order)."""
    return dict(zip(METRIC_DIMENSIONS, (prefix, endpoint), strict=True))


def alarm_specs(
    prefix: str,
    endpoint: str,
    thresholds: AlarmThresholds,
    *,
    endpoint_deployed: bool,
    instance_type: str = "ml.m5.large",
    variant: str = "primary",
) -> list[AlarmSpec]:
    """Every alarm of the stack, as data."""
    specs: list[AlarmSpec] = []
    if endpoint_deployed:
        specs += _endpoint_specs(endpoint, variant, thresholds, instance_type)
    specs += _quality_specs(prefix, endpoint, thresholds)
    return specs


def _endpoint_specs(
    endpoint: str, variant: str, t: AlarmThresholds, instance_type: str
) -> list[AlarmSpec]:
    dims = endpoint_dimensions(endpoint, variant)
    # SageMaker emits latency and error metrics only for requests it served: no data means
    # no traffic, which is not a latency or error problem (the low-traffic alarm covers it).
    quiet = "notBreaching"

    def count(key: str, metric: str, threshold: int, what: str) -> AlarmSpec:
        return AlarmSpec(
            key=key,
            description=f"{endpoint}: {threshold} or more {what} in 5 minutes.",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric,
            dimensions=dims,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=float(threshold),
            period=COUNT_PERIOD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=quiet,
            statistic="Sum",
        )

    def utilisation(key: str, metric: str, threshold: float, what: str) -> AlarmSpec:
        return AlarmSpec(
            key=key,
            description=f"{endpoint}: {what} above the threshold for 15 minutes.",
            namespace=INSTANCE_NAMESPACE,
            metric_name=metric,
            dimensions=dims,
            comparison="GreaterThanThreshold",
            threshold=threshold,
            period=UTILISATION_PERIOD,
            evaluation_periods=UTILISATION_EVALUATIONS,
            datapoints_to_alarm=UTILISATION_EVALUATIONS,
            # Instances report every minute while they run; a gap means instances are being
            # replaced (a blue/green swap), which is not a capacity problem.
            treat_missing_data=quiet,
            statistic="Average",
        )

    vcpus = instance_vcpus(instance_type)
    specs = [
        AlarmSpec(
            key=LATENCY,
            description=(
                f"{endpoint}: p99 model latency above {t.latency_p99_ms} ms in 3 of 5 "
                "minutes. Rolls a blue/green deployment back."
            ),
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="ModelLatency",
            dimensions=dims,
            comparison="GreaterThanThreshold",
            threshold=float(t.latency_p99_ms * MICROSECONDS_PER_MS),
            period=LATENCY_PERIOD,
            evaluation_periods=LATENCY_EVALUATIONS,
            datapoints_to_alarm=LATENCY_DATAPOINTS,
            treat_missing_data=quiet,
            extended_statistic="p99",
        ),
        count(SERVER_ERRORS, "Invocation5XXErrors", t.server_errors, "5xx errors"),
        count(CLIENT_ERRORS, "Invocation4XXErrors", t.client_errors, "4xx errors"),
        # CPUUtilization is summed over cores (0 to vCPUs x 100 %); scaling the threshold
        # by the vCPU count makes cpu_percent the average per core, as people read it.
        utilisation(CPU, "CPUUtilization", float(t.cpu_percent * vcpus), "CPU per core"),
        utilisation(MEMORY, "MemoryUtilization", float(t.memory_percent), "memory use"),
        utilisation(DISK, "DiskUtilization", float(t.disk_percent), "disk use"),
    ]
    if t.min_invocations > 0:
        specs.append(
            AlarmSpec(
                key=LOW_INVOCATIONS,
                description=f"{endpoint}: fewer than {t.min_invocations} invocations in 5 minutes.",
                namespace=SAGEMAKER_NAMESPACE,
                metric_name="Invocations",
                dimensions=dims,
                comparison="LessThanThreshold",
                threshold=float(t.min_invocations),
                period=COUNT_PERIOD,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                # No datapoint means no invocation at all: exactly what this alarm is for.
                treat_missing_data="breaching",
                statistic="Sum",
            )
        )
    return specs


def _quality_specs(prefix: str, endpoint: str, t: AlarmThresholds) -> list[AlarmSpec]:
    dims = quality_dimensions(prefix, endpoint)

    def quality(key: str, metric: str, low_is_bad: bool, threshold: float, what: str) -> AlarmSpec:
        return AlarmSpec(
            key=key,
            description=f"{endpoint}: {what} in the last 24 hours. Triggers retraining.",
            namespace=METRICS_NAMESPACE,
            metric_name=metric,
            dimensions=dims,
            # The worst value of the period decides: the lowest accuracy, the highest drift.
            comparison="LessThanThreshold" if low_is_bad else "GreaterThanThreshold",
            threshold=threshold,
            period=QUALITY_PERIOD,
            evaluation_periods=QUALITY_EVALUATIONS,
            datapoints_to_alarm=1,
            # ml/ publishes only when it has evaluated something (e.g. no labels yet means
            # no accuracy): silence is not evidence of drift or of a worse model.
            treat_missing_data="notBreaching",
            statistic="Minimum" if low_is_bad else "Maximum",
        )

    return [
        quality(
            FEATURE_DRIFT,
            FEATURE_DRIFT_METRIC,
            False,
            t.drift_threshold,
            f"feature drift (PSI) above {t.drift_threshold}",
        ),
        quality(
            PREDICTION_DRIFT,
            PREDICTION_DRIFT_METRIC,
            False,
            t.prediction_drift,
            f"prediction drift (PSI) above {t.prediction_drift}",
        ),
        quality(
            ACCURACY, ACCURACY_METRIC, True, t.min_accuracy, f"live accuracy below {t.min_accuracy}"
        ),
    ]


def arn_account(arn: str) -> str:
    """The account id field of an ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or not re.fullmatch(r"\d{12}", parts[4]):
        raise ValueError(f"{arn!r} is not an ARN with an account id")
    return parts[4]


def topic_policy(topic_arn: str) -> dict[str, Any]:
    """Only CloudWatch alarms and EventBridge rules of this account publish; TLS only."""
    account = arn_account(topic_arn)

    def service(sid: str, principal: str) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            # Confused-deputy guard: the service acts for this account only.
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }

    return {
        "Version": "2012-10-17",
        "Statement": [
            service("AllowCloudWatchAlarms", "cloudwatch.amazonaws.com"),
            service("AllowEventBridgeRules", "events.amazonaws.com"),
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["sns:Publish", "sns:Subscribe"],
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def subscription_suffix(email: str) -> str:
    """Stable per address (no shifting indexes) without putting the address in the URN."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]


def _metric(namespace: str, metric: str, dims: Mapping[str, str], **opts: Any) -> list[Any]:
    line: list[Any] = [namespace, metric]
    for key, value in dims.items():
        line += [key, value]
    return [*line, opts] if opts else line


def _widget(
    title: str, metrics: list[list[Any]], lines: list[dict[str, Any]], **props: Any
) -> dict[str, Any]:
    """A time-series widget; `lines` are horizontal annotations at the alarm thresholds."""
    if lines:
        props["annotations"] = {"horizontal": lines}
    return {"type": "metric", "properties": {"title": title, "metrics": metrics, **props}}


def _line(label: str, value: float) -> dict[str, Any]:
    return {"label": label, "value": value}


def dashboard_body(
    *,
    region: str,
    prefix: str,
    endpoint: str,
    thresholds: AlarmThresholds,
    instance_type: str = "ml.m5.large",
    variant: str = "primary",
) -> dict[str, Any]:
    """CloudWatch dashboard JSON: serving health first, then model quality."""
    t = thresholds
    ep = endpoint_dimensions(endpoint, variant)
    quality = quality_dimensions(prefix, endpoint)
    vcpus = instance_vcpus(instance_type)
    common = {"region": region, "view": "timeSeries"}
    serving = {**common, "period": 60}
    widgets = [
        _widget(
            "Model latency p99 (ms)",
            [
                _metric(
                    SAGEMAKER_NAMESPACE, "ModelLatency", ep, stat="p99", id="m1", visible=False
                ),
                [{"expression": f"m1/{MICROSECONDS_PER_MS}", "label": "p99 (ms)", "id": "e1"}],
            ],
            [_line("alarm", t.latency_p99_ms)],
            **serving,
        ),
        _widget(
            "Invocation errors (per 5 minutes)",
            [
                _metric(SAGEMAKER_NAMESPACE, "Invocation5XXErrors", ep, stat="Sum"),
                _metric(SAGEMAKER_NAMESPACE, "Invocation4XXErrors", ep, stat="Sum"),
            ],
            [_line("5xx alarm", t.server_errors), _line("4xx alarm", t.client_errors)],
            **{**common, "period": COUNT_PERIOD},
        ),
        _widget(
            "Invocations (per 5 minutes)",
            [_metric(SAGEMAKER_NAMESPACE, "Invocations", ep, stat="Sum")],
            [_line("low-traffic alarm", t.min_invocations)] if t.min_invocations else [],
            **{**common, "period": COUNT_PERIOD},
        ),
        _widget(
            "Instance utilisation (%)",
            [
                _metric(INSTANCE_NAMESPACE, "CPUUtilization", ep, id="cpu", visible=False),
                [{"expression": f"cpu/{vcpus}", "label": "CPU per core", "id": "cpu_core"}],
                _metric(INSTANCE_NAMESPACE, "MemoryUtilization", ep),
                _metric(INSTANCE_NAMESPACE, "DiskUtilization", ep),
            ],
            [
                _line("CPU alarm", t.cpu_percent),
                _line("memory alarm", t.memory_percent),
                _line("disk alarm", t.disk_percent),
            ],
            stat="Average",
            **serving,
        ),
        _widget(
            "Feature drift (max PSI)",
            [_metric(METRICS_NAMESPACE, FEATURE_DRIFT_METRIC, quality, stat="Maximum")],
            [_line("retrain", t.drift_threshold)],
            **{**common, "period": QUALITY_PERIOD},
        ),
        _widget(
            "Prediction drift (max PSI)",
            [_metric(METRICS_NAMESPACE, PREDICTION_DRIFT_METRIC, quality, stat="Maximum")],
            [_line("alarm", t.prediction_drift)],
            **{**common, "period": QUALITY_PERIOD},
        ),
        _widget(
            "Accuracy (min)",
            [_metric(METRICS_NAMESPACE, ACCURACY_METRIC, quality, stat="Minimum")],
            [_line("alarm", t.min_accuracy)],
            **{**common, "period": QUALITY_PERIOD},
        ),
    ]
    width, height = 12, 6
    for index, widget in enumerate(widgets):
        widget.update(x=(index % 2) * width, y=(index // 2) * height, width=width, height=height)
    return {"widgets": widgets}


# ---------------------------------------------------------------------------- component


class Monitoring(pulumi.ComponentResource):
    """Alarms on the endpoint and on model quality, an alert topic, logs and a dashboard."""

    rollback_alarm_names: pulumi.Output[list[str]]
    drift_alarm_arn: pulumi.Output[str]
    prediction_drift_alarm_arn: pulumi.Output[str]
    accuracy_alarm_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    log_group_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{role}-logs",
                name=group,
                # Logs hold request details and stack traces: bounded retention (audit
                # without keeping data forever) and our key rather than the default one.
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_kms_key_arn,
                tags=merge_tags(args.tags, None, name=group),
                opts=child,
            )
            for role, group in zip(
                ("pipeline", "endpoint"),
                log_group_names(args.prefix, args.endpoint_name, args.endpoint_deployed),
                strict=False,
            )
        ]

        topic_name = physical_name(args.prefix, "alerts", max_length=256)
        topic = aws.sns.Topic(
            f"{name}-alerts",
            name=topic_name,
            # Alerts name endpoints, thresholds and model behaviour: encrypted at rest.
            kms_master_key_id=args.logs_kms_key_arn,
            tags=merge_tags(args.tags, None, name=topic_name),
            opts=child,
        )
        policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: json.dumps(topic_policy(arn))),
            opts=child,
        )
        for email in args.alert_emails:
            aws.sns.TopicSubscription(
                f"{name}-email-{subscription_suffix(email)}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )

        specs = alarm_specs(
            args.prefix,
            args.endpoint_name,
            args.thresholds,
            endpoint_deployed=args.endpoint_deployed,
            instance_type=args.instance_type,
            variant=args.variant_name,
        )
        # After the topic policy: an alarm that fires before CloudWatch may publish loses
        # its notification.
        after_policy = pulumi.ResourceOptions(parent=self, depends_on=[policy])
        alarms = {
            spec.key: self._alarm(name, args, spec, topic.arn, after_policy) for spec in specs
        }

        dashboard_name = physical_name(args.prefix, "ml", max_length=255)
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=json.dumps(
                dashboard_body(
                    region=args.region,
                    prefix=args.prefix,
                    endpoint=args.endpoint_name,
                    thresholds=args.thresholds,
                    instance_type=args.instance_type,
                    variant=args.variant_name,
                )
            ),
            opts=child,
        )

        rollback = [alarms[key].name for key in ROLLBACK_KEYS if key in alarms]
        self.rollback_alarm_names = pulumi.Output.all(*rollback).apply(list)
        self.drift_alarm_arn = alarms[FEATURE_DRIFT].arn
        self.prediction_drift_alarm_arn = alarms[PREDICTION_DRIFT].arn
        self.accuracy_alarm_arn = alarms[ACCURACY].arn
        self.alarm_names = pulumi.Output.all(*(a.name for a in alarms.values())).apply(list)
        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.log_group_names = pulumi.Output.all(*(g.name for g in log_groups)).apply(list)
        self.register_outputs(
            {
                "rollback_alarm_names": self.rollback_alarm_names,
                "drift_alarm_arn": self.drift_alarm_arn,
                "prediction_drift_alarm_arn": self.prediction_drift_alarm_arn,
                "accuracy_alarm_arn": self.accuracy_alarm_arn,
                "alarm_names": self.alarm_names,
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "log_group_names": self.log_group_names,
            }
        )

    @staticmethod
    def _alarm(
        name: str,
        args: MonitoringArgs,
        spec: AlarmSpec,
        topic_arn: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.MetricAlarm:
        physical = alarm_name(args.prefix, spec.key)
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}",
            name=physical,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=dict(spec.dimensions),
            statistic=spec.statistic,
            extended_statistic=spec.extended_statistic,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data,
            # Notify on recovery too, so on-call knows when an incident is over.
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=merge_tags(args.tags, None, name=physical),
            opts=opts,
        )
