"""`Network`: a private VPC for training jobs and endpoints.

Secure by default: private subnets only, no internet gateway and no NAT when `isolated`
(AWS services are reached through VPC endpoints), security groups with no ingress from
anywhere but the VPC, the default security group stripped of its rules (CIS AWS 5.4),
and flow logs of all traffic to an encrypted log group.

`isolated=False` adds an egress-only internet path (a public subnet, the VPC's last /28,
with a NAT gateway reached through an internet gateway); nothing in the VPC gets a
public address or accepts traffic from the internet. One NAT gateway, not one per AZ: it
is a convenience path for package downloads, and egress stops if its AZ fails; isolated
stays the default.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import MAX_SESSION_SECONDS, PolicyDocument, document, partition_for
from infra.naming import FLOW_LOGS_ROLE, physical_name, role_name
from infra.tags import merge_tags

# Interface endpoints a job or endpoint in an isolated VPC needs: SageMaker APIs and
# runtime, image pulls (ecr.api, ecr.dkr; layers come from S3), logs, STS (role
# credentials), KMS (encrypted volumes and objects) and CloudWatch metrics.
INTERFACE_ENDPOINT_SERVICES = (
    "sagemaker.api",
    "sagemaker.runtime",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "sts",
    "kms",
    "monitoring",
)
SMALLEST_SUBNET_PREFIX = 28  # AWS rejects subnets smaller than /28
# networkAzCount's range (StackConfig: 1..6). The NAT subnet sits where no private subnet
# of any of these counts can go, so changing the count never collides with it.
AZ_COUNTS = range(1, 7)
# Private subnets are cut as if for 8 AZs whatever the count: two slots more than the most
# AZs a stack may use, so the last slot (home of the NAT /28) is never private.
SUBNET_SLOTS = 8
HTTPS = 443
SERVING_PORT = 8080  # SageMaker serving containers listen on 8080
ANYWHERE = "0.0.0.0/0"
# Retentions CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


# ---------------------------------------------------------------------------- pure helpers


def split_cidr(cidr: str, count: int) -> list[str]:
    """`count` equal, non-overlapping subnets of `cidr`, in address order.

    The block is cut into the next power of two >= `count` equal parts and the first
    `count` are returned (the rest stays free). Raises ValueError when the parts would be
    smaller than /28, the smallest subnet AWS allows.
    """
    if count < 1:
        raise ValueError(f"cannot split {cidr} into {count} subnets: need at least one")
    network = ipaddress.IPv4Network(cidr, strict=True)
    bits = (count - 1).bit_length()
    if network.prefixlen + bits > SMALLEST_SUBNET_PREFIX:
        raise ValueError(
            f"{cidr} is too small for {count} subnets: each would be "
            f"/{network.prefixlen + bits}, smaller than AWS's /{SMALLEST_SUBNET_PREFIX}; "
            "use a larger CIDR block or fewer availability zones"
        )
    return [str(net) for net in itertools.islice(network.subnets(prefixlen_diff=bits), count)]


@dataclass(frozen=True)
class SubnetLayout:
    """Where subnets go: one private subnet per AZ, and a small public one for NAT."""

    private: tuple[str, ...]
    public: str


def private_subnets(cidr: str, az_count: int) -> tuple[str, ...]:
    """The first `az_count` of `SUBNET_SLOTS` equal parts of `cidr`.

    The cut does not depend on `az_count`, so changing networkAzCount adds or removes
    subnets at the end and never re-cuts (replaces) the ones that exist. Deployed stacks
    hold these CIDRs: changing this function replaces their private subnets."""
    if az_count not in AZ_COUNTS:
        raise ValueError(
            f"cannot place {az_count} private subnets: networkAzCount must be "
            f"{min(AZ_COUNTS)} to {max(AZ_COUNTS)}"
        )
    return tuple(split_cidr(cidr, SUBNET_SLOTS)[:az_count])


def nat_subnet(cidr: str) -> str:
    """The last /28 of `cidr`, home of the NAT gateway when the VPC is not isolated."""
    network = ipaddress.IPv4Network(cidr, strict=True)
    if network.prefixlen > SMALLEST_SUBNET_PREFIX:
        raise ValueError(f"{cidr} is smaller than a /{SMALLEST_SUBNET_PREFIX} subnet")
    size = 2 ** (32 - SMALLEST_SUBNET_PREFIX)
    return str(
        ipaddress.IPv4Network((int(network.broadcast_address) + 1 - size, SMALLEST_SUBNET_PREFIX))
    )


def subnet_layout(cidr: str, az_count: int) -> SubnetLayout:
    """Private subnets as `private_subnets`; the NAT subnet is the last /28 of the VPC.

    Neither depends on the other or on `isolated`, so no AZ-count change or NAT toggle
    moves a subnet. The NAT subnet lies in the last slot, which no AZ count reaches (a
    private subnet added later is created while the NAT subnet still exists, and AWS
    rejects overlapping subnets); this is checked, and fails with the fix if not.
    """
    private = private_subnets(cidr, az_count)
    public = ipaddress.IPv4Network(nat_subnet(cidr))
    widest = private_subnets(cidr, max(AZ_COUNTS))
    clash = [p for p in widest if ipaddress.IPv4Network(p).overlaps(public)]
    if clash:
        raise ValueError(
            f"cannot place the NAT subnet of {cidr} at {public}: it overlaps private subnet "
            f"{', '.join(clash)} of the {max(AZ_COUNTS)}-AZ layout, so raising networkAzCount "
            "would collide with it; use a larger CIDR block"
        )
    return SubnetLayout(private, str(public))


def interface_service_names(region: str) -> dict[str, str]:
    """Short service -> VPC endpoint service name, e.g. ecr.dkr -> com.amazonaws.<r>.ecr.dkr."""
    return {svc: f"com.amazonaws.{region}.{svc}" for svc in INTERFACE_ENDPOINT_SERVICES}


def check_retention(days: int, what: str) -> int:
    """CloudWatch Logs accepts only some retentions; fail at plan time, naming the fix."""
    if days not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda allowed: abs(allowed - days))
        raise ValueError(
            f"{what}: {days} days is not a retention CloudWatch Logs accepts; "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))} (nearest: {nearest})"
        )
    return days


def pick_zone(zones: Sequence[str], index: int, count: int) -> str:
    if len(zones) < count:
        raise ValueError(
            f"the network spans {count} availability zones but the region offers "
            f"{len(zones)} ({', '.join(zones) or 'none'}); lower networkAzCount"
        )
    return zones[index]


def s3_endpoint_policy(partition: str, region: str, account_id: str) -> PolicyDocument:
    """Through the S3 endpoint, this account's principals reach only this account's
    buckets, so data cannot be copied out to a bucket of another account; plus the
    AWS-owned bucket ECR serves image layers from (pulled with presigned URLs).
    Endpoint policies take a Principal; the conditions pin it to the account."""
    return document(
        {
            "Sid": "AccountPrincipalsToAccountBuckets",
            "Effect": "Allow",
            "Principal": "*",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:GetBucketLocation",
            ],
            # Bucket names are not known to the network; the account conditions scope it.
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalAccount": account_id,
                    "aws:ResourceAccount": account_id,
                }
            },
        },
        {
            "Sid": "EcrImageLayers",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*",
        },
    )


def flow_logs_trust_policy(partition: str, region: str, account_id: str) -> PolicyDocument:
    """VPC Flow Logs may assume the role only for flow logs of this account (confused
    deputy protection)."""
    return document(
        {
            "Sid": "VpcFlowLogsAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"
                },
            },
        }
    )


def flow_logs_delivery_policy(log_group_arn: str) -> PolicyDocument:
    """Write to the one flow-log group and nothing else (no CreateLogGroup: it exists)."""
    return document(
        {
            "Sid": "DeliverToFlowLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }
    )


def flow_log_group_name(prefix: str) -> str:
    return f"/mlops/{prefix}/vpc-flow-logs"


# ---------------------------------------------------------------------------- component


@dataclass(frozen=True)
class NetworkArgs:
    prefix: str
    """Name prefix of the stack (cfg.name_prefix)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) for every taggable resource."""
    account_id: pulumi.Input[str]
    """AWS account of the stack (flow-logs trust and S3 endpoint policy)."""
    region: str
    """AWS region (cfg.region): VPC endpoint service names."""
    availability_zones: pulumi.Input[Sequence[str]]
    """AZ names to use, at least `az_count` (e.g. get_availability_zones_output().names)."""
    log_kms_key_arn: pulumi.Input[str]
    """KMS key encrypting the flow-log group (its policy must allow logs.<region>)."""
    cidr: str = "10.40.0.0/16"
    """VPC CIDR block (cfg.network.cidr)."""
    az_count: int = 2
    """Availability zones to spread private subnets over (cfg.network.az_count)."""
    isolated: bool = True
    """No internet path at all (cfg.network.isolated); False adds one NAT gateway."""
    flow_log_retention_days: int = 365
    """Retention of the flow-log group (cfg.network.flow_log_retention_days)."""
    permissions_boundary: pulumi.Input[str] | None = None
    """Permissions boundary of the flow-logs role (Roles.boundary_arn)."""
    restrict_s3_endpoint: bool = True
    """S3 endpoint reaches only this account's buckets; False allows any bucket (e.g. to
    read public or AWS-owned buckets), which also allows copying data out."""


class Network(pulumi.ComponentResource):
    """Private VPC, endpoints, security groups and flow logs of one stack."""

    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]
    training_security_group_id: pulumi.Output[str]
    serving_security_group_id: pulumi.Output[str]
    endpoint_security_group_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        layout = subnet_layout(args.cidr, args.az_count)
        retention = check_retention(args.flow_log_retention_days, "flow log retention")
        partition = partition_for(args.region)
        account = pulumi.Output.from_input(args.account_id)
        if isinstance(args.availability_zones, list | tuple):
            pick_zone(args.availability_zones, 0, args.az_count)  # fail early, and clearly
        zones = pulumi.Output.from_input(args.availability_zones)

        def zone_at(index: int) -> pulumi.Output[str]:
            return zones.apply(lambda z: pick_zone(z, index, args.az_count))

        def tags(role: str) -> dict[str, str]:
            return merge_tags(args.tags, None, name=physical_name(args.prefix, role))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            # Both on: interface endpoints' private DNS resolves AWS API names to them.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )
        # CIS AWS 5.4: the default security group allows nothing, so a resource launched
        # without an explicit group is cut off instead of open to its neighbours.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=tags("default-sg"),
            opts=child,
        )

        subnets: list[aws.ec2.Subnet] = []
        route_tables: list[aws.ec2.RouteTable] = []
        for index, block in enumerate(layout.private):
            subnet = aws.ec2.Subnet(
                f"{name}-private-subnet-{index}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=zone_at(index),
                map_public_ip_on_launch=False,  # private: nothing gets a public address
                tags=tags(f"private-{index}"),
                opts=child,
            )
            # One route table per AZ: with a NAT path each AZ's default route is its own.
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                tags=tags(f"private-rt-{index}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child,
            )
            subnets.append(subnet)
            route_tables.append(table)
        subnet_ids = [s.id for s in subnets]

        # Gateway endpoint: S3 traffic (data, models, ECR layers) never leaves AWS's
        # network, and costs nothing.
        s3_policy = (
            account.apply(lambda a: json.dumps(s3_endpoint_policy(partition, args.region, a)))
            if args.restrict_s3_endpoint
            else None
        )
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in route_tables],
            policy=s3_policy,
            tags=tags("s3-endpoint"),
            opts=child,
        )

        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            name=physical_name(args.prefix, "endpoints"),
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            vpc_id=vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    cidr_blocks=[args.cidr],
                )
            ],
            # No egress rules: endpoints only answer (security groups are stateful).
            egress=[],
            tags=tags("endpoints"),
            opts=child,
        )
        https_out = [
            aws.ec2.SecurityGroupEgressArgs(
                description="HTTPS to the interface endpoints",
                protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                cidr_blocks=[args.cidr],
            ),
            aws.ec2.SecurityGroupEgressArgs(
                description="HTTPS to S3 through the gateway endpoint",
                protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                prefix_list_ids=[s3_endpoint.prefix_list_id],
            ),
        ]
        if not args.isolated:
            # The explicit opt-out: HTTPS to the internet, through the NAT gateway.
            https_out.append(
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the internet through NAT (networkIsolated: false)",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    cidr_blocks=[ANYWHERE],
                )
            )
        training_sg = aws.ec2.SecurityGroup(
            f"{name}-training-sg",
            name=physical_name(args.prefix, "training"),
            description="Training jobs: all traffic between instances of a job only",
            vpc_id=vpc.id,
            # Distributed training (NCCL, EFA, parameter servers) uses arbitrary ports
            # between the instances of a job, and nothing else may reach them.
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="All traffic from instances of the same group",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    self=True,
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="All traffic to instances of the same group",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    self=True,
                ),
                *https_out,
            ],
            tags=tags("training"),
            opts=child,
        )
        serving_sg = aws.ec2.SecurityGroup(
            f"{name}-serving-sg",
            name=physical_name(args.prefix, "serving"),
            description="Endpoints: HTTPS and the serving port from inside the VPC only",
            vpc_id=vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description=f"Port {port} from the VPC",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=[args.cidr],
                )
                for port in (HTTPS, SERVING_PORT)
            ],
            egress=https_out,
            tags=tags("serving"),
            opts=child,
        )

        for service, service_name in interface_service_names(args.region).items():
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=vpc.id,
                service_name=service_name,
                vpc_endpoint_type="Interface",
                # Private DNS: SDKs use the normal API names and reach the endpoint.
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[endpoint_sg.id],
                tags=tags(f"{service.replace('.', '-')}-endpoint"),
                opts=child,
            )

        if not args.isolated:
            self._nat_path(
                name,
                args,
                public_cidr=layout.public,
                vpc=vpc,
                zone=zone_at(0),
                private_tables=route_tables,
                tags=tags,
                child=child,
            )

        self._flow_logs(
            name,
            args,
            vpc=vpc,
            account=account,
            partition=partition,
            retention=retention,
            tags=tags,
            child=child,
        )

        self.vpc_id = vpc.id
        self.subnet_ids = pulumi.Output.all(*subnet_ids)
        self.training_security_group_id = training_sg.id
        self.serving_security_group_id = serving_sg.id
        self.endpoint_security_group_id = endpoint_sg.id
        self.flow_log_group_name = pulumi.Output.from_input(flow_log_group_name(args.prefix))
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "subnet_ids": self.subnet_ids,
                "training_security_group_id": self.training_security_group_id,
                "serving_security_group_id": self.serving_security_group_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def _nat_path(
        self,
        name: str,
        args: NetworkArgs,
        *,
        public_cidr: str,
        vpc: aws.ec2.Vpc,
        zone: pulumi.Output[str],
        private_tables: Sequence[aws.ec2.RouteTable],
        tags: Callable[[str], dict[str, str]],
        child: pulumi.ResourceOptions,
    ) -> None:
        """Egress-only internet access: private subnets -> NAT -> internet gateway."""
        public = aws.ec2.Subnet(
            f"{name}-public-subnet",
            vpc_id=vpc.id,
            cidr_block=public_cidr,
            availability_zone=zone,
            # Only the NAT gateway lives here, with its Elastic IP: no automatic publics.
            map_public_ip_on_launch=False,
            tags=tags("public-nat"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child
        )
        public_table = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=tags("public-nat-rt"), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default-route",
            route_table_id=public_table.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=gateway.id,
            opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-rta",
            subnet_id=public.id,
            route_table_id=public_table.id,
            opts=child,
        )
        address = aws.ec2.Eip(f"{name}-nat-eip", domain="vpc", tags=tags("nat"), opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=address.allocation_id,
            subnet_id=public.id,
            tags=tags("nat"),
            opts=pulumi.ResourceOptions(
                parent=self,
                # AWS needs the internet gateway attached before the NAT gateway works.
                depends_on=[gateway],
                # An Elastic IP belongs to one NAT gateway at a time, so a replacement
                # (e.g. its subnet moved) created before the old one is deleted fails
                # (pulumi-aws#1483). Egress pauses during the swap; the address is kept.
                delete_before_replace=True,
            ),
        )
        for index, table in enumerate(private_tables):
            aws.ec2.Route(
                f"{name}-private-default-route-{index}",
                route_table_id=table.id,
                destination_cidr_block=ANYWHERE,
                nat_gateway_id=nat.id,
                opts=child,
            )

    def _flow_logs(
        self,
        name: str,
        args: NetworkArgs,
        *,
        vpc: aws.ec2.Vpc,
        account: pulumi.Output[str],
        partition: str,
        retention: int,
        tags: Callable[[str], dict[str, str]],
        child: pulumi.ResourceOptions,
    ) -> None:
        """All traffic (accepted and rejected) to an encrypted log group, for forensics."""
        group_name = flow_log_group_name(args.prefix)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=group_name,
            retention_in_days=retention,
            kms_key_id=args.log_kms_key_arn,  # customer-managed key: we control who reads
            tags=tags("vpc-flow-logs"),
            opts=child,
        )
        physical_role = role_name(args.prefix, FLOW_LOGS_ROLE)
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            name=physical_role,
            description="VPC Flow Logs delivery to the stack's flow-log group",
            assume_role_policy=account.apply(
                lambda a: json.dumps(flow_logs_trust_policy(partition, args.region, a))
            ),
            max_session_duration=MAX_SESSION_SECONDS,
            permissions_boundary=args.permissions_boundary,
            tags=merge_tags(args.tags, None, name=physical_role),
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.name,
            name="deliver-flow-logs",
            # The group's ARN is fixed by its name: known at preview, for the policy pack.
            policy=account.apply(
                lambda a: json.dumps(
                    flow_logs_delivery_policy(
                        f"arn:{partition}:logs:{args.region}:{a}:log-group:{group_name}"
                    )
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=tags("flow-log"),
            # Delivery starts at once: the role's permissions must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )
