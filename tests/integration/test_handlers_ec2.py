"""EC2 handlers against the emulator: each type created from the inputs the real program
sends, checked with boto3, updated, deleted (twice); then whole programs through the
deployer: an internet path (IGW, EIP, NAT, routes) and the real `Network` component."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.sandbox.emulator import Emulator
from infra.sandbox.handlers import HANDLERS
from infra.sandbox.handlers.base import Context
from infra.sandbox.handlers.ec2 import (
    DefaultSecurityGroup,
    FlowLog,
    RouteTable,
    RouteTableAssociation,
    SecurityGroup,
    Subnet,
    Vpc,
    VpcEndpoint,
    route_id,
)

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
ACCOUNT = "123456789012"
ANYWHERE = "0.0.0.0/0"
TAGS = {
    "managed-by": "pulumi",
    "environment": "staging",
    "project": "mlops-platform",
    "Name": "mlops-platform-staging-vpc",
}
CIDR = "10.41.0.0/16"
# Inputs as the network component sends them (resource_types.json), region adapted.
VPC_INPUTS = {
    "enableDnsSupport": True,
    "enableDnsHostnames": True,
    "cidrBlock": CIDR,
    "tags": TAGS,
}
S3_SERVICE = f"com.amazonaws.{REGION}.s3"
S3_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountPrincipalsToAccountBuckets",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "aws:PrincipalAccount": ACCOUNT,
                        "aws:ResourceAccount": ACCOUNT,
                    }
                },
            }
        ],
    }
)
HTTPS_FROM_VPC = {
    "protocol": "tcp",
    "description": "HTTPS from the VPC",
    "fromPort": 443.0,
    "cidrBlocks": [CIDR],
    "toPort": 443.0,
}


def _context(emulator: Emulator, name: str = "test") -> Context:
    return Context(lambda service: emulator.client(service, REGION), REGION, ACCOUNT, "", name)


def _error_code(call: Callable[[], Any]) -> str:
    try:
        call()
    except Exception as exc:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", exc))
    return ""


def _rules(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    return ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]


def _tags(described: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


def _fills_installed(emulator: Emulator) -> bool:
    """Whether the emulator runs with `infra.sandbox.moto_patches.ec2` (its log lists the
    operations each gap fill patched)."""
    log = emulator.log_path.read_text() if emulator.log_path else ""
    return "modify_vpc_endpoint" in log


@pytest.fixture
def vpc_id(clean_emulator: Emulator) -> str:
    return Vpc().create(_context(clean_emulator, "vpc"), VPC_INPUTS)[0]


def _subnet(emulator: Emulator, vpc: str, cidr: str, zone: str = "a") -> str:
    inputs = {"vpcId": vpc, "cidrBlock": cidr, "availabilityZone": f"{REGION}{zone}"}
    return Subnet().create(_context(emulator), inputs)[0]


def _table(emulator: Emulator, vpc: str) -> str:
    return RouteTable().create(_context(emulator), {"vpcId": vpc})[0]


# ---------------------------------------------------------------------------- VPC, subnets


def test_vpc_has_dns_on_and_returns_what_aws_made_with_it(clean_emulator: Emulator) -> None:
    ec2, handler, ctx = clean_emulator.client("ec2", REGION), Vpc(), _context(clean_emulator)
    rid, out = handler.create(ctx, VPC_INPUTS)

    vpc = ec2.describe_vpcs(VpcIds=[rid])["Vpcs"][0]
    assert (vpc["CidrBlock"], _tags(vpc)) == (CIDR, TAGS)
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        shown = ec2.describe_vpc_attribute(VpcId=rid, Attribute=attribute)
        assert shown[attribute[0].upper() + attribute[1:]]["Value"] is True
    default_sg = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [rid]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    main = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [rid]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"][0]
    acl = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [rid]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]
    assert out["defaultSecurityGroupId"] == default_sg["GroupId"]
    assert out["mainRouteTableId"] == main["RouteTableId"] == out["defaultRouteTableId"]
    assert out["defaultNetworkAclId"] == acl["NetworkAclId"]
    assert out["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{rid}"
    assert (out["tagsAll"], out["enableDnsHostnames"], out["cidrBlock"]) == (TAGS, True, CIDR)

    changed = {**VPC_INPUTS, "enableDnsHostnames": False, "tags": {"Name": "renamed"}}
    assert not handler.needs_replace(VPC_INPUTS, changed)
    assert handler.needs_replace(VPC_INPUTS, {**VPC_INPUTS, "cidrBlock": "10.9.0.0/16"})
    out = handler.update(ctx, rid, VPC_INPUTS, changed, out)
    hostnames = ec2.describe_vpc_attribute(VpcId=rid, Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"]["Value"] is False
    assert _tags(ec2.describe_vpcs(VpcIds=[rid])["Vpcs"][0]) == {"Name": "renamed"}
    assert out["enableDnsHostnames"] is False

    handler.delete(ctx, rid, out)
    assert _error_code(lambda: ec2.describe_vpcs(VpcIds=[rid])) == "InvalidVpcID.NotFound"
    handler.delete(ctx, rid, out)  # already gone: harmless


def test_private_subnet_and_its_route_table(clean_emulator: Emulator, vpc_id: str) -> None:
    ec2, ctx = clean_emulator.client("ec2", REGION), _context(clean_emulator)
    subnet_inputs = {
        "vpcId": vpc_id,
        "tags": {"Name": "private-0"},
        "mapPublicIpOnLaunch": False,
        "cidrBlock": "10.41.0.0/18",
        "availabilityZone": f"{REGION}a",
    }
    subnets = Subnet()
    subnet, out = subnets.create(ctx, subnet_inputs)
    described = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]
    assert described["MapPublicIpOnLaunch"] is False
    assert (described["AvailabilityZone"], described["VpcId"]) == (f"{REGION}a", vpc_id)
    assert (out["arn"], out["availabilityZone"]) == (described["SubnetArn"], f"{REGION}a")
    assert subnets.needs_replace(subnet_inputs, {**subnet_inputs, "availabilityZone": "x"})

    public = {**subnet_inputs, "mapPublicIpOnLaunch": True}
    assert not subnets.needs_replace(subnet_inputs, public)
    subnets.update(ctx, subnet, subnet_inputs, public, out)
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["MapPublicIpOnLaunch"]

    tables, associations = RouteTable(), RouteTableAssociation()
    first = tables.create(ctx, {"vpcId": vpc_id, "tags": {"Name": "rt-0"}})[0]
    second = tables.create(ctx, {"vpcId": vpc_id})[0]
    assert _tags(ec2.describe_route_tables(RouteTableIds=[first])["RouteTables"][0]) == {
        "Name": "rt-0"
    }
    inputs = {"subnetId": subnet, "routeTableId": first}
    association, assoc_out = associations.create(ctx, inputs)
    assert association.startswith("rtbassoc-")
    shown = ec2.describe_route_tables(RouteTableIds=[first])["RouteTables"][0]["Associations"]
    assert [(a["RouteTableAssociationId"], a["SubnetId"]) for a in shown] == [(association, subnet)]
    # Moving the subnet to another table is in place (ReplaceRouteTableAssociation)...
    moved = {"subnetId": subnet, "routeTableId": second}
    assert not associations.needs_replace(inputs, moved)
    assert associations.needs_replace(inputs, {**inputs, "subnetId": "subnet-other"})
    assoc_out = associations.update(ctx, association, inputs, moved, assoc_out)
    on_second = ec2.describe_route_tables(RouteTableIds=[second])["RouteTables"][0]
    assert [a["SubnetId"] for a in on_second["Associations"]] == [subnet]
    # ...and AWS's new association id does not stop the delete (the id kept is the first).
    associations.delete(ctx, association, {**moved, **assoc_out})
    for table in (first, second):
        assert not ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0][
            "Associations"
        ]
    associations.delete(ctx, association, {**moved, **assoc_out})

    for table in (first, second):
        tables.delete(ctx, table, {})
        tables.delete(ctx, table, {})
    subnets.delete(ctx, subnet, out)
    subnets.delete(ctx, subnet, out)
    assert _error_code(lambda: ec2.describe_subnets(SubnetIds=[subnet])).endswith("NotFound")

    _check_inline_routes_converge(clean_emulator, vpc_id)


def _check_inline_routes_converge(clean_emulator: Emulator, vpc_id: str) -> None:
    """A route table's inline `routes`, when declared, are exactly its routes."""
    ec2, ctx, tables = clean_emulator.client("ec2", REGION), _context(clean_emulator), RouteTable()
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    inputs = {"vpcId": vpc_id, "routes": [{"cidrBlock": ANYWHERE, "gatewayId": gateway}]}
    table, out = tables.create(ctx, inputs)
    assert out["routes"] == [{"cidrBlock": ANYWHERE, "gatewayId": gateway}]

    moved = {"vpcId": vpc_id, "routes": [{"cidrBlock": "192.0.2.0/24", "gatewayId": gateway}]}
    out = tables.update(ctx, table, inputs, moved, out)
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert sorted(r["DestinationCidrBlock"] for r in routes) == [CIDR, "192.0.2.0/24"]
    # Left out of the inputs, routes are not managed: a tag change keeps them.
    out = tables.update(ctx, table, moved, {"vpcId": vpc_id, "tags": {"a": "b"}}, out)
    assert out["routes"] == [{"cidrBlock": "192.0.2.0/24", "gatewayId": gateway}]


