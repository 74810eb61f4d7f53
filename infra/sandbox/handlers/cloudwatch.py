"""CloudWatch: log groups, metric alarms, dashboards, and EventBridge rules and targets.

pulumi-aws files them all under `aws:cloudwatch/...`; the APIs behind them are CloudWatch
Logs (`logs`), CloudWatch (`cloudwatch`) and EventBridge (`events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    Context,
    Fields,
    Handler,
    HandlerError,
    PutHandler,
    given,
    gone_is_fine,
    mapped,
    mapped_each,
    mapped_one,
    physical_name,
    retag,
    tags_list,
)

DEFAULT_EVENT_BUS = "default"


def _dimensions(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in values.items()]


def _unsupported(type_token: str, inputs: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    present = [key for key in keys if inputs.get(key) is not None]
    if present:
        raise HandlerError(
            f"{type_token}: the sandbox does not emulate {', '.join(present)}. Fix: leave "
            "them out of the sandbox stack, or deploy with --engine pulumi."
        )


# --- CloudWatch Logs ------------------------------------------------------------------------


class LogGroup(Handler):
    """A log group; its id is the name. Its KMS key and retention change in place (AWS has
    AssociateKmsKey/DisassociateKmsKey and retention policies); its class cannot."""

    type_token = "aws:cloudwatch/logGroup:LogGroup"
    id_is_name = True
    replace_on = frozenset({"name", "namePrefix", "logGroupClass"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        logs = ctx.client("logs")
        name = physical_name(ctx, inputs, max_length=512)
        request: dict[str, Any] = {
            "logGroupName": name,
            **given(inputs, {"kmsKeyId": "kmsKeyId", "logGroupClass": "logGroupClass"}),
        }
        if inputs.get("deletionProtectionEnabled") is not None:
            request["deletionProtectionEnabled"] = bool(inputs["deletionProtectionEnabled"])
        if inputs.get("tags"):
            request["tags"] = dict(inputs["tags"])
        logs.create_log_group(**request)
        # 0 (the provider's default) means "never expire": no retention policy at all.
        if inputs.get("retentionInDays"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(inputs["retentionInDays"])
            )
        return name, self._outputs(ctx, name, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        logs = ctx.client("logs")
        if old_inputs.get("kmsKeyId") != new_inputs.get("kmsKeyId"):
            if new_inputs.get("kmsKeyId"):
                logs.associate_kms_key(logGroupName=rid, kmsKeyId=new_inputs["kmsKeyId"])
            else:
                logs.disassociate_kms_key(logGroupName=rid)
        if old_inputs.get("retentionInDays") != new_inputs.get("retentionInDays"):
            if new_inputs.get("retentionInDays"):
                logs.put_retention_policy(
                    logGroupName=rid, retentionInDays=int(new_inputs["retentionInDays"])
                )
            else:
                logs.delete_retention_policy(logGroupName=rid)
        if old_inputs.get("deletionProtectionEnabled") != new_inputs.get(
            "deletionProtectionEnabled"
        ):
            logs.put_log_group_deletion_protection(
                logGroupIdentifier=rid,
                deletionProtectionEnabled=bool(new_inputs.get("deletionProtectionEnabled")),
            )
        arn = old_outputs["arn"]
        retag(
            old_inputs,
            new_inputs,
            lambda tags: logs.tag_resource(resourceArn=arn, tags=tags),
            lambda keys: logs.untag_resource(resourceArn=arn, tagKeys=keys),
        )
        return self._outputs(ctx, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        if outputs.get("skipDestroy"):
            return  # the provider then only forgets the group; its logs stay
        with gone_is_fine():
            ctx.client("logs").delete_log_group(logGroupName=rid)

    @staticmethod
    def _outputs(ctx: Context, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        # The provider reports the ARN without the ":*" that DescribeLogGroups appends.
        return {
            "name": name,
            "arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name}",
            "tagsAll": dict(inputs.get("tags") or {}),
        }


# --- CloudWatch metric alarms and dashboards ------------------------------------------------

_METRIC_QUERY: Fields = {
    "id": ("Id", str),
    "expression": ("Expression", str),
    "label": ("Label", str),
    "returnData": ("ReturnData", bool),
    "period": ("Period", int),
    "accountId": ("AccountId", str),
    "metric": (
        "MetricStat",
        lambda metric: {
            "Metric": mapped(
                metric,
                {
                    "metricName": ("MetricName", str),
                    "namespace": ("Namespace", str),
                    "dimensions": ("Dimensions", _dimensions),
                },
            ),
            **mapped(
                metric, {"period": ("Period", int), "stat": ("Stat", str), "unit": ("Unit", str)}
            ),
        },
    ),
}
_ALARM: Fields = {
    "comparisonOperator": ("ComparisonOperator", str),
    "evaluationPeriods": ("EvaluationPeriods", int),
    "datapointsToAlarm": ("DatapointsToAlarm", int),
    "threshold": ("Threshold", float),
    "thresholdMetricId": ("ThresholdMetricId", str),
    "metricName": ("MetricName", str),
    "namespace": ("Namespace", str),
    "period": ("Period", int),
    "statistic": ("Statistic", str),
    "extendedStatistic": ("ExtendedStatistic", str),
    "unit": ("Unit", str),
    "dimensions": ("Dimensions", _dimensions),
    "metricQueries": ("Metrics", mapped_each(_METRIC_QUERY)),
    "alarmDescription": ("AlarmDescription", str),
    "actionsEnabled": ("ActionsEnabled", bool),
    "alarmActions": ("AlarmActions", list),
    "okActions": ("OKActions", list),
    "insufficientDataActions": ("InsufficientDataActions", list),
    "treatMissingData": ("TreatMissingData", str),
    "evaluateLowSampleCountPercentiles": ("EvaluateLowSampleCountPercentile", str),
}
# Newer alarm kinds (PromQL criteria, wall-clock windows, warm-up) the sandbox does not map.
_ALARM_UNSUPPORTED = (
    "evaluationCriteria",
    "evaluationInterval",
    "evaluationWindow",
    "warmUpConfiguration",
)


class MetricAlarm(Handler):
    """A metric alarm; its id is the alarm name. PutMetricAlarm replaces the whole alarm
    definition under the same name, so every change but the name is an update in place."""

    type_token = "aws:cloudwatch/metricAlarm:MetricAlarm"
    id_is_name = True
    replace_on = frozenset({"name"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        _unsupported(self.type_token, inputs, _ALARM_UNSUPPORTED)
        name = inputs.get("name") or ctx.auto_name(max_length=255)
        request = {"AlarmName": name, **mapped(inputs, _ALARM)}
        if inputs.get("tags"):
            request["Tags"] = tags_list(inputs["tags"])
        ctx.client("cloudwatch").put_metric_alarm(**request)
        return name, self._outputs(ctx, name, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        _unsupported(self.type_token, new_inputs, _ALARM_UNSUPPORTED)
        cloudwatch = ctx.client("cloudwatch")
        # Tags given to PutMetricAlarm apply only when it creates the alarm: retag apart.
        cloudwatch.put_metric_alarm(AlarmName=rid, **mapped(new_inputs, _ALARM))
        arn = old_outputs["arn"]
        retag(
            old_inputs,
            new_inputs,
            lambda tags: cloudwatch.tag_resource(ResourceARN=arn, Tags=tags_list(tags)),
            lambda keys: cloudwatch.untag_resource(ResourceARN=arn, TagKeys=keys),
        )
        return self._outputs(ctx, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("cloudwatch").delete_alarms(AlarmNames=[rid])

    @staticmethod
    def _outputs(ctx: Context, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{name}",
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class Dashboard(PutHandler):
    """A dashboard; its id is the dashboard name. PutDashboard replaces the body in place."""

    type_token = "aws:cloudwatch/dashboard:Dashboard"
    id_is_name = True
    replace_on = frozenset({"dashboardName"})
    name_keys = ("dashboardName",)

    def id_for(self, ctx: Context, inputs: Mapping[str, Any]) -> str:
        return str(inputs["dashboardName"])

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("cloudwatch").delete_dashboards(DashboardNames=[rid])

    def put(self, ctx: Context, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        answer = ctx.client("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=inputs["dashboardBody"]
        )
        problems = [m.get("Message", "") for m in answer.get("DashboardValidationMessages") or []]
        if problems:
            raise HandlerError(f"dashboard {name!r} body was refused: {'; '.join(problems)}")
        # Dashboards are global: no region in the ARN.
        return {"dashboardArn": f"arn:aws:cloudwatch::{ctx.account_id}:dashboard/{name}"}


# --- EventBridge ----------------------------------------------------------------------------


def _on_custom_bus(inputs: Mapping[str, Any]) -> str | None:
    bus = inputs.get("eventBusName")
    return bus if bus and bus != DEFAULT_EVENT_BUS else None


class EventRule(Handler):
    """An EventBridge rule; its id is the rule name, or `<bus>/<name>` on a custom bus (the
    provider's form). PutRule redefines a rule in place under the same name."""

    type_token = "aws:cloudwatch/eventRule:EventRule"
    replace_on = frozenset({"name", "namePrefix", "eventBusName"})

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        name, bus = inputs.get("name"), inputs.get("eventBusName")
        if not isinstance(name, str) or not name:
            return None
        return f"{bus}/{name}" if bus and bus != "default" else name

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = physical_name(ctx, inputs, max_length=64)
        request = self._request(name, inputs)
        if inputs.get("tags"):
            request["Tags"] = tags_list(inputs["tags"])
        arn = ctx.client("events").put_rule(**request)["RuleArn"]
        bus = _on_custom_bus(inputs)
        return (f"{bus}/{name}" if bus else name), self._outputs(name, arn, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        events = ctx.client("events")
        name = old_outputs["name"]
        arn = events.put_rule(**self._request(name, new_inputs))["RuleArn"]
        retag(
            old_inputs,
            new_inputs,
            lambda tags: events.tag_resource(ResourceARN=arn, Tags=tags_list(tags)),
            lambda keys: events.untag_resource(ResourceARN=arn, TagKeys=keys),
        )
        return self._outputs(name, arn, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"Name": outputs["name"]}
        if _on_custom_bus(outputs):
            request["EventBusName"] = outputs["eventBusName"]
        if outputs.get("forceDestroy"):
            request["Force"] = True  # also deletes a managed rule
        with gone_is_fine():
            ctx.client("events").delete_rule(**request)

    @staticmethod
    def _request(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        request = {
            "Name": name,
            **mapped(
                inputs,
                {
                    "scheduleExpression": ("ScheduleExpression", str),
                    "eventPattern": ("EventPattern", str),
                    "description": ("Description", str),
                    "roleArn": ("RoleArn", str),
                },
            ),
        }
        if _on_custom_bus(inputs):
            request["EventBusName"] = inputs["eventBusName"]
        # `state` replaced the deprecated `isEnabled`; either way a rule is on by default.
        if inputs.get("state"):
            request["State"] = inputs["state"]
        else:
            request["State"] = "DISABLED" if inputs.get("isEnabled") is False else "ENABLED"
        return request

    @staticmethod
    def _outputs(name: str, arn: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "arn": arn,
            "eventBusName": inputs.get("eventBusName") or DEFAULT_EVENT_BUS,
            "tagsAll": dict(inputs.get("tags") or {}),
        }


_ECS_TARGET: Fields = {
    "taskDefinitionArn": ("TaskDefinitionArn", str),
    "taskCount": ("TaskCount", int),
    "launchType": ("LaunchType", str),
    "platformVersion": ("PlatformVersion", str),
    "group": ("Group", str),
    "enableEcsManagedTags": ("EnableECSManagedTags", bool),
    "enableExecuteCommand": ("EnableExecuteCommand", bool),
    "propagateTags": ("PropagateTags", str),
    "tags": ("Tags", tags_list),
    "networkConfiguration": (
        "NetworkConfiguration",
        lambda network: {
            "awsvpcConfiguration": {
                **mapped(
                    network,
                    {"subnets": ("Subnets", list), "securityGroups": ("SecurityGroups", list)},
                ),
                "AssignPublicIp": "ENABLED" if network.get("assignPublicIp") else "DISABLED",
            }
        },
    ),
    "capacityProviderStrategies": (
        "CapacityProviderStrategy",
        mapped_each(
            {
                "capacityProvider": ("capacityProvider", str),
                "base": ("base", int),
                "weight": ("weight", int),
            }
        ),
    ),
    "placementConstraints": (
        "PlacementConstraints",
        mapped_each({"type": ("type", str), "expression": ("expression", str)}),
    ),
    "orderedPlacementStrategies": (
        "PlacementStrategy",
        mapped_each({"type": ("type", str), "field": ("field", str)}),
    ),
}
_TARGET: Fields = {
    "arn": ("Arn", str),
    "roleArn": ("RoleArn", str),
    "input": ("Input", str),
    "inputPath": ("InputPath", str),
    "inputTransformer": (
        "InputTransformer",
        mapped_one(
            {"inputPaths": ("InputPathsMap", dict), "inputTemplate": ("InputTemplate", str)}
        ),
    ),
    "deadLetterConfig": ("DeadLetterConfig", mapped_one({"arn": ("Arn", str)})),
    "retryPolicy": (
        "RetryPolicy",
        mapped_one(
            {
                "maximumRetryAttempts": ("MaximumRetryAttempts", int),
                "maximumEventAgeInSeconds": ("MaximumEventAgeInSeconds", int),
            }
        ),
    ),
    "sqsTarget": ("SqsParameters", mapped_one({"messageGroupId": ("MessageGroupId", str)})),
    "kinesisTarget": (
        "KinesisParameters",
        mapped_one({"partitionKeyPath": ("PartitionKeyPath", str)}),
    ),
    "runCommandTargets": (
        "RunCommandParameters",
        lambda targets: {
            "RunCommandTargets": [{"Key": t["key"], "Values": list(t["values"])} for t in targets]
        },
    ),
    "httpTarget": (
        "HttpParameters",
        mapped_one(
            {
                "pathParameterValues": ("PathParameterValues", list),
                "headerParameters": ("HeaderParameters", dict),
                "queryStringParameters": ("QueryStringParameters", dict),
            }
        ),
    ),
    "sagemakerPipelineTarget": (
        "SageMakerPipelineParameters",
        mapped_one(
            {
                "pipelineParameterLists": (
                    "PipelineParameterList",
                    mapped_each({"name": ("Name", str), "value": ("Value", str)}),
                )
            }
        ),
    ),
    "batchTarget": (
        "BatchParameters",
        mapped_one(
            {
                "jobDefinition": ("JobDefinition", str),
                "jobName": ("JobName", str),
                "arraySize": ("ArrayProperties", lambda size: {"Size": int(size)}),
                "jobAttempts": ("RetryStrategy", lambda attempts: {"Attempts": int(attempts)}),
            }
        ),
    ),
    "ecsTarget": ("EcsParameters", mapped_one(_ECS_TARGET)),
    "appsyncTarget": (
        "AppSyncParameters",
        mapped_one({"graphqlOperation": ("GraphQLOperation", str)}),
    ),
    "redshiftTarget": (
        "RedshiftDataParameters",
        mapped_one(
            {
                "database": ("Database", str),
                "dbUser": ("DbUser", str),
                "secretsManagerArn": ("SecretManagerArn", str),
                "sql": ("Sql", str),
                "statementName": ("StatementName", str),
                "withEvent": ("WithEvent", bool),
            }
        ),
    ),
}


class EventTarget(Handler):
    """A rule's target; its id is `<rule>-<target id>` (`<bus>-<rule>-<target id>` on a custom
    bus), as the provider forms it. PutTargets overwrites a target with the same id, so
    every change but the rule, bus or target id is an update in place."""

    type_token = "aws:cloudwatch/eventTarget:EventTarget"
    replace_on = frozenset({"rule", "targetId", "eventBusName"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        target_id = inputs.get("targetId") or ctx.auto_name(max_length=64)
        self._put(ctx, target_id, inputs)
        bus = _on_custom_bus(inputs)
        parts = [bus, inputs["rule"], target_id] if bus else [inputs["rule"], target_id]
        return "-".join(parts), {"targetId": target_id}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        self._put(ctx, old_outputs["targetId"], new_inputs)
        return {"targetId": old_outputs["targetId"]}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"Rule": outputs["rule"], "Ids": [outputs["targetId"]]}
        if _on_custom_bus(outputs):
            request["EventBusName"] = outputs["eventBusName"]
        if outputs.get("forceDestroy"):
            request["Force"] = True
        with gone_is_fine():  # also when the rule itself is gone
            ctx.client("events").remove_targets(**request)

    def _put(self, ctx: Context, target_id: str, inputs: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {
            "Rule": inputs["rule"],
            "Targets": [{"Id": target_id, **mapped(inputs, _TARGET)}],
        }
        if _on_custom_bus(inputs):
            request["EventBusName"] = inputs["eventBusName"]
        answer = ctx.client("events").put_targets(**request)
        # PutTargets reports refused targets in its answer instead of failing.
        failed = answer.get("FailedEntries") or []
        if failed:
            reasons = "; ".join(f"{f.get('ErrorCode')}: {f.get('ErrorMessage')}" for f in failed)
            raise HandlerError(f"target {target_id!r} of rule {inputs['rule']!r}: {reasons}")


HANDLERS: list[Handler] = [LogGroup(), MetricAlarm(), Dashboard(), EventRule(), EventTarget()]
