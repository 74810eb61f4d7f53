"""Run any Pulumi program under Pulumi mocks and capture the resource graph it declares.

No CLI, no provider plugins, no cloud: the Pulumi SDK runs the program against a mock
resource monitor that records every registration (type, name, URN, parent, dependencies,
inputs in wire form) and answers with realistic outputs (ids, ARNs, physical names) so the
program's own reads of those outputs work. With `preview=True` the mocks return only the
inputs, so every computed output is unknown, as in `pulumi preview`.

Each run resets the SDK's global state first, so many plans can run in one process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's wire value for "unknown"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
MOCK_ACCOUNT = "123456789012"
STACK_TYPE = "pulumi:pulumi:Stack"


class ProgramError(RuntimeError):
    """The program itself failed under the mocks (an exception in user code)."""


class ProgramSpecError(ValueError):
    """`--program` does not name a loadable function."""


@dataclass(frozen=True)
class CapturedResource:
    """One registration, as the engine would have received it."""

    type: str
    name: str
    urn: str
    parent: str | None
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: Mapping[str, Any]  # wire form: camelCase keys, numbers as floats, UNKNOWN strings
    outputs: Mapping[str, Any]
    custom: bool
    provider: str
    id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "inputs": _mask_secrets(self.inputs),
        }

    def to_policy_input(self) -> dict[str, Any]:
        """The mapping `policies.offline.evaluate` takes."""
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "custom": self.custom,
            "provider": self.provider,
        }


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    preview: bool
    resources: tuple[CapturedResource, ...]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def by_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, name: str) -> CapturedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, parent: CapturedResource) -> list[CapturedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def components(self) -> list[CapturedResource]:
        return [r for r in self.resources if not r.custom and r.type != STACK_TYPE]


# ---------------------------------------------------------------------------- mocks


def _short_hash(text: str, size: int = 7) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:size]


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class RealisticMocks:
    """Outputs shaped like the AWS provider's: deterministic, so plans are reproducible.

    Implements the `pulumi.runtime.Mocks` protocol (kept duck-typed so that importing this
    module does not import the SDK's runtime before it is needed).
    """

    def __init__(self, *, region: str, account: str = MOCK_ACCOUNT, preview: bool = False):
        self.region = region
        self.account = account
        self.preview = preview

    # -- resources
    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if not args.custom:
            return "", inputs
        if self.preview:
            # pulumi preview knows only the inputs; ids, ARNs and auto-names stay unknown.
            return "", inputs
        seed = f"{args.typ}::{args.name}"
        state = self._outputs(args.typ, args.name, inputs, seed)
        return state.pop("__id"), state

    def _outputs(self, typ: str, logical: str, inputs: dict[str, Any], seed: str) -> dict[str, Any]:
        package, _, rest = typ.partition(":")
        module = rest.split("/")[0].split(":")[0]
        kind = typ.rsplit(":", 1)[-1]
        if package == "kubernetes":
            return self._kubernetes_outputs(logical, inputs, seed)
        name = self._physical_name(kind, logical, inputs, seed)
        state = {**inputs, "name": inputs.get("name", name)}
        arn = self._arn(package, module, kind, name, seed)
        rid = self._id(module, kind, name, arn, seed)
        state.setdefault("arn", arn)
        state["id"] = rid
        state["__id"] = rid
        state["tagsAll"] = dict(inputs.get("tags") or {})
        extra = _EXTRA_OUTPUTS.get((module, kind))
        if extra:
            state.update(extra(self, name, arn, inputs))
        return state

    @staticmethod
    def _kubernetes_outputs(logical: str, inputs: dict[str, Any], seed: str) -> dict[str, Any]:
        """The object as the API server returns it: the manifest, with a name (auto-named
        after the logical name when it has none, as the provider does) and a uid. Its
        Pulumi id is `<namespace>/<name>`, or the name for cluster-wide objects."""
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{logical}-{_short_hash(seed, 8)}")
        metadata["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
        namespace = metadata.get("namespace")
        rid = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
        return {**inputs, "metadata": metadata, "id": rid, "__id": rid}

    def _physical_name(self, kind: str, logical: str, inputs: Mapping[str, Any], seed: str) -> str:
        for key in (
            "name",
            "bucket",
            "modelPackageGroupName",
            "alarmName",
            "dashboardName",
            "topicName",
            "repositoryName",
            "roleName",
        ):
            if isinstance(inputs.get(key), str) and inputs[key] != UNKNOWN:
                return str(inputs[key])
        for key in ("namePrefix", "bucketPrefix"):
            if isinstance(inputs.get(key), str):
                return f"{inputs[key]}{_short_hash(seed, 26)}"
        return f"{logical}-{_short_hash(seed)}"

    def _arn(self, package: str, module: str, kind: str, name: str, seed: str) -> str:
        if package != "aws":
            return ""
        r, a = self.region, self.account
        special = {
            ("s3", "Bucket"): f"arn:aws:s3:::{name}",
            ("iam", "Role"): f"arn:aws:iam::{a}:role/{name}",
            ("iam", "Policy"): f"arn:aws:iam::{a}:policy/{name}",
            ("iam", "User"): f"arn:aws:iam::{a}:user/{name}",
            ("iam", "OpenIdConnectProvider"): (
                f"arn:aws:iam::{a}:oidc-provider/token.actions.githubusercontent.com"
            ),
            ("kms", "Key"): f"arn:aws:kms:{r}:{a}:key/{uuid.uuid5(uuid.NAMESPACE_URL, seed)}",
            ("kms", "Alias"): f"arn:aws:kms:{r}:{a}:{name}",
            ("sns", "Topic"): f"arn:aws:sns:{r}:{a}:{name}",
            ("sqs", "Queue"): f"arn:aws:sqs:{r}:{a}:{name}",
            ("cloudwatch", "LogGroup"): f"arn:aws:logs:{r}:{a}:log-group:{name}",
            ("cloudwatch", "MetricAlarm"): f"arn:aws:cloudwatch:{r}:{a}:alarm:{name}",
            ("cloudwatch", "EventRule"): f"arn:aws:events:{r}:{a}:rule/{name}",
            ("ecr", "Repository"): f"arn:aws:ecr:{r}:{a}:repository/{name}",
        }
        if (module, kind) in special:
            return special[(module, kind)]
        if module == "ec2":
            return f"arn:aws:ec2:{r}:{a}:{_kebab(kind)}/{self._ec2_id(kind, seed)}"
        return f"arn:aws:{module}:{r}:{a}:{_kebab(kind)}/{name}"

    def _ec2_id(self, kind: str, seed: str) -> str:
        prefix = {
            "Vpc": "vpc",
            "Subnet": "subnet",
            "SecurityGroup": "sg",
            "RouteTable": "rtb",
            "VpcEndpoint": "vpce",
            "FlowLog": "fl",
            "InternetGateway": "igw",
            "NatGateway": "nat",
        }.get(kind, _kebab(kind))
        return f"{prefix}-{_short_hash(seed, 17)}"

    def _id(self, module: str, kind: str, name: str, arn: str, seed: str) -> str:
        if module == "ec2":
            return self._ec2_id(kind, seed)
        if (module, kind) == ("kms", "Key"):
            return arn.rsplit("/", 1)[-1]
        if (module, kind) in {("sns", "Topic"), ("iam", "OpenIdConnectProvider")}:
            return arn
        if (module, kind) == ("sqs", "Queue"):
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        return name

    # -- invokes
    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/plan",
                "userId": "AIDAPLAN",
                "id": self.account,
            },
            "aws:index/getRegion:getRegion": {
                "name": self.region,
                "region": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{self.region}{z}" for z in "abcdef"],
                "zoneIds": [f"{self.region[:3]}1-az{i}" for i in range(1, 7)],
                "id": self.region,
            },
        }
        return answers.get(token, {}), []

    # The SDK calls these on its Mocks; nothing to record here.
    def register_transform(self, transform: Any) -> None:
        return None

    def register_invoke_transform(self, transform: Any) -> None:
        return None


def _bucket_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {
        "bucket": name,
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{m.region}.amazonaws.com",
        "region": m.region,
    }


def _repo_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {
        "registryId": m.account,
        "repositoryUrl": f"{m.account}.dkr.ecr.{m.region}.amazonaws.com/{name}",
    }


def _key_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {"keyId": arn.rsplit("/", 1)[-1]}


def _role_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {"uniqueId": f"AROA{_short_hash(arn, 17).upper()}"}


def _queue_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {"url": f"https://sqs.{m.region}.amazonaws.com/{m.account}/{name}"}


def _vpc_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {"defaultSecurityGroupId": f"sg-{_short_hash(arn, 17)}", "mainRouteTableId": ""}


def _model_package_group_outputs(
    m: RealisticMocks, name: str, arn: str, inputs: Any
) -> dict[str, Any]:
    return {"modelPackageGroupName": inputs.get("modelPackageGroupName", name)}


def _vpc_endpoint_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    gateway = inputs.get("vpcEndpointType") == "Gateway"
    return {"prefixListId": f"pl-{_short_hash(arn, 8)}"} if gateway else {"dnsEntries": []}


def _eip_outputs(m: RealisticMocks, name: str, arn: str, inputs: Any) -> dict[str, Any]:
    return {"allocationId": f"eipalloc-{_short_hash(arn, 17)}", "publicIp": "198.51.100.10"}


_EXTRA_OUTPUTS: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
    ("ec2", "VpcEndpoint"): _vpc_endpoint_outputs,
    ("ec2", "Eip"): _eip_outputs,
    ("s3", "Bucket"): _bucket_outputs,
    ("s3", "BucketV2"): _bucket_outputs,
    ("ecr", "Repository"): _repo_outputs,
    ("kms", "Key"): _key_outputs,
    ("iam", "Role"): _role_outputs,
    ("sqs", "Queue"): _queue_outputs,
    ("ec2", "Vpc"): _vpc_outputs,
    ("sagemaker", "ModelPackageGroup"): _model_package_group_outputs,
}


# ---------------------------------------------------------------------------- capture


def _wire_unknowns(value: Any) -> Any:
    """Outputs as the engine records them: an unknown is the wire sentinel, not an object."""
    from pulumi.output import Unknown

    return _unknowns_to_wire(value, Unknown)


def _capturing_monitor(mocks: Any) -> Any:
    from pulumi.runtime.mocks import MockMonitor

    class CapturingMonitor(MockMonitor):
        """Records what the engine would receive: parent, dependencies, wire-form inputs."""

        def __init__(self, inner: Any) -> None:
            super().__init__(inner)
            self.captured: list[dict[str, Any]] = []
            # The request being registered on this thread, for mocks that need more than
            # MockResourceArgs carries (the sandbox deployer needs URN and dependencies).
            self.current = threading.local()

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            """URNs as the engine forms them: the full chain of parent types, without the
            root stack's (the SDK's mock keeps only the last parent type)."""
            from pulumi.runtime.settings import get_project, get_stack

            if parent and STACK_TYPE not in parent.split("::")[2].split("$")[-1:]:
                type_ = parent.split("::")[2] + "$" + type_
            return f"urn:pulumi:{get_stack()}::{get_project()}::{type_}::{name}"

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            self.current.request = request
            self.current.urn = self.make_urn(request.parent, request.type, request.name)
            response = super().RegisterResource(request)
            if request.type != STACK_TYPE:
                state = self.resources[response.urn].state
                self.captured.append(
                    {
                        "type": request.type,
                        "name": request.name,
                        "urn": response.urn,
                        "parent": request.parent or None,
                        "dependencies": tuple(dict.fromkeys(request.dependencies)),
                        "property_dependencies": {
                            k: tuple(dict.fromkeys(v.urns))
                            for k, v in request.propertyDependencies.items()
                        },
                        "inputs": json_format.MessageToDict(request.object),
                        "outputs": _wire_unknowns(state),
                        "custom": bool(request.custom),
                        "provider": request.provider,
                        "id": response.id,
                    }
                )
            return response

    monitor = CapturingMonitor(mocks)
    if hasattr(mocks, "attach"):
        mocks.attach(monitor)
    return monitor


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] | None = None,
    preview: bool = False,
    region: str | None = None,
    mocks: Any = None,
) -> Plan:
    """Run `program` under mocks and return what it declared.

    `config` holds namespaced keys with string values, as the engine passes them.
    """
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.mocks import set_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    config = dict(config or {})
    region = region or str(config.get("aws:region", "us-east-1"))
    mocks = mocks or RealisticMocks(region=region, preview=preview)
    monitor = _capturing_monitor(mocks)

    # A previous run leaves its root Stack, config, and (if it failed) its unfinished RPCs
    # and outputs behind, which the next run would otherwise await and re-raise.
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    set_all_config(config, [])
    set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)

    exported: dict[str, Any] = {}

    async def body() -> None:
        program()
        root = settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})
        for key, value in outputs.items():
            exported[key] = await _resolve(pulumi.Output.from_input(value))

    try:
        _sync_await(run_pulumi_func(body))
    except Exception as exc:
        _cancel_leftover_tasks()  # a failed program leaves tasks that would fail the next run
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        raise ProgramError(_describe(exc)) from exc
    finally:
        settings.ROOT.set(None)

    resources = tuple(CapturedResource(**item) for item in monitor.captured)
    return Plan(project, stack, preview, resources, exported)


def _cancel_leftover_tasks() -> None:
    import asyncio

    from pulumi.runtime.sync_await import _ensure_event_loop

    loop = _ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending and not loop.is_running():
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _resolve(output: Any) -> Any:
    from pulumi.output import Unknown

    value = await output.future(with_unknowns=True)
    return _unknowns_to_wire(value, Unknown)


def _unknowns_to_wire(value: Any, unknown_type: type) -> Any:
    if isinstance(value, unknown_type):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_to_wire(v, unknown_type) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unknowns_to_wire(v, unknown_type) for v in value]
    return value


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if len(text) > 2000 else text


def _mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return "[secret]"
        return {k: _mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v) for v in value]
    return value


# ---------------------------------------------------------------------------- programs


def load_program(spec: str, root: Path | None = None) -> Callable[[], Any]:
    """Resolve `path/to/file.py:function` or `package.module:function` to a callable."""
    target, sep, func_name = spec.rpartition(":")
    if not sep or not target or not func_name.isidentifier():
        raise ProgramSpecError(
            f"--program {spec!r}: expected PATH.py:FUNCTION or MODULE:FUNCTION, "
            "e.g. my_program.py:main or infra.stack:program"
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and root is not None and not path.exists():
            path = root / path
        if not path.is_file():
            raise ProgramSpecError(f"--program {spec!r}: no file {path}")
        module_name = f"_mlops_program_{_short_hash(str(path.resolve()), 12)}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ProgramSpecError(f"--program {spec!r}: cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            raise ProgramSpecError(f"--program {spec!r}: importing {path} failed: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ProgramSpecError(f"--program {spec!r}: cannot import {target}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ProgramSpecError(f"--program {spec!r}: {target} has no function {func_name}")
    return func


@dataclass(frozen=True)
class StackRun:
    """What running a stack of this project needs: its name, project and engine config."""

    project: str
    stack: str
    config: Mapping[str, str]
    region: str
    account_id: str


def resolve_stack(
    stack: str,
    *,
    root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> StackRun:
    """Pulumi.yaml defaults + the stack file (+ overrides), as the engine would pass them.

    With `validate`, the values must make a valid StackConfig (bad config fails here, before
    anything runs); a user's own program (--program) may read other keys and skips that.
    """
    from infra.config import engine_values, load_project, load_stack_config

    project = load_project(root)
    values = {**project.defaults, **project.stack_values(stack), **dict(overrides or {})}
    if validate:
        load_stack_config(stack, root, overrides=overrides)
    return StackRun(
        project=project.name,
        stack=stack,
        config=engine_values(values),
        region=str(values.get("aws:region") or "us-east-1"),
        account_id=str((values.get("aws:allowedAccountIds") or [MOCK_ACCOUNT])[0]),
    )


def plan_stack(
    stack: str,
    *,
    program: Callable[[], Any] | None = None,
    root: Path | None = None,
    preview: bool = False,
    overrides: Mapping[str, Any] | None = None,
    validate: bool | None = None,
) -> Plan:
    """Plan a stack of this project: its stack file's config, the project program by default.

    `overrides` replace stack-file values (typed as in YAML) before validation, so tests
    can try a change without editing files.
    """
    run = resolve_stack(
        stack,
        root=root,
        overrides=overrides,
        validate=program is None if validate is None else validate,
    )
    if program is None:
        from infra.stack import program as project_program

        program = project_program
    return run_program(
        program,
        project=run.project,
        stack=stack,
        config=run.config,
        preview=preview,
        mocks=RealisticMocks(region=run.region, account=run.account_id, preview=preview),
    )