# ---------------------------------------------------------------------------- security groups


def test_security_group_holds_exactly_the_declared_rules(
    clean_emulator: Emulator, vpc_id: str
) -> None:
    ec2, ctx, groups = (
        clean_emulator.client("ec2", REGION),
        _context(clean_emulator),
        SecurityGroup(),
    )
    inputs = {
        "vpcId": vpc_id,
        "description": "Interface VPC endpoints: HTTPS from inside the VPC only",
        "tags": {"Name": "mlops-platform-staging-endpoints"},
        "ingress": [HTTPS_FROM_VPC],
        "egress": [],
        "name": "mlops-platform-staging-endpoints",
    }
    rid, out = groups.create(ctx, inputs)
    group = ec2.describe_security_groups(GroupIds=[rid])["SecurityGroups"][0]
    assert (group["GroupName"], group["Description"]) == (inputs["name"], inputs["description"])
    assert _tags(group) == inputs["tags"]
    rules = _rules(ec2, rid)
    # AWS's default allow-all egress rule is gone: egress is exactly the declared none.
    assert [(r["IsEgress"], r["IpProtocol"], r["FromPort"], r.get("CidrIpv4")) for r in rules] == [
        (False, "tcp", 443, CIDR)
    ]
    assert out["ingress"][0]["cidrBlocks"] == [CIDR] and out["egress"] == []
    assert (out["name"], out["arn"]) == (inputs["name"], group["SecurityGroupArn"])
    assert groups.fixed_name(inputs)  # a named group is deleted before its replacement
    assert groups.needs_replace(inputs, {**inputs, "description": "other"})

    s3_list = ec2.describe_prefix_lists()["PrefixLists"][0]["PrefixListId"]
    changed = {
        **inputs,
        "ingress": [
            {**HTTPS_FROM_VPC, "description": "HTTPS from inside"},
            {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "self": True},
        ],
        "egress": [
            {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "prefixListIds": [s3_list]},
            {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "self": True},
        ],
    }
    assert not groups.needs_replace(inputs, changed)
    out = groups.update(ctx, rid, inputs, changed, out)
    rules = _rules(ec2, rid)
    seen = {
        (
            r["IsEgress"],
            r["IpProtocol"],
            r.get("CidrIpv4") or r.get("PrefixListId") or r["ReferencedGroupInfo"]["GroupId"],
        )
        for r in rules
    }
    assert seen == {
        (False, "tcp", CIDR),
        (False, "-1", rid),
        (True, "tcp", s3_list),
        (True, "-1", rid),
    }
    assert len(rules) == 4
    https = next(r for r in rules if r.get("CidrIpv4") == CIDR)
    assert https["Description"] == "HTTPS from inside"

    closed = {**changed, "ingress": [], "egress": []}
    groups.update(ctx, rid, changed, closed, out)
    assert _rules(ec2, rid) == []

    groups.delete(ctx, rid, out)
    assert _error_code(lambda: ec2.describe_security_groups(GroupIds=[rid])).endswith("NotFound")
    groups.delete(ctx, rid, out)

    # Without a name, Pulumi's auto-name; no rules declared means none, egress included.
    rid, out = groups.create(_context(clean_emulator, "workers-sg"), {"vpcId": vpc_id})
    group = ec2.describe_security_groups(GroupIds=[rid])["SecurityGroups"][0]
    assert group["GroupName"].startswith("workers-sg-") and len(group["GroupName"]) == 18
    assert group["Description"] == "Managed by Pulumi"
    assert _rules(ec2, rid) == []


