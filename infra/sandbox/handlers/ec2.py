"""EC2 networking: the VPC, subnets, routing, security groups, VPC endpoints and flow logs.

Ids are the provider's: the AWS id (vpc-, subnet-, rtb-, sg-, vpce-, fl-, igw-, nat-,
eipalloc-), a route table association's `rtbassoc-` id, and a route's `r-<table><crc32 of
the destination>` (what the provider's `RouteCreateID` computes). Every handler declares
the inputs it can update in place (`updatable`); a change to any other input replaces the
resource, so the sandbox never silently drops a setting it cannot apply.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, ClassVar

from infra.sandbox.handlers.base import (
    Context,
    Handler,
    HandlerError,
    as_int,
    given,
    gone_is_fine,
    not_found,
    retag,
    tags_list,
)

# ---------------------------------------------------------------------------- helpers


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn(ctx: Context, kind: str, rid: str) -> str:
    return f"arn:{_partition(ctx.region)}:ec2:{ctx.region}:{ctx.account_id}:{kind}/{rid}"


def _tagged(
    kwargs: dict[str, Any], resource_type: str, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Create-call arguments plus the tags, set atomically with the resource as the
    provider does (TagSpecifications), so nothing exists untagged even for a moment."""
    tags = inputs.get("tags") or {}
    if tags:
        kwargs["TagSpecifications"] = [{"ResourceType": resource_type, "Tags": tags_list(tags)}]
    return kwargs


