"""EC2 gap fills for moto 5.2: VPC endpoint changes and flow-log delivery status.

moto 5.2.5 answers these calls, but not as AWS does:

- `ModifyVpcEndpoint` records added and removed route tables and subnets without doing
  what AWS does with them: no prefix-list route appears in (or leaves) a route table of a
  Gateway endpoint, no network interface in a subnet of an Interface endpoint; and it
  ignores `ResetPolicy` and `PrivateDnsEnabled`.
- `DeleteVpcEndpoints` then fails on the route it never made (or whose table is gone)
  with `InvalidRoute.NotFound`, and the endpoint stays `available`.
- `CreateFlowLogs` to CloudWatch Logs named by `LogDestination` (the ARN, which is how
  the provider sends it) checks only `LogGroupName`, so the flow log reports
  `DeliverLogsStatus: FAILED` although the log group exists.
- `DeleteNatGateway` leaves the gateway's network interface (and its Elastic IP
  association) behind, and fails with an internal error on an unknown id instead of
  `NatGatewayNotFound`.

`install()` replaces moto's `modify_vpc_endpoint` request handler and three backend
methods in place (nothing in site-packages is edited). State stays in moto's own objects,
so `POST /moto-api/reset` clears it as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidRouteError, InvalidRouteTableIdError
from moto.ec2.models.flow_logs import FlowLogs, FlowLogsBackend
from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses.vpcs import VPCs
from moto.ec2.utils import random_private_ip

_LOG_GROUP_ARN_MARK = ":log-group:"


def _drop_route(backend: Any, table_id: str, prefix_list_id: str | None) -> None:
    """Remove a Gateway endpoint's route from a table; a missing route or table is fine."""
    if not prefix_list_id:
        return
    try:
        backend.delete_route(table_id, None, destination_prefix_list_id=prefix_list_id)
    except (InvalidRouteError, InvalidRouteTableIdError):
        pass


def _is_interface(endpoint: VPCEndPoint) -> bool:
    return (endpoint.vpc_endpoint_type or "").lower() == "interface"


def _change_route_tables(
    backend: Any, endpoint: VPCEndPoint, added: list[str], removed: list[str]
) -> None:
    for table_id in added:
        if table_id in endpoint.route_table_ids:
            continue
        if endpoint.destination_prefix_list_id:
            backend.create_route(
                table_id,
                None,
                gateway_id=endpoint.id,
                destination_prefix_list_id=endpoint.destination_prefix_list_id,
            )
        endpoint.route_table_ids.append(table_id)
    for table_id in removed:
        if table_id in endpoint.route_table_ids:
            _drop_route(backend, table_id, endpoint.destination_prefix_list_id)
            endpoint.route_table_ids.remove(table_id)


def _change_subnets(
    backend: Any, endpoint: VPCEndPoint, added: list[str], removed: list[str]
) -> None:
    subnets = list(endpoint.subnet_ids or [])
    for subnet_id in added:
        if subnet_id in subnets:
            continue
        backend.get_subnet(subnet_id)  # raises InvalidSubnetID.NotFound
        if _is_interface(endpoint):
            eni = backend.create_network_interface(subnet_id, random_private_ip())
            endpoint.network_interface_ids.append(eni.id)
        subnets.append(subnet_id)
    for subnet_id in removed:
        if subnet_id not in subnets:
            continue
        for eni_id in list(endpoint.network_interface_ids):
            eni = backend.enis.get(eni_id)
            if eni is None or eni.subnet.id == subnet_id:
                backend.enis.pop(eni_id, None)
                endpoint.network_interface_ids.remove(eni_id)
        subnets.remove(subnet_id)
    endpoint.subnet_ids = subnets