def test_default_security_group_is_stripped_and_only_forgotten(
    clean_emulator: Emulator, vpc_id: str
) -> None:
    ec2, ctx, handler = (
        clean_emulator.client("ec2", REGION),
        _context(clean_emulator),
        DefaultSecurityGroup(),
    )
    default = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=default,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": ANYWHERE}]}],
    )
    assert len(_rules(ec2, default)) == 2  # AWS's allow-all egress, plus an open ingress

    inputs = {"vpcId": vpc_id, "tags": {"Name": "default-sg"}, "ingress": [], "egress": []}
    rid, out = handler.create(ctx, inputs)
    assert rid == default
    assert _rules(ec2, default) == []  # CIS AWS 5.4: the default group allows nothing
    assert _tags(ec2.describe_security_groups(GroupIds=[rid])["SecurityGroups"][0]) == {
        "Name": "default-sg"
    }
    assert (out["name"], out["ingress"], out["egress"]) == ("default", [], [])

    opened = {**inputs, "ingress": [HTTPS_FROM_VPC]}
    assert not handler.needs_replace(inputs, opened)
    handler.update(ctx, rid, inputs, opened, out)
    assert [r["FromPort"] for r in _rules(ec2, rid)] == [443]

    handler.delete(ctx, rid, out)
    handler.delete(ctx, rid, out)
    # Forgotten, not deleted: the VPC owns its default group.
    assert ec2.describe_security_groups(GroupIds=[rid])["SecurityGroups"][0]["GroupId"] == rid


