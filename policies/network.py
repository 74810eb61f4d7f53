"""Network policies: no world-open ingress, VPC flow logs.

Why "no 0.0.0.0/0 ingress on any port" (not only admin ports): nothing in an ML
environment is meant to be reached from the internet through a security group.
SageMaker endpoints are invoked through the SageMaker runtime API (IAM-authenticated
HTTPS, optionally through a VPC endpoint); training jobs, models and notebooks run in
private subnets. A world-open rule is therefore always an accident. A deliberately
public port (e.g. 443 on a demo load balancer) can be listed in ``allowedPorts``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import (
    Finding,
    MlopsResourcePolicy,
    MlopsStackPolicy,
    StackGraph,
    Subject,
    identifiers,
    references,
    schema,
)
from ._values import UNKNOWN, get, items, number, strings

SECURITY_GROUP_TYPE: Final = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP_TYPE: Final = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INLINE_RULE_TYPES: Final = (SECURITY_GROUP_TYPE, DEFAULT_SECURITY_GROUP_TYPE)
SECURITY_GROUP_RULE_TYPE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE_TYPE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
INGRESS_TYPES: Final = (*INLINE_RULE_TYPES, SECURITY_GROUP_RULE_TYPE, INGRESS_RULE_TYPE)
VPC_TYPE: Final = "aws:ec2/vpc:Vpc"
FLOW_LOG_TYPE: Final = "aws:ec2/flowLog:FlowLog"
ADMIN_PORTS: Final = {22: "SSH", 3389: "RDP"}
ALL_PROTOCOLS: Final = frozenset({"-1", "all"})
PORT_PROTOCOLS: Final = frozenset({"tcp", "udp", "6", "17"})
MAX_PORT: Final = 65535


@dataclass(frozen=True)
class IngressRule:
    """A world-open ingress rule; ports is None for protocols without ports (ICMP...)."""

    where: str
    protocol: str
    ports: tuple[int, int] | None
    cidr: str


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _port_range(protocol: str, rule: Any) -> tuple[int, int] | None | Any:
    """(from, to), None for port-less protocols, or UNKNOWN when the range is unknown."""
    if protocol in ALL_PROTOCOLS:
        return (0, MAX_PORT)
    if protocol not in PORT_PROTOCOLS:
        return None
    low, high = get(rule, "fromPort"), get(rule, "toPort")
    if low is UNKNOWN or high is UNKNOWN:
        return UNKNOWN
    low_n, high_n = number(low), number(high)
    if low_n is None or high_n is None:
        return UNKNOWN
    return (int(low_n), int(high_n))


def _world_rules(
    where: str, rule: Any, cidr_keys: tuple[str, ...], protocol_key: str
) -> list[IngressRule]:
    protocol = get(rule, protocol_key)
    if rule is UNKNOWN or not isinstance(protocol, str | int | float):
        return []  # unknown protocol: cannot judge
    protocol_name = str(int(protocol)) if isinstance(protocol, int | float) else protocol.lower()
    cidrs: list[str] = []
    for key in cidr_keys:
        cidrs.extend(strings(get(rule, key))[0])
    world = [cidr for cidr in cidrs if _is_world(cidr)]
    if not world:
        return []
    ports = _port_range(protocol_name, rule)
    if ports is UNKNOWN:
        return []
    return [IngressRule(where, protocol_name, ports, cidr) for cidr in world]


def public_ingress(subject: Subject) -> list[IngressRule]:
    """World-open ingress rules declared by a security group or a standalone rule."""
    if subject.type in INLINE_RULE_TYPES:
        found: list[IngressRule] = []
        for index, rule in enumerate(items(get(subject.props, "ingress"))):
            found.extend(
                _world_rules(
                    f"ingress[{index}]", rule, ("cidrBlocks", "ipv6CidrBlocks"), "protocol"
                )
            )
        return found
    if subject.type == SECURITY_GROUP_RULE_TYPE:
        if get(subject.props, "type") != "ingress":
            return []
        return _world_rules("rule", subject.props, ("cidrBlocks", "ipv6CidrBlocks"), "protocol")
    return _world_rules("rule", subject.props, ("cidrIpv4", "cidrIpv6"), "ipProtocol")


def _describe(rule: IngressRule) -> str:
    if rule.ports is None:
        return f"protocol {rule.protocol}"
    low, high = rule.ports
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _check_admin_ports(subject: Subject) -> Iterator[str]:
    for rule in public_ingress(subject):
        if rule.ports is None:
            continue
        low, high = rule.ports
        for port, service in ADMIN_PORTS.items():
            if low <= port <= high:
                yield (
                    f"Security group {rule.where} of '{subject.name}' opens {service} (port "
                    f"{port}) to {rule.cidr}. Remove the rule; use SSM Session Manager, or a "
                    "specific admin CIDR if you must."
                )


def _allowed(rule: IngressRule, allowed_ports: set[int]) -> bool:
    if rule.ports is None:
        return False
    low, high = rule.ports
    return allowed_ports.issuperset(range(low, high + 1))


def _check_public_ingress(subject: Subject) -> Iterator[str]:
    allowed = {int(port) for port in subject.config.get("allowedPorts", [])}
    for rule in public_ingress(subject):
        if not _allowed(rule, allowed):
            yield (
                f"Security group {rule.where} of '{subject.name}' allows {_describe(rule)} from "
                f"{rule.cidr}. ML resources are reached through AWS APIs, not security groups: "
                "restrict the source to a security group or private CIDR (or list the port in "
                "allowedPorts if it is deliberately public)."
            )


def _check_flow_logs(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    vpcs = graph.of_type(VPC_TYPE)
    covered: set[str] = set()
    for flow_log in graph.of_type(FLOW_LOG_TYPE):
        linked = references(flow_log, "vpcId", vpcs, lambda node: identifiers(node, "id"))
        covered.update(vpc.urn for vpc in linked)
    for vpc in vpcs:
        if vpc.urn not in covered:
            yield Finding(
                vpc.urn,
                f"VPC '{vpc.name}' has no flow log, so network traffic cannot be audited. Add "
                "aws.ec2.FlowLog(vpc_id=<vpc>.id, traffic_type='ALL', log_destination=<log "
                "group or bucket arn>, iam_role_arn=<role>.arn).",
            )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="security-group-no-public-admin-ports",
        description=(
            "Checks that no security group rule opens SSH (22) or RDP (3389) to 0.0.0.0/0 or ::/0."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=INGRESS_TYPES,
        check=_check_admin_ports,
        remediation="Remove the rule and use SSM Session Manager for shell access.",
    ),
    MlopsResourcePolicy(
        name="security-group-no-public-ingress",
        description=(
            "Checks that no security group rule allows ingress from 0.0.0.0/0 or ::/0 on any "
            "port not listed in allowedPorts."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=INGRESS_TYPES,
        check=_check_public_ingress,
        remediation=(
            "Restrict the source to a security group or private CIDR, or list a deliberately "
            "public port in allowedPorts."
        ),
        config_schema=schema(
            {
                "allowedPorts": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": MAX_PORT},
                    "description": "Ports that may be open to the world (e.g. 443).",
                    "default": [],
                }
            }
        ),
    ),
    MlopsStackPolicy(
        name="vpc-flow-logs-enabled",
        description="Checks that every VPC has a flow log.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(VPC_TYPE, FLOW_LOG_TYPE),
        check=_check_flow_logs,
        remediation="Add an aws.ec2.FlowLog with traffic_type 'ALL' for the VPC.",
    ),
]