def modify_vpc_endpoint(self: VPCs) -> ActionResult:
    """ModifyVpcEndpoint with AWS's side effects on routes and network interfaces."""
    backend = self.ec2_backend
    endpoint = backend.describe_vpc_endpoints(vpc_end_point_ids=[self._get_param("VpcEndpointId")])[
        0
    ]
    if self._get_bool_param("ResetPolicy"):
        endpoint.policy_document = json.dumps(VPCEndPoint.DEFAULT_POLICY)
    elif self._get_param("PolicyDocument"):
        endpoint.policy_document = self._get_param("PolicyDocument")
    private_dns = self._get_bool_param("PrivateDnsEnabled")
    if private_dns is not None:
        endpoint.private_dns_enabled = private_dns
    _change_route_tables(
        backend,
        endpoint,
        self._get_param("AddRouteTableIds", []),
        self._get_param("RemoveRouteTableIds", []),
    )
    _change_subnets(
        backend,
        endpoint,
        self._get_param("AddSubnetIds", []),
        self._get_param("RemoveSubnetIds", []),
    )
    for group_id in self._get_param("AddSecurityGroupIds", []):
        if group_id not in endpoint.security_group_ids:
            endpoint.security_group_ids.append(group_id)
    for group_id in self._get_param("RemoveSecurityGroupIds", []):
        if group_id in endpoint.security_group_ids:
            endpoint.security_group_ids.remove(group_id)
    return ActionResult({"Return": True})


def delete_vpc_endpoints(self: VPCBackend, vpce_ids: list[str] | None = None) -> None:
    """As moto's, but a Gateway endpoint's missing route or table does not stop it."""
    backend: Any = self
    for vpce_id in vpce_ids or []:
        endpoint = backend.vpc_end_points.get(vpce_id)
        if endpoint is None:
            continue
        if _is_interface(endpoint):
            for eni_id in endpoint.network_interface_ids:
                backend.enis.pop(eni_id, None)
        else:
            for table_id in endpoint.route_table_ids:
                _drop_route(backend, table_id, endpoint.destination_prefix_list_id)
        endpoint.state = "deleted"


def _log_group_name(destination: str | None) -> str | None:
    """`arn:aws:logs:<region>:<account>:log-group:<name>[:*]` -> name."""
    if not destination or _LOG_GROUP_ARN_MARK not in destination:
        return None
    return destination.split(_LOG_GROUP_ARN_MARK, 1)[1].removesuffix(":*")


def _create_flow_logs(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_flow_logs(self: FlowLogsBackend, *args: Any, **kwargs: Any) -> Any:
        flow_logs, unsuccessful = original(self, *args, **kwargs)
        flow: FlowLogs
        for flow in flow_logs:
            group = _log_group_name(flow.log_destination)
            if flow.log_destination_type != "cloud-watch-logs" or flow.log_group_name or not group:
                continue
            from moto.logs.models import logs_backends

            backend: Any = self
            exists = group in logs_backends[backend.account_id][backend.region_name].groups
            flow.deliver_logs_status = "SUCCESS" if exists else "FAILED"
            flow.deliver_logs_error_message = None if exists else "Access error"
        return flow_logs, unsuccessful

    return create_flow_logs


def delete_nat_gateway(self: NatGatewayBackend, nat_gateway_id: str) -> NatGateway:
    """As AWS: the gateway's interface goes with it, and an unknown id is NotFound."""
    backend: Any = self
    nat: NatGateway | None = backend.nat_gateways.get(nat_gateway_id)
    if nat is None:
        raise EC2ClientError(
            "NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found"
        )
    if nat.state != "deleted":
        eni = getattr(nat, "_eni", None)
        if eni is not None:
            for address in backend.addresses:
                if address.eni is eni:
                    backend.disassociate_address(association_id=address.association_id)
            backend.enis.pop(eni.id, None)
        nat.state = "deleted"
    return nat


def install() -> list[str]:
    """Install the fills into moto's EC2 handler and backend; return the operation names."""
    VPCs.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]
    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints  # type: ignore[method-assign]
    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway  # type: ignore[method-assign]
    if not getattr(FlowLogsBackend.create_flow_logs, "__mlops_patched__", False):
        patched = _create_flow_logs(FlowLogsBackend.create_flow_logs)
        patched.__mlops_patched__ = True  # type: ignore[attr-defined]
        FlowLogsBackend.create_flow_logs = patched  # type: ignore[method-assign]
    return ["create_flow_logs", "delete_nat_gateway", "delete_vpc_endpoints", "modify_vpc_endpoint"]