# ---------------------------------------------------------------------------- VPC endpoints


def test_gateway_endpoint_routes_s3_and_returns_its_prefix_list(
    clean_emulator: Emulator, vpc_id: str
) -> None:
    ec2, ctx, handler = (
        clean_emulator.client("ec2", REGION),
        _context(clean_emulator),
        VpcEndpoint(),
    )
    tables = [_table(clean_emulator, vpc_id) for _ in range(2)]
    inputs = {
        "vpcId": vpc_id,
        "policy": S3_POLICY,
        "tags": {"Name": "s3-endpoint"},
        "routeTableIds": tables,
        "vpcEndpointType": "Gateway",
        "serviceName": S3_SERVICE,
    }
    rid, out = handler.create(ctx, inputs)
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
    assert json.loads(endpoint["PolicyDocument"]) == json.loads(S3_POLICY)
    assert sorted(endpoint["RouteTableIds"]) == sorted(tables)
    assert _tags(endpoint) == {"Name": "s3-endpoint"}
    s3_list = ec2.describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [S3_SERVICE]}]
    )["PrefixLists"][0]["PrefixListId"]
    assert out["prefixListId"] == s3_list
    for table in tables:
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        assert {"DestinationPrefixListId": s3_list, "GatewayId": rid} in [
            {k: r.get(k) for k in ("DestinationPrefixListId", "GatewayId")} for r in routes
        ]
    assert (out["arn"], out["policy"]) == (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/{rid}",
        S3_POLICY,
    )
    # Private DNS means nothing on a Gateway endpoint: the provider replaces it.
    assert handler.needs_replace(inputs, {**inputs, "privateDnsEnabled": True})

    open_policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    changed = {**inputs, "policy": open_policy, "routeTableIds": tables[:1]}
    assert not handler.needs_replace(inputs, changed)
    out = handler.update(ctx, rid, inputs, changed, out)
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
    assert json.loads(endpoint["PolicyDocument"]) == {"Version": "2012-10-17", "Statement": []}
    assert endpoint["RouteTableIds"] == tables[:1] == out["routeTableIds"]

    handler.delete(ctx, rid, out)
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]["State"] == "deleted"
    routes = ec2.describe_route_tables(RouteTableIds=tables[:1])["RouteTables"][0]["Routes"]
    assert [r for r in routes if r.get("DestinationPrefixListId")] == []
    handler.delete(ctx, rid, out)


