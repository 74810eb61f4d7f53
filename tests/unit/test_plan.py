"""The plan harness: captures the graph the engine would see, with realistic outputs,
in normal and preview mode, and runs many times in one process without leaking state."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from infra.plan import (
    MOCK_ACCOUNT,
    UNKNOWN,
    ProgramError,
    ProgramSpecError,
    load_program,
    plan_stack,
    run_program,
)

CONFIG = {"aws:region": "eu-west-1"}


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Box", name, None, opts)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", opts=pulumi.ResourceOptions(parent=self))
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"bucket": self.bucket.bucket})


def two_resources() -> None:
    box = Box("data")
    role = aws.iam.Role("role", assume_role_policy="{}", max_session_duration=3600)
    pulumi.export("bucket", box.bucket.bucket)
    pulumi.export("role_arn", role.arn)


def test_captures_type_name_urn_parent_dependencies_inputs() -> None:
    plan = run_program(two_resources, project="p", stack="s", config=CONFIG)
    box = plan.get("data")
    bucket, versioning = plan.get("data-bucket"), plan.get("data-versioning")
    assert box.type == "test:index:Box" and not box.custom
    assert box.urn == "urn:pulumi:s::p::test:index:Box::data"
    assert bucket.urn == "urn:pulumi:s::p::test:index:Box$aws:s3/bucket:Bucket::data-bucket"
    assert bucket.parent == box.urn and versioning.parent == box.urn
    assert bucket.urn in versioning.dependencies
    assert versioning.property_dependencies["bucket"] == (bucket.urn,)
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    # wire form: numbers arrive as floats, keys in camelCase
    assert plan.get("role").inputs["maxSessionDuration"] == 3600.0
    assert plan.components() == [box]


def test_outputs_are_realistic_and_flow_into_dependents() -> None:
    plan = run_program(two_resources, project="p", stack="s", config=CONFIG)
    bucket, versioning = plan.get("data-bucket"), plan.get("data-versioning")
    assert bucket.id == bucket.outputs["bucket"] and bucket.id.startswith("data-bucket-")
    assert bucket.outputs["arn"] == f"arn:aws:s3:::{bucket.id}"
    assert versioning.inputs["bucket"] == bucket.id
    assert plan.outputs["role_arn"] == f"arn:aws:iam::{MOCK_ACCOUNT}:role/{plan.get('role').id}"
    again = run_program(two_resources, project="p", stack="s", config=CONFIG)
    assert again.outputs == plan.outputs, "plans are deterministic"


def test_preview_leaves_computed_outputs_unknown() -> None:
    plan = run_program(two_resources, project="p", stack="s", config=CONFIG, preview=True)
    assert plan.preview
    assert plan.get("data-versioning").inputs["bucket"] == UNKNOWN
    assert plan.outputs == {"bucket": UNKNOWN, "role_arn": UNKNOWN}
    assert plan.get("data-bucket").id == ""


def test_two_plans_in_one_process_stay_separate() -> None:
    seen: list[object] = []

    def reads_config() -> None:
        seen.append(pulumi.Config("demo").get("flag"))
        aws.sns.Topic("only-in-second")

    first = run_program(two_resources, project="p1", stack="a", config={**CONFIG, "demo:flag": "x"})
    second = run_program(reads_config, project="p2", stack="b", config=CONFIG)
    third = run_program(two_resources, project="p1", stack="a", config=CONFIG, preview=True)
    assert seen == [None], "config of the first run must not leak into the second"
    assert [r.name for r in second.resources] == ["only-in-second"]
    assert all(r.urn.startswith("urn:pulumi:b::p2::") for r in second.resources)
    assert len(first.resources) == len(third.resources) == 4
    assert not third.outputs["bucket"] != UNKNOWN  # preview after a normal run is still a preview


def test_program_failure_is_reported() -> None:
    def broken() -> None:
        raise RuntimeError("no bucket for you")

    with pytest.raises(ProgramError, match="no bucket for you"):
        run_program(broken, project="p", stack="s", config=CONFIG)
    # and the next run is unaffected
    assert len(run_program(two_resources, project="p", stack="s", config=CONFIG).resources) == 4


def test_invokes_answer_like_aws() -> None:
    values: dict[str, object] = {}

    def program() -> None:
        ident = aws.get_caller_identity_output()
        zones = aws.get_availability_zones_output()
        pulumi.export("account", ident.account_id)
        pulumi.export("zones", zones.names)
        values["ok"] = True

    plan = run_program(program, project="p", stack="s", config=CONFIG)
    assert plan.outputs["account"] == MOCK_ACCOUNT
    assert plan.outputs["zones"][:2] == ["eu-west-1a", "eu-west-1b"]


def test_load_program_from_file_and_module(tmp_path: Path) -> None:
    source = tmp_path / "my_program.py"
    source.write_text(
        "import pulumi_aws as aws\n\ndef main():\n    aws.sqs.Queue('q')\n", encoding="utf-8"
    )
    func = load_program(f"{source}:main")
    plan = run_program(func, project="p", stack="s", config=CONFIG)
    assert [r.type for r in plan.resources] == ["aws:sqs/queue:Queue"]
    assert load_program("infra.stack:program").__name__ == "program"


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("nocolon", "expected PATH.py:FUNCTION"),
        ("missing.py:main", "no file"),
        ("no_such_module_xyz:main", "cannot import"),
        ("infra.stack:nope", "has no function nope"),
        ("infra.stack:", "expected PATH.py:FUNCTION"),
    ],
)
def test_load_program_errors(spec: str, text: str) -> None:
    with pytest.raises(ProgramSpecError, match=text):
        load_program(spec)


def test_plan_stack_uses_the_stack_file() -> None:
    plan = plan_stack("dev", program=lambda: pulumi.export("region", aws.get_region_output().name))
    assert plan.stack == "dev" and plan.project == "mlops-platform"
    assert plan.outputs["region"] == "eu-west-1"


def test_preview_outputs_hold_the_wire_sentinel_not_objects() -> None:
    plan = run_program(two_resources, project="p", stack="s", config=CONFIG, preview=True)
    versioning = plan.get("data-versioning")
    assert versioning.outputs["bucket"] == UNKNOWN
    assert all(
        isinstance(v, str | dict | list | float | bool | None) for v in versioning.outputs.values()
    )


def test_a_failure_inside_the_mocks_does_not_leak_into_the_next_run() -> None:
    from infra.plan import RealisticMocks

    class Failing(RealisticMocks):
        def new_resource(self, args: object) -> tuple[str, dict[str, object]]:
            if getattr(args, "name", "") == "second":
                raise RuntimeError("refused by the provider")
            return super().new_resource(args)

    def program() -> None:
        first = aws.s3.Bucket("first")
        aws.s3.Bucket("second", tags={"of": first.id})
        for index in range(5):
            aws.s3.Bucket(f"more-{index}", tags={"of": first.id})

    with pytest.raises(ProgramError, match="refused by the provider"):
        run_program(
            program, project="p", stack="s", config=CONFIG, mocks=Failing(region="eu-west-1")
        )
    for _ in range(2):
        assert len(run_program(two_resources, project="p", stack="s", config=CONFIG).resources) == 4