def _retag(ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """EC2 tags any resource by id (CreateTags/DeleteTags): bring them from `old` to `new`."""
    retag(
        old,
        new,
        lambda tags: ec2.create_tags(Resources=[rid], Tags=tags_list(tags)),
        lambda keys: ec2.delete_tags(Resources=[rid], Tags=[{"Key": key} for key in keys]),
    )


def _delete_quietly(call: Callable[..., Any], **kwargs: Any) -> None:
    """Run a delete call; a resource that is already gone is what we wanted."""
    with gone_is_fine():
        call(**kwargs)


# How a VPC or a subnet gets its addresses: CIDR blocks or IPAM pools, and for a pool the
# netmask lengths (whole numbers, passed on even when 0).
_ADDRESSING = {
    "cidrBlock": "CidrBlock",
    "ipv4IpamPoolId": "Ipv4IpamPoolId",
    "ipv6IpamPoolId": "Ipv6IpamPoolId",
    "ipv6CidrBlock": "Ipv6CidrBlock",
}
_NETMASKS = {"ipv4NetmaskLength": "Ipv4NetmaskLength", "ipv6NetmaskLength": "Ipv6NetmaskLength"}


def _addressing(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """CreateVpc/CreateSubnet arguments for the addresses the inputs ask for."""
    netmasks = {
        api: as_int(inputs[wire]) for wire, api in _NETMASKS.items() if inputs.get(wire) is not None
    }
    return {**given(inputs, _ADDRESSING), **netmasks}


def _set_flags(
    modify: Callable[..., Any],
    flags: Mapping[str, tuple[str, bool]],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> None:
    """Apply the boolean attributes that changed, one per call (as ModifyVpcAttribute and
    ModifySubnetAttribute take them); an absent input counts as AWS's default."""
    for wire, (api, default) in flags.items():
        before, after = old.get(wire, default), new.get(wire, default)
        if bool(after) != bool(before):
            modify(**{api: {"Value": bool(after)}})


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {key for key in {*old, *new} if old.get(key) != new.get(key)}


def _common(ctx: Context, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ownerId": ctx.account_id,
        "region": ctx.region,
        "tagsAll": dict(inputs.get("tags") or {}),
    }


def _added_removed(
    old: Iterable[str] | None, new: Iterable[str] | None
) -> tuple[list[str], list[str]]:
    before, after = list(old or []), list(new or [])
    return [x for x in after if x not in before], [x for x in before if x not in after]


class _Ec2Handler(Handler):
    """`replace_on` lists what the provider marks ForceNew; beyond that, a change to any
    input outside `updatable` (what `update` applies) replaces too, so a setting the
    sandbox cannot change in place is never silently dropped."""

    name_keys: ClassVar[tuple[str, ...]] = ()
    updatable: ClassVar[frozenset[str]] = frozenset({"tags"})

    def needs_replace(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        changed = _changed(old, new)
        return super().needs_replace(old, new) or bool(changed - self.updatable)


class _Described(_Ec2Handler):
    """The usual EC2 update: apply what changed in place (`_apply`), retag, and describe the
    resource again (`_outputs`)."""

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        ec2 = ctx.client("ec2")
        self._apply(ec2, rid, old_inputs, new_inputs)
        _retag(ec2, rid, old_inputs, new_inputs)
        return self._outputs(ctx, ec2, rid, new_inputs)

    def _created(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Finish a create: apply what the create call cannot set, as an update from no
        inputs would, and describe the new resource."""
        self._apply(ec2, rid, {}, inputs)
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """What an update changes besides the tags; by default nothing."""

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError


# ---------------------------------------------------------------------------- VPC


class Vpc(_Described):
    """The VPC, with the ids of what AWS creates along with it (default security group,
    main route table, default network ACL), which the provider returns as outputs."""

    type_token = "aws:ec2/vpc:Vpc"
    replace_on = frozenset(
        {
            "cidrBlock",
            "instanceTenancy",
            "ipv4IpamPoolId",
            "ipv4NetmaskLength",
            "ipv6IpamPoolId",
            "ipv6NetmaskLength",
            "ipv6CidrBlock",
            "ipv6CidrBlockNetworkBorderGroup",
            "assignGeneratedIpv6CidrBlock",
            "region",
        }
    )
    # ModifyVpcAttribute takes one attribute per call; the values are AWS's defaults.
    _ATTRIBUTES: ClassVar[dict[str, tuple[str, bool]]] = {
        "enableDnsSupport": ("EnableDnsSupport", True),
        "enableDnsHostnames": ("EnableDnsHostnames", False),
        "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", False),
    }
    updatable = frozenset({"tags", *_ATTRIBUTES})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs: dict[str, Any] = {
            **_addressing(inputs),
            **given(
                inputs,
                {
                    "instanceTenancy": "InstanceTenancy",
                    "ipv6CidrBlockNetworkBorderGroup": "Ipv6CidrBlockNetworkBorderGroup",
                },
            ),
        }
        if inputs.get("assignGeneratedIpv6CidrBlock"):
            kwargs["AmazonProvidedIpv6CidrBlock"] = True
        rid = ec2.create_vpc(**_tagged(kwargs, "vpc", inputs))["Vpc"]["VpcId"]
        return self._created(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        # AWS deletes the default security group, main route table and default ACL with it.
        _delete_quietly(ctx.client("ec2").delete_vpc, VpcId=rid)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        _set_flags(partial(ec2.modify_vpc_attribute, VpcId=rid), self._ATTRIBUTES, old, new)

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        vpc = ec2.describe_vpcs(VpcIds=[rid])["Vpcs"][0]
        in_vpc = {"Name": "vpc-id", "Values": [rid]}
        default_sg = ec2.describe_security_groups(
            Filters=[in_vpc, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
        main_table = ec2.describe_route_tables(
            Filters=[in_vpc, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
        default_acl = ec2.describe_network_acls(
            Filters=[in_vpc, {"Name": "default", "Values": ["true"]}]
        )["NetworkAcls"]
        ipv6 = (vpc.get("Ipv6CidrBlockAssociationSet") or [{}])[0]
        main_table_id = main_table[0]["RouteTableId"] if main_table else ""
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "vpc", rid),
            "cidrBlock": vpc["CidrBlock"],
            "instanceTenancy": vpc.get("InstanceTenancy", "default"),
            "dhcpOptionsId": vpc.get("DhcpOptionsId", ""),
            "defaultSecurityGroupId": default_sg[0]["GroupId"] if default_sg else "",
            "mainRouteTableId": main_table_id,
            "defaultRouteTableId": main_table_id,
            "defaultNetworkAclId": default_acl[0]["NetworkAclId"] if default_acl else "",
            "ipv6CidrBlock": ipv6.get("Ipv6CidrBlock", ""),
            "ipv6AssociationId": ipv6.get("AssociationId", ""),
            "ipv6CidrBlockNetworkBorderGroup": ipv6.get("NetworkBorderGroup", ""),
            "assignGeneratedIpv6CidrBlock": bool(inputs.get("assignGeneratedIpv6CidrBlock")),
            **{wire: bool(inputs.get(wire, d)) for wire, (_, d) in self._ATTRIBUTES.items()},
        }


class Subnet(_Described):
    type_token = "aws:ec2/subnet:Subnet"
    replace_on = frozenset(
        {
            "vpcId",
            "cidrBlock",
            "availabilityZone",
            "availabilityZoneId",
            "outpostArn",
            "ipv6Native",
            "ipv4IpamPoolId",
            "ipv4NetmaskLength",
            "ipv6IpamPoolId",
            "ipv6NetmaskLength",
            "region",
        }
    )
    # ModifySubnetAttribute flags (one per call) and AWS's defaults. The emulator rejects
    # those it does not implement, which then fails loudly rather than being ignored.
    _FLAGS: ClassVar[dict[str, tuple[str, bool]]] = {
        "mapPublicIpOnLaunch": ("MapPublicIpOnLaunch", False),
        "assignIpv6AddressOnCreation": ("AssignIpv6AddressOnCreation", False),
        "enableDns64": ("EnableDns64", False),
        "enableResourceNameDnsARecordOnLaunch": ("EnableResourceNameDnsARecordOnLaunch", False),
        "enableResourceNameDnsAaaaRecordOnLaunch": (
            "EnableResourceNameDnsAAAARecordOnLaunch",
            False,
        ),
        "mapCustomerOwnedIpOnLaunch": ("MapCustomerOwnedIpOnLaunch", False),
    }
    updatable = frozenset({"tags", "privateDnsHostnameTypeOnLaunch", *_FLAGS})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs: dict[str, Any] = {
            "VpcId": inputs["vpcId"],
            **_addressing(inputs),
            **given(
                inputs,
                {
                    "availabilityZone": "AvailabilityZone",
                    "availabilityZoneId": "AvailabilityZoneId",
                    "outpostArn": "OutpostArn",
                },
            ),
        }
        if inputs.get("ipv6Native"):
            kwargs["Ipv6Native"] = True
        rid = ec2.create_subnet(**_tagged(kwargs, "subnet", inputs))["Subnet"]["SubnetId"]
        return self._created(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        _delete_quietly(ctx.client("ec2").delete_subnet, SubnetId=rid)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        _set_flags(partial(ec2.modify_subnet_attribute, SubnetId=rid), self._FLAGS, old, new)
        hostname = new.get("privateDnsHostnameTypeOnLaunch")
        if hostname and hostname != old.get("privateDnsHostnameTypeOnLaunch", "ip-name"):
            ec2.modify_subnet_attribute(SubnetId=rid, PrivateDnsHostnameTypeOnLaunch=hostname)

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        subnet = ec2.describe_subnets(SubnetIds=[rid])["Subnets"][0]
        ipv6 = (subnet.get("Ipv6CidrBlockAssociationSet") or [{}])[0]
        dns = subnet.get("PrivateDnsNameOptionsOnLaunch") or {}
        return {
            **_common(ctx, inputs),
            "arn": subnet.get("SubnetArn") or _arn(ctx, "subnet", rid),
            "vpcId": subnet["VpcId"],
            "cidrBlock": subnet.get("CidrBlock", ""),
            "availabilityZone": subnet["AvailabilityZone"],
            "availabilityZoneId": subnet.get("AvailabilityZoneId", ""),
            "mapPublicIpOnLaunch": bool(subnet.get("MapPublicIpOnLaunch")),
            "assignIpv6AddressOnCreation": bool(subnet.get("AssignIpv6AddressOnCreation")),
            "ipv6CidrBlock": ipv6.get("Ipv6CidrBlock", ""),
            "ipv6CidrBlockAssociationId": ipv6.get("AssociationId", ""),
            "ipv6Native": bool(subnet.get("Ipv6Native")),
            "outpostArn": subnet.get("OutpostArn", ""),
            "privateDnsHostnameTypeOnLaunch": dns.get("HostnameType", "ip-name"),
            "enableResourceNameDnsARecordOnLaunch": bool(dns.get("EnableResourceNameDnsARecord")),
            "enableResourceNameDnsAaaaRecordOnLaunch": bool(
                dns.get("EnableResourceNameDnsAAAARecord")
            ),
            "enableDns64": bool(subnet.get("EnableDns64", inputs.get("enableDns64", False))),
            "mapCustomerOwnedIpOnLaunch": bool(inputs.get("mapCustomerOwnedIpOnLaunch")),
            "customerOwnedIpv4Pool": inputs.get("customerOwnedIpv4Pool", ""),
        }


# ---------------------------------------------------------------------------- routing

# Route targets: provider key -> CreateRoute/ReplaceRoute parameter and the key under
# which DescribeRouteTables reports it.
_TARGETS: dict[str, tuple[str, str]] = {
    "gatewayId": ("GatewayId", "GatewayId"),
    "natGatewayId": ("NatGatewayId", "NatGatewayId"),
    "networkInterfaceId": ("NetworkInterfaceId", "NetworkInterfaceId"),
    "transitGatewayId": ("TransitGatewayId", "TransitGatewayId"),
    "vpcEndpointId": ("VpcEndpointId", "GatewayId"),  # AWS reports GWLB endpoints as gateways
    "vpcPeeringConnectionId": ("VpcPeeringConnectionId", "VpcPeeringConnectionId"),
    "egressOnlyGatewayId": ("EgressOnlyInternetGatewayId", "EgressOnlyInternetGatewayId"),
    "carrierGatewayId": ("CarrierGatewayId", "CarrierGatewayId"),
    "localGatewayId": ("LocalGatewayId", "LocalGatewayId"),
    "coreNetworkArn": ("CoreNetworkArn", "CoreNetworkArn"),
    "odbNetworkArn": ("OdbNetworkArn", "OdbNetworkArn"),
}
# Destinations of the Route resource; a RouteTable's inline routes name them differently.
_DESTINATIONS = {
    "destinationCidrBlock": "DestinationCidrBlock",
    "destinationIpv6CidrBlock": "DestinationIpv6CidrBlock",
    "destinationPrefixListId": "DestinationPrefixListId",
}
_INLINE_DESTINATIONS = {
    "cidrBlock": "DestinationCidrBlock",
    "ipv6CidrBlock": "DestinationIpv6CidrBlock",
    "destinationPrefixListId": "DestinationPrefixListId",
}


def _destination(route: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[str, str]:
    """(API parameter, value) of the one destination a route names."""
    found = [(api, route[wire]) for wire, api in keys.items() if route.get(wire)]
    if len(found) != 1:
        raise HandlerError(f"a route needs exactly one destination of {sorted(keys)}: {route}")
    return found[0]


def _target(route: Mapping[str, Any]) -> dict[str, str]:
    return {_TARGETS[wire][0]: route[wire] for wire in _TARGETS if route.get(wire)}


def _routes(ec2: Any, table_id: str) -> list[dict[str, Any]]:
    return list(ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Routes"])


def _managed(route: Mapping[str, Any]) -> bool:
    """Routes a RouteTable's inline `routes` manage: not the local route, not those AWS
    adds for gateway endpoints, not propagated ones (the provider skips the same)."""
    gateway = str(route.get("GatewayId", ""))
    if gateway == "local" or route.get("Origin") == "EnableVgwRoutePropagation":
        return False
    return not (route.get("DestinationPrefixListId") and gateway.startswith("vpce-"))


def _route_key(route: Mapping[str, Any]) -> str:
    for api in _DESTINATIONS.values():
        if route.get(api):
            return str(route[api])
    return ""


def _flat_route(route: Mapping[str, Any]) -> dict[str, str]:
    """A described route in the shape of the provider's `routes` output."""
    out = {wire: str(route[api]) for wire, api in _INLINE_DESTINATIONS.items() if route.get(api)}
    for wire, (_, described) in _TARGETS.items():
        if route.get(described) and not (wire == "vpcEndpointId"):
            out[wire] = str(route[described])
    return out


class RouteTable(_Described):
    """A route table; its inline `routes` are managed only when the inputs declare them
    (left out, routes come from separate `aws.ec2.Route` resources, as in the network)."""

    type_token = "aws:ec2/routeTable:RouteTable"
    replace_on = frozenset({"vpcId", "region"})
    updatable = frozenset({"tags", "routes", "propagatingVgws"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs = _tagged({"VpcId": inputs["vpcId"]}, "route-table", inputs)
        rid = ec2.create_route_table(**kwargs)["RouteTable"]["RouteTableId"]
        return self._created(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        _delete_quietly(ctx.client("ec2").delete_route_table, RouteTableId=rid)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        enable, disable = _added_removed(old.get("propagatingVgws"), new.get("propagatingVgws"))
        for gateway in disable:
            ec2.disable_vgw_route_propagation(RouteTableId=rid, GatewayId=gateway)
        for gateway in enable:
            ec2.enable_vgw_route_propagation(RouteTableId=rid, GatewayId=gateway)
        if "routes" not in new:
            return
        current = {_route_key(r): r for r in _routes(ec2, rid) if _managed(r)}
        wanted = {}
        for route in new["routes"] or []:
            api, value = _destination(route, _INLINE_DESTINATIONS)
            wanted[value] = (api, _target(route))
        for key, route in current.items():
            if key not in wanted:
                api = next(a for a in _DESTINATIONS.values() if route.get(a) == key)
                ec2.delete_route(RouteTableId=rid, **{api: key})
        for key, (api, target) in wanted.items():
            if key not in current:
                ec2.create_route(RouteTableId=rid, **{api: key}, **target)
            elif _target(_flat_route(current[key])) != target:
                ec2.replace_route(RouteTableId=rid, **{api: key}, **target)

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "route-table", rid),
            "vpcId": inputs["vpcId"],
            "routes": [_flat_route(r) for r in _routes(ec2, rid) if _managed(r)],
            "propagatingVgws": list(inputs.get("propagatingVgws") or []),
        }


class RouteTableAssociation(_Ec2Handler):
    """Associates a subnet (or an edge gateway) with a route table; id `rtbassoc-...`.

    Changing the table is ReplaceRouteTableAssociation, as in the provider. AWS then
    issues a new association id while the deployer keeps the first as the resource id,
    so delete and update find the live association by table and subnet/gateway.
    """

    type_token = "aws:ec2/routeTableAssociation:RouteTableAssociation"
    replace_on = frozenset({"subnetId", "gatewayId", "region"})
    # A subnet or gateway holds one association at a time: a replacement frees it first.
    name_keys = ("subnetId", "gatewayId")
    updatable = frozenset({"routeTableId"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs = {"RouteTableId": inputs["routeTableId"], **self._target(inputs)}
        rid = ec2.associate_route_table(**kwargs)["AssociationId"]
        return rid, self._outputs(ctx, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        ec2 = ctx.client("ec2")
        live = self._live(ec2, rid, old_inputs)
        if live is None:
            raise HandlerError(
                f"route table association {rid}: no association of "
                f"{self._target(old_inputs)} with {old_inputs['routeTableId']} to move"
            )
        ec2.replace_route_table_association(
            AssociationId=live, RouteTableId=new_inputs["routeTableId"]
        )
        return self._outputs(ctx, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        ec2 = ctx.client("ec2")
        try:
            live = self._live(ec2, rid, outputs)
        except Exception as exc:
            if not_found(exc):  # the table is gone, and its associations with it
                return
            raise
        if live is not None:
            _delete_quietly(ec2.disassociate_route_table, AssociationId=live)

    @staticmethod
    def _target(inputs: Mapping[str, Any]) -> dict[str, str]:
        if inputs.get("subnetId"):
            return {"SubnetId": inputs["subnetId"]}
        if inputs.get("gatewayId"):
            return {"GatewayId": inputs["gatewayId"]}
        raise HandlerError("a route table association needs subnetId or gatewayId")

    def _live(self, ec2: Any, rid: str, inputs: Mapping[str, Any]) -> str | None:
        ((key, value),) = self._target(inputs).items()
        table = ec2.describe_route_tables(RouteTableIds=[inputs["routeTableId"]])
        associations = table["RouteTables"][0].get("Associations", [])
        ids = [a["RouteTableAssociationId"] for a in associations if a.get(key) == value]
        if rid in ids:
            return rid
        return ids[0] if ids else None

    def _outputs(self, ctx: Context, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "region": ctx.region,
            "routeTableId": inputs["routeTableId"],
            "subnetId": inputs.get("subnetId", ""),
            "gatewayId": inputs.get("gatewayId", ""),
        }


def route_id(table_id: str, destination: str) -> str:
    """The provider's route id: `r-<table id><crc32 of the destination>`."""
    return f"r-{table_id}{zlib.crc32(destination.encode())}"


class Route(_Ec2Handler):
    """One route in a table. The target is replaced in place (ReplaceRoute)."""

    type_token = "aws:ec2/route:Route"
    replace_on = frozenset({"routeTableId", "region", *_DESTINATIONS})
    updatable = frozenset(_TARGETS)

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        api, destination = _destination(inputs, _DESTINATIONS)
        table = inputs["routeTableId"]
        ec2.create_route(RouteTableId=table, **{api: destination}, **_target(inputs))
        return route_id(table, destination), self._outputs(ctx, ec2, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        ec2 = ctx.client("ec2")
        api, destination = _destination(new_inputs, _DESTINATIONS)
        ec2.replace_route(
            RouteTableId=new_inputs["routeTableId"], **{api: destination}, **_target(new_inputs)
        )
        return self._outputs(ctx, ec2, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        api, destination = _destination(outputs, _DESTINATIONS)
        _delete_quietly(
            ctx.client("ec2").delete_route,
            RouteTableId=outputs["routeTableId"],
            **{api: destination},
        )

    def _outputs(self, ctx: Context, ec2: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
        _, destination = _destination(inputs, _DESTINATIONS)
        described = next(
            (r for r in _routes(ec2, inputs["routeTableId"]) if _route_key(r) == destination),
            None,
        )
        if described is None:
            raise HandlerError(f"route to {destination} not in {inputs['routeTableId']}")
        return {
            "region": ctx.region,
            "origin": described.get("Origin", "CreateRoute"),
            "state": described.get("State", "active"),
            "instanceId": described.get("InstanceId", ""),
            "instanceOwnerId": described.get("InstanceOwnerId", ""),
            **{wire: inputs.get(wire, "") for wire in (*_DESTINATIONS, *_TARGETS)},
        }


class InternetGateway(_Ec2Handler):
    type_token = "aws:ec2/internetGateway:InternetGateway"
    replace_on = frozenset({"region"})
    updatable = frozenset({"tags", "vpcId"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs = _tagged({}, "internet-gateway", inputs)
        rid = ec2.create_internet_gateway(**kwargs)["InternetGateway"]["InternetGatewayId"]
        if inputs.get("vpcId"):
            ec2.attach_internet_gateway(InternetGatewayId=rid, VpcId=inputs["vpcId"])
        return rid, self._outputs(ctx, rid, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        ec2 = ctx.client("ec2")
        before, after = old_inputs.get("vpcId"), new_inputs.get("vpcId")
        if before != after:
            if before:
                self._detach(ec2, rid, before)
            if after:
                ec2.attach_internet_gateway(InternetGatewayId=rid, VpcId=after)
        _retag(ec2, rid, old_inputs, new_inputs)
        return self._outputs(ctx, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        ec2 = ctx.client("ec2")
        if outputs.get("vpcId"):
            self._detach(ec2, rid, outputs["vpcId"])
        _delete_quietly(ec2.delete_internet_gateway, InternetGatewayId=rid)

    @staticmethod
    def _detach(ec2: Any, rid: str, vpc_id: str) -> None:
        try:
            ec2.detach_internet_gateway(InternetGatewayId=rid, VpcId=vpc_id)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if not (not_found(exc) or code == "Gateway.NotAttached"):
                raise

    def _outputs(self, ctx: Context, rid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "internet-gateway", rid),
            "vpcId": inputs.get("vpcId", ""),
        }


class Eip(_Described):
    """An Elastic IP (id = allocation id); associated when `instance` or
    `networkInterface` is given, disassociated before release."""

    type_token = "aws:ec2/eip:Eip"
    replace_on = frozenset(
        {
            "address",
            "customerOwnedIpv4Pool",
            "domain",
            "ipamPoolId",
            "networkBorderGroup",
            "publicIpv4Pool",
            "region",
        }
    )
    updatable = frozenset({"tags", "instance", "networkInterface", "associateWithPrivateIp"})
    _ASSOCIATION = ("instance", "networkInterface", "associateWithPrivateIp")

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs: dict[str, Any] = {
            "Domain": inputs.get("domain") or "vpc",
            **given(
                inputs,
                {
                    "address": "Address",
                    "publicIpv4Pool": "PublicIpv4Pool",
                    "networkBorderGroup": "NetworkBorderGroup",
                    "customerOwnedIpv4Pool": "CustomerOwnedIpv4Pool",
                    "ipamPoolId": "IpamPoolId",
                },
            ),
        }
        rid = ec2.allocate_address(**_tagged(kwargs, "elastic-ip", inputs))["AllocationId"]
        self._associate(ec2, rid, inputs)
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if any(old.get(k) != new.get(k) for k in self._ASSOCIATION):
            self._disassociate(ec2, rid)
            self._associate(ec2, rid, new)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        ec2 = ctx.client("ec2")
        if outputs.get("instance") or outputs.get("networkInterface"):
            self._disassociate(ec2, rid)
        _delete_quietly(ec2.release_address, AllocationId=rid)

    @staticmethod
    def _associate(ec2: Any, rid: str, inputs: Mapping[str, Any]) -> None:
        kwargs: dict[str, Any] = {}
        if inputs.get("instance"):
            kwargs["InstanceId"] = inputs["instance"]
        if inputs.get("networkInterface"):
            kwargs["NetworkInterfaceId"] = inputs["networkInterface"]
        if not kwargs:
            return
        if inputs.get("associateWithPrivateIp"):
            kwargs["PrivateIpAddress"] = inputs["associateWithPrivateIp"]
        ec2.associate_address(AllocationId=rid, **kwargs)

    @staticmethod
    def _disassociate(ec2: Any, rid: str) -> None:
        try:
            found = ec2.describe_addresses(AllocationIds=[rid])["Addresses"]
        except Exception as exc:
            if not_found(exc):
                return
            raise
        for address in found:
            if address.get("AssociationId"):
                _delete_quietly(ec2.disassociate_address, AssociationId=address["AssociationId"])

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        address = ec2.describe_addresses(AllocationIds=[rid])["Addresses"][0]
        public_ip = address.get("PublicIp", "")
        private_ip = address.get("PrivateIpAddress", "")
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "elastic-ip", rid),
            "allocationId": rid,
            "domain": address.get("Domain", "vpc"),
            "publicIp": public_ip,
            "publicDns": _public_dns(ctx.region, public_ip),
            "privateIp": private_ip,
            "privateDns": _private_dns(ctx.region, private_ip),
            "associationId": address.get("AssociationId", ""),
            "instance": address.get("InstanceId") or inputs.get("instance", ""),
            "networkInterface": address.get("NetworkInterfaceId", ""),
            "publicIpv4Pool": address.get("PublicIpv4Pool", "amazon"),
            "networkBorderGroup": address.get("NetworkBorderGroup", ctx.region),
            "customerOwnedIp": address.get("CustomerOwnedIp", ""),
            "customerOwnedIpv4Pool": address.get("CustomerOwnedIpv4Pool", ""),
            "carrierIp": address.get("CarrierIp", ""),
            "ptrRecord": "",
        }


def _public_dns(region: str, ip: str) -> str:
    if not ip:
        return ""
    host = f"ec2-{ip.replace('.', '-')}"
    if region == "us-east-1":
        return f"{host}.compute-1.amazonaws.com"
    return f"{host}.{region}.compute.amazonaws.com"


def _private_dns(region: str, ip: str) -> str:
    if not ip:
        return ""
    host = f"ip-{ip.replace('.', '-')}"
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


class NatGateway(_Described):
    """A NAT gateway. Secondary addresses are not (un)assigned in place: a change to them
    replaces the gateway (AssignPrivateNatGatewayAddress and friends are not wired)."""

    type_token = "aws:ec2/natGateway:NatGateway"
    replace_on = frozenset(
        {
            "allocationId",
            "subnetId",
            "connectivityType",
            "privateIp",
            "availabilityMode",
            "vpcId",
            "region",
        }
    )

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kwargs: dict[str, Any] = given(
            inputs,
            {
                "allocationId": "AllocationId",
                "subnetId": "SubnetId",
                "connectivityType": "ConnectivityType",
                "privateIp": "PrivateIpAddress",
                "availabilityMode": "AvailabilityMode",
                "vpcId": "VpcId",
                "secondaryAllocationIds": "SecondaryAllocationIds",
                "secondaryPrivateIpAddresses": "SecondaryPrivateIpAddresses",
            },
        )
        if inputs.get("secondaryPrivateIpAddressCount"):
            kwargs["SecondaryPrivateIpAddressCount"] = as_int(
                inputs["secondaryPrivateIpAddressCount"]
            )
        nat = ec2.create_nat_gateway(**_tagged(kwargs, "natgateway", inputs))["NatGateway"]
        rid = nat["NatGatewayId"]
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        _delete_quietly(ctx.client("ec2").delete_nat_gateway, NatGatewayId=rid)

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        nat = ec2.describe_nat_gateways(NatGatewayIds=[rid])["NatGateways"][0]
        addresses = nat.get("NatGatewayAddresses") or []
        primary: dict[str, Any] = next((a for a in addresses if a.get("IsPrimary", True)), {})
        return {
            "region": ctx.region,
            "tagsAll": dict(inputs.get("tags") or {}),
            "vpcId": nat.get("VpcId", ""),
            "subnetId": nat.get("SubnetId", inputs.get("subnetId", "")),
            "connectivityType": nat.get("ConnectivityType")
            or inputs.get("connectivityType")
            or "public",
            "availabilityMode": inputs.get("availabilityMode") or "zonal",
            "allocationId": primary.get("AllocationId", inputs.get("allocationId", "")),
            "associationId": primary.get("AssociationId", ""),
            "networkInterfaceId": primary.get("NetworkInterfaceId", ""),
            "privateIp": primary.get("PrivateIp", ""),
            "publicIp": primary.get("PublicIp", ""),
            "secondaryAllocationIds": list(inputs.get("secondaryAllocationIds") or []),
            "secondaryPrivateIpAddresses": list(inputs.get("secondaryPrivateIpAddresses") or []),
            "secondaryPrivateIpAddressCount": as_int(
                inputs.get("secondaryPrivateIpAddressCount"), 0
            ),
        }


# ---------------------------------------------------------------------------- security groups

# Protocol numbers AWS reports by name; "-1" is every protocol.
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
# One rule as AWS stores it: protocol, from port, to port, kind of source, source.
RuleKey = tuple[str, int, int, str, str]


def _protocol(value: Any) -> str:
    text = str(value).lower()
    return _PROTOCOLS.get(text, text)


def _ports(protocol: str, low: Any, high: Any) -> tuple[int, int]:
    # With every protocol, ports mean nothing: AWS reports none, the provider 0 and 0.
    if protocol == "-1":
        return 0, 0
    return int(as_int(low, 0) or 0), int(as_int(high, 0) or 0)


def _wanted_rules(rules: Iterable[Mapping[str, Any]], group_id: str) -> dict[RuleKey, str]:
    """The provider's rule blocks, split into AWS's one-source rules -> description."""
    wanted: dict[RuleKey, str] = {}
    for rule in rules:
        protocol = _protocol(rule["protocol"])
        low, high = _ports(protocol, rule.get("fromPort"), rule.get("toPort"))
        sources = [
            *(("cidr", c) for c in rule.get("cidrBlocks") or []),
            *(("ipv6", c) for c in rule.get("ipv6CidrBlocks") or []),
            *(("prefix", p) for p in rule.get("prefixListIds") or []),
            *(("group", g) for g in rule.get("securityGroups") or []),
            *((("group", group_id),) if rule.get("self") else ()),
        ]
        if not sources:
            raise HandlerError(
                f"security group {group_id}: a rule needs cidrBlocks, ipv6CidrBlocks, "
                f"prefixListIds, securityGroups or self: {dict(rule)}"
            )
        for kind, source in sources:
            wanted[(protocol, low, high, kind, str(source))] = rule.get("description") or ""
    return wanted


def _described_rules(
    ec2: Any, group_id: str, egress: bool
) -> dict[RuleKey, tuple[str, str | None]]:
    """The group's rules now: key -> (rule id, description if AWS reports one)."""
    found: dict[RuleKey, tuple[str, str | None]] = {}
    pages = ec2.get_paginator("describe_security_group_rules").paginate(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )
    for page in pages:
        for rule in page["SecurityGroupRules"]:
            if bool(rule.get("IsEgress")) != egress:
                continue
            protocol = _protocol(rule["IpProtocol"])
            low, high = _ports(protocol, rule.get("FromPort"), rule.get("ToPort"))
            if rule.get("CidrIpv4"):
                kind, source = "cidr", rule["CidrIpv4"]
            elif rule.get("CidrIpv6"):
                kind, source = "ipv6", rule["CidrIpv6"]
            elif rule.get("PrefixListId"):
                kind, source = "prefix", rule["PrefixListId"]
            else:
                kind, source = "group", (rule.get("ReferencedGroupInfo") or {}).get("GroupId", "")
            key = (protocol, low, high, kind, source)
            found[key] = (rule["SecurityGroupRuleId"], rule.get("Description"))
    return found


def _permission(key: RuleKey, description: str) -> dict[str, Any]:
    protocol, low, high, kind, source = key
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission.update(FromPort=low, ToPort=high)
    described = {"Description": description} if description else {}
    if kind == "cidr":
        permission["IpRanges"] = [{"CidrIp": source, **described}]
    elif kind == "ipv6":
        permission["Ipv6Ranges"] = [{"CidrIpv6": source, **described}]
    elif kind == "prefix":
        permission["PrefixListIds"] = [{"PrefixListId": source, **described}]
    else:
        pair = {"GroupId": source} if source.startswith("sg-") else {"GroupName": source}
        permission["UserIdGroupPairs"] = [{**pair, **described}]
    return permission


def _rule_output(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule block in the provider's output shape (every field present)."""
    protocol = _protocol(rule["protocol"])
    low, high = _ports(protocol, rule.get("fromPort"), rule.get("toPort"))
    return {
        "protocol": protocol,
        "fromPort": low,
        "toPort": high,
        "cidrBlocks": list(rule.get("cidrBlocks") or []),
        "ipv6CidrBlocks": list(rule.get("ipv6CidrBlocks") or []),
        "prefixListIds": list(rule.get("prefixListIds") or []),
        "securityGroups": list(rule.get("securityGroups") or []),
        "self": bool(rule.get("self")),
        "description": rule.get("description") or "",
    }


class _RulesOfGroup(_Described):
    """Inline `ingress`/`egress` rule blocks converge on what AWS holds: rules nobody
    declared are revoked, declared ones authorized. A direction left out of the inputs is
    not managed (the provider treats it as computed)."""

    updatable = frozenset({"tags", "ingress", "egress", "revokeRulesOnDelete"})

    def converge(
        self,
        ec2: Any,
        group_id: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        directions: Iterable[str] = ("ingress", "egress"),
    ) -> None:
        for direction in directions:
            egress = direction == "egress"
            wanted = _wanted_rules(new.get(direction) or [], group_id)
            before = _wanted_rules(old.get(direction) or [], group_id)
            current = _described_rules(ec2, group_id, egress)
            # A new description is a new rule for AWS: revoke, then authorize again.
            # The emulator drops descriptions of prefix-list and group rules, so what we
            # set last time counts as well as what AWS reports.
            redescribed = {
                key
                for key, text in wanted.items()
                if (key in before and before[key] != text)
                or (key in current and current[key][1] is not None and current[key][1] != text)
            }
            revoke = [
                rule_id
                for key, (rule_id, _) in current.items()
                if key not in wanted or key in redescribed
            ]
            grant = [key for key in wanted if key not in current or key in redescribed]
            if revoke:
                revoke_call = (
                    ec2.revoke_security_group_egress
                    if egress
                    else ec2.revoke_security_group_ingress
                )
                revoke_call(GroupId=group_id, SecurityGroupRuleIds=revoke)
            if grant:
                grant_call = (
                    ec2.authorize_security_group_egress
                    if egress
                    else ec2.authorize_security_group_ingress
                )
                grant_call(
                    GroupId=group_id, IpPermissions=[_permission(k, wanted[k]) for k in grant]
                )

    def revoke_all(self, ec2: Any, group_id: str) -> None:
        self.converge(ec2, group_id, {}, {"ingress": [], "egress": []})

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        # On update, only the directions the inputs declare are managed.
        self.converge(ec2, rid, old, new, [d for d in ("ingress", "egress") if d in new])

    def _outputs(
        self, ctx: Context, ec2: Any, group_id: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        return {
            **_common(ctx, inputs),
            "arn": group.get("SecurityGroupArn") or _arn(ctx, "security-group", group_id),
            "name": group["GroupName"],
            "description": group.get("Description", ""),
            "vpcId": group.get("VpcId", ""),
            "ingress": [_rule_output(r) for r in inputs.get("ingress") or []],
            "egress": [_rule_output(r) for r in inputs.get("egress") or []],
            "revokeRulesOnDelete": bool(inputs.get("revokeRulesOnDelete")),
        }


class SecurityGroup(_RulesOfGroup):
    """A security group with inline rules. AWS gives every new VPC group an allow-all
    egress rule; like the provider, the sandbox removes it, so egress is exactly what the
    inputs declare (none when they declare none)."""

    type_token = "aws:ec2/securityGroup:SecurityGroup"
    replace_on = frozenset({"name", "namePrefix", "description", "vpcId", "region"})
    name_keys = ("name",)

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        name = inputs.get("name") or (
            # The provider's prefixed unique id: the prefix plus 26 characters.
            f"{inputs['namePrefix']}{secrets.token_hex(13)}"
            if inputs.get("namePrefix")
            else ctx.auto_name(max_length=255)
        )
        kwargs: dict[str, Any] = {
            "GroupName": name,
            "Description": inputs.get("description") or "Managed by Pulumi",
        }
        if inputs.get("vpcId"):
            kwargs["VpcId"] = inputs["vpcId"]
        rid = ec2.create_security_group(**_tagged(kwargs, "security-group", inputs))["GroupId"]
        self.converge(ec2, rid, {}, {"egress": [], **inputs})
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        ec2 = ctx.client("ec2")
        if outputs.get("revokeRulesOnDelete"):
            # Breaks cycles: groups referencing each other cannot go while they do.
            with gone_is_fine():
                self.revoke_all(ec2, rid)
        _delete_quietly(ec2.delete_security_group, GroupId=rid)

    def _outputs(
        self, ctx: Context, ec2: Any, group_id: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            **super()._outputs(ctx, ec2, group_id, inputs),
            "namePrefix": inputs.get("namePrefix", ""),
        }


class DefaultSecurityGroup(_RulesOfGroup):
    """Adopts the VPC's default group, which AWS creates with the VPC and never lets go:
    every rule it has is revoked, then the declared ones authorized (none, for CIS 5.4).
    Deleting only forgets it, as the provider does; the VPC's deletion removes it."""

    type_token = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
    replace_on = frozenset({"vpcId", "region"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        found = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [inputs["vpcId"]]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        if not found:
            raise HandlerError(f"VPC {inputs['vpcId']} has no default security group")
        rid = found[0]["GroupId"]
        # Every rule AWS put there goes (a direction left out of the inputs included).
        self.converge(ec2, rid, {}, {"ingress": [], "egress": [], **inputs})
        _retag(ec2, rid, {"tags": {t["Key"]: t["Value"] for t in found[0].get("Tags", [])}}, inputs)
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        return None


# ---------------------------------------------------------------------------- endpoints and logs


class VpcEndpoint(_Described):
    """A VPC endpoint. Gateway endpoints (S3, DynamoDB) route through the given route
    tables and return the service's `prefixListId`; Interface endpoints place network
    interfaces in the subnets, behind the security groups, and return `dnsEntries`."""

    type_token = "aws:ec2/vpcEndpoint:VpcEndpoint"
    replace_on = frozenset(
        {
            "vpcId",
            "serviceName",
            "vpcEndpointType",
            "serviceRegion",
            "resourceConfigurationArn",
            "serviceNetworkArn",
            "region",
        }
    )
    updatable = frozenset(
        {
            "tags",
            "policy",
            "routeTableIds",
            "subnetIds",
            "securityGroupIds",
            "privateDnsEnabled",
            "ipAddressType",
            "dnsOptions",
            "subnetConfigurations",
            # Accepting a connection to an endpoint service is the service owner's side.
            "autoAccept",
        }
    )

    def needs_replace(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        # Private DNS is modifiable only on Interface endpoints; elsewhere it replaces.
        private_dns = old.get("privateDnsEnabled") != new.get("privateDnsEnabled")
        interface = _endpoint_type(new) == "Interface"
        return super().needs_replace(old, new) or (private_dns and not interface)

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kind = _endpoint_type(inputs)
        kwargs: dict[str, Any] = {
            "VpcEndpointType": kind,
            "VpcId": inputs["vpcId"],
            **given(
                inputs,
                {
                    "serviceName": "ServiceName",
                    "serviceRegion": "ServiceRegion",
                    "resourceConfigurationArn": "ResourceConfigurationArn",
                    "serviceNetworkArn": "ServiceNetworkArn",
                    "policy": "PolicyDocument",
                    "routeTableIds": "RouteTableIds",
                    "subnetIds": "SubnetIds",
                    "securityGroupIds": "SecurityGroupIds",
                    "ipAddressType": "IpAddressType",
                },
            ),
        }
        if kind == "Interface" and inputs.get("privateDnsEnabled") is not None:
            kwargs["PrivateDnsEnabled"] = bool(inputs["privateDnsEnabled"])
        if inputs.get("dnsOptions"):
            kwargs["DnsOptions"] = _dns_options(inputs["dnsOptions"])
        if inputs.get("subnetConfigurations"):
            kwargs["SubnetConfigurations"] = _subnet_configurations(inputs["subnetConfigurations"])
        endpoint = ec2.create_vpc_endpoint(**_tagged(kwargs, "vpc-endpoint", inputs))
        rid = endpoint["VpcEndpoint"]["VpcEndpointId"]
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def _apply(self, ec2: Any, rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        changes: dict[str, Any] = {}
        if old.get("policy") != new.get("policy"):
            if new.get("policy"):
                changes["PolicyDocument"] = new["policy"]
            else:  # back to AWS's default full-access policy, as the provider does
                changes["ResetPolicy"] = True
        for wire, api in (
            ("routeTableIds", "RouteTableIds"),
            ("subnetIds", "SubnetIds"),
            ("securityGroupIds", "SecurityGroupIds"),
        ):
            added, removed = _added_removed(old.get(wire), new.get(wire))
            if added:
                changes[f"Add{api}"] = added
            if removed:
                changes[f"Remove{api}"] = removed
        if old.get("privateDnsEnabled") != new.get("privateDnsEnabled"):
            changes["PrivateDnsEnabled"] = bool(new.get("privateDnsEnabled"))
        if old.get("ipAddressType") != new.get("ipAddressType") and new.get("ipAddressType"):
            changes["IpAddressType"] = new["ipAddressType"]
        if old.get("dnsOptions") != new.get("dnsOptions") and new.get("dnsOptions"):
            changes["DnsOptions"] = _dns_options(new["dnsOptions"])
        if old.get("subnetConfigurations") != new.get("subnetConfigurations"):
            changes["SubnetConfigurations"] = _subnet_configurations(
                new.get("subnetConfigurations") or []
            )
        if changes:
            ec2.modify_vpc_endpoint(VpcEndpointId=rid, **changes)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        ec2 = ctx.client("ec2")
        try:
            result = ec2.delete_vpc_endpoints(VpcEndpointIds=[rid])
        except Exception as exc:
            if not_found(exc):
                return
            raise
        # The call reports per endpoint; an id that no longer exists is fine.
        for failure in result.get("Unsuccessful", []):
            error = failure.get("Error", {})
            if "NotFound" not in error.get("Code", ""):
                raise HandlerError(f"deleting VPC endpoint {rid}: {error}")

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[rid])["VpcEndpoints"][0]
        kind = _endpoint_type(inputs)
        prefix_list_id, cidrs = "", []
        if kind == "Gateway":
            # The provider looks the service's managed prefix list up by name, the id
            # security group rules and routes use for "this service".
            lists = ec2.describe_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [endpoint["ServiceName"]]}]
            )["PrefixLists"]
            if lists:
                prefix_list_id, cidrs = lists[0]["PrefixListId"], list(lists[0].get("Cidrs", []))
        dns_options = endpoint.get("DnsOptions") or {}
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "vpc-endpoint", rid),
            "vpcId": endpoint["VpcId"],
            "serviceName": endpoint.get("ServiceName", inputs.get("serviceName", "")),
            "vpcEndpointType": endpoint.get("VpcEndpointType", kind),
            "state": endpoint.get("State", ""),
            # The declared document as written; AWS's default when none was declared.
            "policy": inputs.get("policy") or endpoint.get("PolicyDocument", ""),
            "routeTableIds": list(endpoint.get("RouteTableIds") or []),
            "subnetIds": list(endpoint.get("SubnetIds") or []),
            "securityGroupIds": [g["GroupId"] for g in endpoint.get("Groups") or []],
            "networkInterfaceIds": list(endpoint.get("NetworkInterfaceIds") or []),
            "privateDnsEnabled": (
                bool(endpoint.get("PrivateDnsEnabled"))
                if kind == "Interface"
                else bool(inputs.get("privateDnsEnabled", False))
            ),
            "dnsEntries": [
                {"dnsName": e.get("DnsName", ""), "hostedZoneId": e.get("HostedZoneId", "")}
                for e in endpoint.get("DnsEntries") or []
            ],
            "prefixListId": prefix_list_id,
            "cidrBlocks": cidrs,
            "requesterManaged": bool(endpoint.get("RequesterManaged", False)),
            "ipAddressType": endpoint.get("IpAddressType") or inputs.get("ipAddressType", ""),
            "dnsOptions": {
                "dnsRecordIpType": dns_options.get("DnsRecordIpType", ""),
                "privateDnsOnlyForInboundResolverEndpoint": bool(
                    dns_options.get("PrivateDnsOnlyForInboundResolverEndpoint", False)
                ),
            },
            "autoAccept": bool(inputs.get("autoAccept", False)),
        }


def _endpoint_type(inputs: Mapping[str, Any]) -> str:
    return str(inputs.get("vpcEndpointType") or "Gateway")


def _dns_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if options.get("dnsRecordIpType"):
        out["DnsRecordIpType"] = options["dnsRecordIpType"]
    if "privateDnsOnlyForInboundResolverEndpoint" in options:
        out["PrivateDnsOnlyForInboundResolverEndpoint"] = bool(
            options["privateDnsOnlyForInboundResolverEndpoint"]
        )
    return out


def _subnet_configurations(configs: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            api: config[wire]
            for wire, api in (("subnetId", "SubnetId"), ("ipv4", "Ipv4"), ("ipv6", "Ipv6"))
            if config.get(wire)
        }
        for config in configs
    ]


class FlowLog(_Described):
    """A flow log of a VPC, subnet, interface or transit gateway. Everything but the tags
    is fixed once created (the provider's schema marks it all ForceNew)."""

    type_token = "aws:ec2/flowLog:FlowLog"
    # The one resource a flow log watches: input key -> CreateFlowLogs ResourceType.
    _SOURCES: ClassVar[dict[str, str]] = {
        "vpcId": "VPC",
        "subnetId": "Subnet",
        "eniId": "NetworkInterface",
        "transitGatewayId": "TransitGateway",
        "transitGatewayAttachmentId": "TransitGatewayAttachment",
        "regionalNatGatewayId": "RegionalNatGateway",
    }
    replace_on = frozenset(
        {
            *_SOURCES,
            "deliverCrossAccountRole",
            "destinationOptions",
            "iamRoleArn",
            "logDestination",
            "logDestinationType",
            "logFormat",
            "maxAggregationInterval",
            "tagFieldSpecifications",
            "trafficType",
            "region",
        }
    )

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        sources = [(key, kind) for key, kind in self._SOURCES.items() if inputs.get(key)]
        if len(sources) != 1:
            raise HandlerError(f"a flow log needs exactly one of {sorted(self._SOURCES)}")
        ((source_key, resource_type),) = sources
        kwargs: dict[str, Any] = {
            "ResourceType": resource_type,
            "ResourceIds": [inputs[source_key]],
            "LogDestinationType": inputs.get("logDestinationType") or "cloud-watch-logs",
        }
        kwargs.update(
            given(
                inputs,
                {
                    "trafficType": "TrafficType",
                    "logDestination": "LogDestination",
                    "iamRoleArn": "DeliverLogsPermissionArn",
                    "deliverCrossAccountRole": "DeliverCrossAccountRole",
                    "logFormat": "LogFormat",
                },
            )
        )
        if inputs.get("maxAggregationInterval") is not None:
            kwargs["MaxAggregationInterval"] = as_int(inputs["maxAggregationInterval"])
        options = inputs.get("destinationOptions") or {}
        if options:
            kwargs["DestinationOptions"] = {
                api: (options[wire] if wire == "fileFormat" else bool(options[wire]))
                for wire, api in (
                    ("fileFormat", "FileFormat"),
                    ("hiveCompatiblePartitions", "HiveCompatiblePartitions"),
                    ("perHourPartition", "PerHourPartition"),
                )
                if wire in options
            }
        result = ec2.create_flow_logs(**_tagged(kwargs, "vpc-flow-log", inputs))
        if result.get("Unsuccessful") or not result.get("FlowLogIds"):
            raise HandlerError(f"creating the flow log failed: {result.get('Unsuccessful')}")
        rid = result["FlowLogIds"][0]
        return rid, self._outputs(ctx, ec2, rid, inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        _delete_quietly(ctx.client("ec2").delete_flow_logs, FlowLogIds=[rid])

    def _outputs(
        self, ctx: Context, ec2: Any, rid: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        flow = ec2.describe_flow_logs(FlowLogIds=[rid])["FlowLogs"][0]
        return {
            **_common(ctx, inputs),
            "arn": _arn(ctx, "vpc-flow-log", rid),
            "logDestination": flow.get("LogDestination", inputs.get("logDestination", "")),
            "logDestinationType": flow.get("LogDestinationType", "cloud-watch-logs"),
            "logFormat": flow.get("LogFormat", inputs.get("logFormat", "")),
            "maxAggregationInterval": flow.get("MaxAggregationInterval", 600),
            "trafficType": flow.get("TrafficType", inputs.get("trafficType", "")),
            "iamRoleArn": flow.get("DeliverLogsPermissionArn", inputs.get("iamRoleArn", "")),
            "deliverCrossAccountRole": inputs.get("deliverCrossAccountRole", ""),
        }


HANDLERS: list[Handler] = [
    Vpc(),
    Subnet(),
    RouteTable(),
    RouteTableAssociation(),
    Route(),
    InternetGateway(),
    Eip(),
    NatGateway(),
    SecurityGroup(),
    DefaultSecurityGroup(),
    VpcEndpoint(),
    FlowLog(),
]