def test_interface_endpoint_in_subnets_behind_a_group(
    clean_emulator: Emulator, vpc_id: str
) -> None:
    ec2, ctx, handler = (
        clean_emulator.client("ec2", REGION),
        _context(clean_emulator),
        VpcEndpoint(),
    )
    subnets = [_subnet(clean_emulator, vpc_id, f"10.41.{i * 64}.0/18", "ab"[i]) for i in range(2)]
    groups = [
        SecurityGroup().create(ctx, {"vpcId": vpc_id, "name": f"sg-{i}"})[0] for i in range(2)
    ]
    inputs = {
        "vpcId": vpc_id,
        "serviceName": f"com.amazonaws.{REGION}.sagemaker.api",
        "vpcEndpointType": "Interface",
        "privateDnsEnabled": True,
        "subnetIds": subnets,
        "securityGroupIds": groups[:1],
        "tags": {"Name": "sagemaker-api-endpoint"},
    }
    rid, out = handler.create(ctx, inputs)
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
    assert endpoint["PrivateDnsEnabled"] is True
    assert sorted(endpoint["SubnetIds"]) == sorted(subnets)
    assert [g["GroupId"] for g in endpoint["Groups"]] == groups[:1]
    assert len(endpoint["NetworkInterfaceIds"]) == 2 == len(out["networkInterfaceIds"])
    assert out["dnsEntries"] and out["dnsEntries"][0]["dnsName"]
    assert out["prefixListId"] == ""
    # On an Interface endpoint, private DNS is modified in place.
    assert not handler.needs_replace(inputs, {**inputs, "privateDnsEnabled": False})

    changed = {**inputs, "securityGroupIds": groups[1:]}
    out = handler.update(ctx, rid, inputs, changed, out)
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
    assert [g["GroupId"] for g in endpoint["Groups"]] == groups[1:] == out["securityGroupIds"]

    handler.delete(ctx, rid, out)
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]["State"] == "deleted"
    handler.delete(ctx, rid, out)


