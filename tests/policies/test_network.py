"""Network policies."""

from __future__ import annotations

import pytest

from policies.offline import UNKNOWN, resource

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"


def _sg(*rules):
    return resource(SG, "training", {"vpcId": "vpc-1", "ingress": list(rules)})


def _tcp(low, high, cidrs=("0.0.0.0/0",), ipv6=()):
    return {
        "protocol": "tcp",
        "fromPort": float(low),
        "toPort": float(high),
        "cidrBlocks": list(cidrs),
        "ipv6CidrBlocks": list(ipv6),
    }


# --- security-group-no-public-admin-ports ---------------------------------------------


def test_admin_ports_fail_on_inline_ssh(assert_violation):
    assert_violation(
        "security-group-no-public-admin-ports",
        [_sg(_tcp(22, 22))],
        "ingress[0] of 'training' opens SSH (port 22) to 0.0.0.0/0",
    )


def test_admin_ports_fail_on_rule_ranges_and_ipv6(assert_violation):
    rule = resource(
        SG_RULE,
        "rdp",
        {
            "type": "ingress",
            "protocol": "-1",
            "fromPort": 0.0,
            "toPort": 0.0,
            "ipv6CidrBlocks": ["::/0"],
            "securityGroupId": "sg-1",
        },
    )
    vpc_rule = resource(
        INGRESS,
        "ssh-range",
        {
            "ipProtocol": "tcp",
            "fromPort": 20.0,
            "toPort": 25.0,
            "cidrIpv4": "0.0.0.0/0",
            "securityGroupId": "sg-1",
        },
    )
    assert_violation(
        "security-group-no-public-admin-ports", [rule], "opens RDP (port 3389) to ::/0"
    )
    assert_violation("security-group-no-public-admin-ports", [vpc_rule], "opens SSH (port 22)")


def test_admin_ports_fail_on_default_security_group(assert_violation):
    default = resource(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "default",
        {"vpcId": "vpc-1", "ingress": [_tcp(3389, 3389)]},
    )
    assert_violation("security-group-no-public-admin-ports", [default], "opens RDP (port 3389)")


def test_admin_ports_pass_private_cidr_and_other_ports(assert_passes):
    stack = [
        _sg(_tcp(22, 22, cidrs=("10.0.0.0/8",)), _tcp(443, 443)),
        resource(
            SG_RULE,
            "egress",
            {
                "type": "egress",
                "protocol": "-1",
                "fromPort": 0.0,
                "toPort": 0.0,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        _sg(
            {"protocol": "tcp", "fromPort": UNKNOWN, "toPort": UNKNOWN, "cidrBlocks": ["0.0.0.0/0"]}
        ),
    ]
    assert_passes("security-group-no-public-admin-ports", stack)


# --- security-group-no-public-ingress -------------------------------------------------


def test_public_ingress_fails_on_any_port(assert_violation):
    assert_violation(
        "security-group-no-public-ingress",
        [_sg(_tcp(8080, 8080))],
        "allows port 8080 from 0.0.0.0/0",
    )


@pytest.mark.parametrize("allowed, fails", [([443], False), ([80], True)])
def test_public_ingress_respects_allowed_ports(assert_violation, assert_passes, allowed, fails):
    config = {"security-group-no-public-ingress": {"allowedPorts": allowed}}
    stack = [_sg(_tcp(443, 443))]
    if fails:
        assert_violation("security-group-no-public-ingress", stack, "allows port 443", config)
    else:
        assert_passes("security-group-no-public-ingress", stack, config)


def test_public_ingress_passes_private_sources(assert_passes):
    rule = resource(
        INGRESS,
        "from-sg",
        {
            "ipProtocol": "tcp",
            "fromPort": 443.0,
            "toPort": 443.0,
            "referencedSecurityGroupId": "sg-2",
        },
    )
    assert_passes(
        "security-group-no-public-ingress", [_sg(_tcp(443, 443, cidrs=("10.0.0.0/16",))), rule]
    )


# --- vpc-flow-logs-enabled ------------------------------------------------------------


def test_flow_logs_fail_without_flow_log(assert_violation):
    assert_violation(
        "vpc-flow-logs-enabled",
        [resource(VPC, "ml", {"cidrBlock": "10.0.0.0/16"})],
        "VPC 'ml' has no flow log",
    )


def test_flow_logs_fail_when_flow_log_targets_another_vpc(assert_violation):
    ml, other = resource(VPC, "ml", {}), resource(VPC, "other", {})
    flow = resource(
        FLOW_LOG,
        "other-flow",
        {"vpcId": UNKNOWN, "trafficType": "ALL"},
        property_dependencies={"vpcId": [other["urn"]]},
    )
    found = assert_violation("vpc-flow-logs-enabled", [ml, other, flow], "has no flow log")
    assert [v.urn for v in found] == [ml["urn"]]


def test_flow_logs_pass_by_value_and_by_dependency(assert_passes):
    by_value = resource(VPC, "a", {}, outputs={"id": "vpc-a"})
    by_dep = resource(VPC, "b", {})
    flows = [
        resource(FLOW_LOG, "a-flow", {"vpcId": "vpc-a", "trafficType": "ALL"}),
        resource(
            FLOW_LOG,
            "b-flow",
            {"vpcId": UNKNOWN, "trafficType": "REJECT"},
            property_dependencies={"vpcId": [by_dep["urn"]]},
        ),
    ]
    assert_passes("vpc-flow-logs-enabled", [by_value, by_dep, *flows])