def test_gateway_endpoint_route_table_added_later_gets_the_route(
    clean_emulator: Emulator, vpc_id: str
) -> None:
    """Needs the EC2 gap fills: moto alone records the table but adds no route."""
    if not _fills_installed(clean_emulator):
        pytest.skip("the emulator runs without the EC2 gap fills (infra.sandbox.moto_patches.ec2)")
    ec2, ctx, handler = (
        clean_emulator.client("ec2", REGION),
        _context(clean_emulator),
        VpcEndpoint(),
    )
    first, second = (_table(clean_emulator, vpc_id) for _ in range(2))
    inputs = {
        "vpcId": vpc_id,
        "serviceName": S3_SERVICE,
        "routeTableIds": [first],
        "policy": S3_POLICY,
    }
    rid, out = handler.create(ctx, inputs)
    grown = {**inputs, "routeTableIds": [first, second]}
    out = handler.update(ctx, rid, inputs, grown, out)
    routes = ec2.describe_route_tables(RouteTableIds=[second])["RouteTables"][0]["Routes"]
    assert [r["GatewayId"] for r in routes if r.get("DestinationPrefixListId")] == [rid]
    # A policy no longer declared: back to AWS's default, full access (ResetPolicy).
    unrestricted = {k: v for k, v in grown.items() if k != "policy"}
    out = handler.update(ctx, rid, grown, unrestricted, out)
    default = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
    assert json.loads(default["PolicyDocument"])["Statement"][0]["Action"] == "*"
    assert json.loads(out["policy"]) == json.loads(default["PolicyDocument"])

    handler.delete(ctx, rid, out)
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]["State"] == "deleted"
    for table in (first, second):
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        assert [r for r in routes if r.get("DestinationPrefixListId")] == []


# ---------------------------------------------------------------------------- flow logs


def test_flow_log_of_all_traffic_to_a_log_group(clean_emulator: Emulator, vpc_id: str) -> None:
    ec2, ctx, handler = clean_emulator.client("ec2", REGION), _context(clean_emulator), FlowLog()
    group = "/mlops/mlops-platform-staging/vpc-flow-logs"
    clean_emulator.client("logs", REGION).create_log_group(logGroupName=group)
    role = clean_emulator.client("iam", REGION).create_role(
        RoleName="vpc-flow-logs",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    destination = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    inputs = {
        "vpcId": vpc_id,
        "tags": {"Name": "flow-log"},
        "trafficType": "ALL",
        "iamRoleArn": role,
        "logDestination": destination,
        "logDestinationType": "cloud-watch-logs",
    }
    rid, out = handler.create(ctx, inputs)
    flow = ec2.describe_flow_logs(FlowLogIds=[rid])["FlowLogs"][0]
    assert (flow["ResourceId"], flow["TrafficType"]) == (vpc_id, "ALL")
    assert (flow["LogDestination"], flow["DeliverLogsPermissionArn"]) == (destination, role)
    assert _tags(flow) == {"Name": "flow-log"}
    if _fills_installed(clean_emulator):
        assert flow["DeliverLogsStatus"] == "SUCCESS"
    assert out["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/{rid}"
    assert (out["trafficType"], out["logDestination"]) == ("ALL", destination)
    # Everything but the tags is fixed once created.
    assert handler.needs_replace(inputs, {**inputs, "trafficType": "REJECT"})
    retagged = {**inputs, "tags": {"Name": "flow-log", "owner": "ml"}}
    assert not handler.needs_replace(inputs, retagged)
    handler.update(ctx, rid, inputs, retagged, out)
    assert _tags(ec2.describe_flow_logs(FlowLogIds=[rid])["FlowLogs"][0]) == retagged["tags"]

    handler.delete(ctx, rid, out)
    assert ec2.describe_flow_logs(FlowLogIds=[rid])["FlowLogs"] == []
    handler.delete(ctx, rid, out)


# ---------------------------------------------------------------------------- whole programs


def _deploy(emulator: Emulator, tmp_path: Path, program: Callable[[], None]) -> tuple[Any, Any]:
    from infra.plan import run_program
    from infra.sandbox.deployer import SandboxMocks
    from infra.sandbox.state import StateStore

    store = StateStore(tmp_path, "t")
    mocks = SandboxMocks(
        store=store,
        previous=store.load(),
        client=lambda s: emulator.client(s, REGION),
        region=REGION,
        account_id=ACCOUNT,
    )
    plan = run_program(
        program, project="mlops-platform", stack="t", config={"aws:region": REGION}, mocks=mocks
    )
    return mocks.finish(plan.outputs), store


def _destroy(emulator: Emulator, store: Any) -> Any:
    from infra.sandbox.deployer import destroy

    return destroy(
        store.load(),
        store,
        client=lambda s: emulator.client(s, REGION),
        region=REGION,
        account_id=ACCOUNT,
    )


def _internet_path(private_route_via_nat: bool, eip_tags: Mapping[str, str]) -> Callable[[], None]:
    """The non-isolated network's internet path, on its own: public subnet, internet
    gateway, NAT gateway with an Elastic IP, default routes."""

    def program() -> None:
        import pulumi
        import pulumi_aws as aws

        vpc = aws.ec2.Vpc("vpc", cidr_block="10.50.0.0/16", tags={"Name": "inet"})
        public = aws.ec2.Subnet(
            "public",
            vpc_id=vpc.id,
            cidr_block="10.50.0.0/28",
            availability_zone=f"{REGION}a",
            map_public_ip_on_launch=False,
        )
        gateway = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags={"Name": "igw"})
        public_table = aws.ec2.RouteTable("public-rt", vpc_id=vpc.id)
        aws.ec2.Route(
            "public-default",
            route_table_id=public_table.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=gateway.id,
        )
        aws.ec2.RouteTableAssociation(
            "public-rta", subnet_id=public.id, route_table_id=public_table.id
        )
        address = aws.ec2.Eip("nat-eip", domain="vpc", tags=dict(eip_tags))
        nat = aws.ec2.NatGateway(
            "nat",
            allocation_id=address.allocation_id,
            subnet_id=public.id,
            opts=pulumi.ResourceOptions(depends_on=[gateway]),
        )
        private_table = aws.ec2.RouteTable("private-rt", vpc_id=vpc.id)
        route = aws.ec2.Route(
            "private-default",
            route_table_id=private_table.id,
            destination_cidr_block=ANYWHERE,
            nat_gateway_id=nat.id if private_route_via_nat else None,
            gateway_id=None if private_route_via_nat else gateway.id,
        )
        pulumi.export("vpc", vpc.id)
        pulumi.export("nat", nat.id)
        pulumi.export("eip", address.id)
        pulumi.export("public_ip", address.public_ip)
        pulumi.export("igw", gateway.id)
        pulumi.export("private_table", private_table.id)
        pulumi.export("route", route.id)

    return program


def test_internet_path_deploys_updates_and_goes(clean_emulator: Emulator, tmp_path: Path) -> None:
    ec2 = clean_emulator.client("ec2", REGION)
    report, store = _deploy(clean_emulator, tmp_path, _internet_path(True, {"Name": "nat"}))
    assert report.count("create") == 10, report.summary()
    outputs = store.load().outputs

    igw = ec2.describe_internet_gateways(InternetGatewayIds=[outputs["igw"]])["InternetGateways"]
    assert igw[0]["Attachments"][0]["VpcId"] == outputs["vpc"]
    nat = ec2.describe_nat_gateways(NatGatewayIds=[outputs["nat"]])["NatGateways"][0]
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == outputs["eip"]
    assert nat["NatGatewayAddresses"][0]["PublicIp"] == outputs["public_ip"]
    private = ec2.describe_route_tables(RouteTableIds=[outputs["private_table"]])["RouteTables"][0]
    default = next(r for r in private["Routes"] if r.get("DestinationCidrBlock") == ANYWHERE)
    assert default["NatGatewayId"] == outputs["nat"]
    assert outputs["route"] == route_id(outputs["private_table"], ANYWHERE)

    # The route's target and the address's tags change in place.
    report, _ = _deploy(clean_emulator, tmp_path, _internet_path(False, {"Name": "nat", "x": "y"}))
    assert (report.count("update"), report.count("replace"), report.count("create")) == (2, 0, 0)
    private = ec2.describe_route_tables(RouteTableIds=[outputs["private_table"]])["RouteTables"][0]
    default = next(r for r in private["Routes"] if r.get("DestinationCidrBlock") == ANYWHERE)
    assert default.get("GatewayId") == outputs["igw"] and not default.get("NatGatewayId")
    address = ec2.describe_addresses(AllocationIds=[outputs["eip"]])["Addresses"][0]
    assert _tags(address) == {"Name": "nat", "x": "y"}

    report = _destroy(clean_emulator, store)
    assert report.count("delete") == 10
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [outputs["vpc"]]}])["Vpcs"] == []
    assert (
        ec2.describe_internet_gateways(
            Filters=[{"Name": "internet-gateway-id", "Values": [outputs["igw"]]}]
        )["InternetGateways"]
        == []
    )
    assert _error_code(lambda: ec2.describe_addresses(AllocationIds=[outputs["eip"]])).endswith(
        "NotFound"
    )
    assert (
        ec2.describe_nat_gateways(NatGatewayIds=[outputs["nat"]])["NatGateways"][0]["State"]
        == "deleted"
    )
    if _fills_installed(clean_emulator):  # moto alone keeps the NAT gateway's interface
        assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []


NETWORK_NEEDS = (
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
)


def test_network_component_deploys_reruns_unchanged_and_goes(
    clean_emulator: Emulator, tmp_path: Path
) -> None:
    missing = [t for t in NETWORK_NEEDS if t not in HANDLERS]
    if missing:
        pytest.skip(f"the network also needs handlers for {', '.join(missing)} (other modules)")
    from infra.network import Network, NetworkArgs, flow_log_group_name

    ec2 = clean_emulator.client("ec2", REGION)
    key_arn = clean_emulator.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    prefix = "mlops-platform-t"

    def program() -> None:
        import pulumi_aws as aws

        Network(
            "net",
            NetworkArgs(
                prefix=prefix,
                tags={"project": "mlops-platform", "environment": "t"},
                account_id=ACCOUNT,
                region=REGION,
                availability_zones=aws.get_availability_zones_output(state="available").names,
                log_kms_key_arn=key_arn,
                cidr="10.40.0.0/16",
            ),
        )

    report, store = _deploy(clean_emulator, tmp_path, program)
    assert not report.count("update") and not report.count("replace"), report.summary()
    state = store.load()
    ids = {r.name: r.id for r in state.resources.values()}
    vpc = ids["net-vpc"]

    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.40.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 2 and not any(s["MapPublicIpOnLaunch"] for s in subnets)
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "VpcEndpoints"
    ]
    assert len(endpoints) == 9
    assert sorted(e["VpcEndpointType"] for e in endpoints).count("Interface") == 8
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"
    ]
    assert len(groups) == 4  # default, endpoints, training, serving
    for group in groups:
        for rule in group["IpPermissions"]:
            assert ANYWHERE not in [r["CidrIp"] for r in rule["IpRanges"]], group["GroupName"]
    default = next(g for g in groups if g["GroupName"] == "default")
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    assert [(f["TrafficType"], f["LogDestinationType"]) for f in flows] == [
        ("ALL", "cloud-watch-logs")
    ]
    assert flows[0]["LogDestination"].endswith(flow_log_group_name(prefix))

    again, _ = _deploy(clean_emulator, tmp_path, program)
    assert not again.changed, again.summary()

    gone = _destroy(clean_emulator, store)
    assert gone.count("delete") == len(state.resources)
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"] == []
    left = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert {e["State"] for e in left["VpcEndpoints"]} <= {"deleted"}
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
            "SecurityGroups"
        ]
        == []
    )
    assert (
        ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"] == []
    )
    logs = clean_emulator.client("logs", REGION)
    assert (
        logs.describe_log_groups(logGroupNamePrefix=flow_log_group_name(prefix))["logGroups"] == []
    )
    roles = clean_emulator.client("iam", REGION).list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith(prefix)] == []
