"""The pack's shape: naming, module boundaries, the single PolicyPack, generated files."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from policies import docs, taggable
from policies.registry import ALL_POLICIES

PACKAGE_DIR = Path(docs.__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
TESTS_DIR = Path(__file__).resolve().parent
PACK_MODULES = sorted(PACKAGE_DIR.glob("*.py"))


def test_pack_has_at_least_30_resource_and_stack_policies():
    assert len(ALL_POLICIES) >= 30
    assert any(isinstance(p, StackValidationPolicy) for p in ALL_POLICIES)
    assert any(isinstance(p, ResourceValidationPolicy) for p in ALL_POLICIES)


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_policy_naming_and_docs(policy):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
    assert policy.description.startswith("Checks that")
    assert policy.enforcement_level is not None
    assert policy.remediation_steps


def _names_used_by(helper: str) -> set[str]:
    names: set[str] = set()
    for path in TESTS_DIR.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == helper
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
    return names


@pytest.mark.parametrize("helper", ["assert_violation", "assert_passes"])
def test_every_policy_has_a_failing_and_a_passing_test(helper):
    missing = sorted({p.name for p in ALL_POLICIES} - _names_used_by(helper))
    assert missing == [], f"policies without an {helper}(...) test: {missing}"


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", PACK_MODULES, ids=lambda p: p.name)
def test_no_module_imports_infra_or_ml(path):
    roots = {name.split(".")[0] for name in _imported_modules(path)}
    assert not roots & {"infra", "ml"}


def test_importing_the_pack_loads_neither_infra_ml_nor_pulumi_aws():
    code = textwrap.dedent(
        """
        import sys
        import policies, policies.registry, policies.offline, policies.docs
        bad = sorted(m for m in sys.modules if m.split(".")[0] in {"infra", "ml", "pulumi_aws"})
        print(",".join(bad))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _policy_pack_calls(path: Path) -> int:
    count = 0
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            count += name == "PolicyPack"
    return count


def test_policy_pack_is_constructed_only_in_main():
    calls = {path.name: _policy_pack_calls(path) for path in PACK_MODULES}
    assert calls.pop("__main__.py") == 1
    assert set(calls.values()) == {0}


def test_cli_entry_point_builds_the_pack_from_its_own_directory():
    # Reproduce what `pulumi-analyzer-policy-python` does: `python -m pulumi.policy <engine> .`
    # in the pack directory, i.e. runpy.run_path(".") with no parent package on sys.path.
    # PolicyPack is stubbed because the real one starts a gRPC server and blocks.
    code = textwrap.dedent(
        """
        import runpy, sys
        import pulumi_policy
        built = []
        class StubPack:
            def __init__(self, name, policies, **kwargs):
                built.append((name, len(policies), kwargs["enforcement_level"].value))
        pulumi_policy.PolicyPack = StubPack
        sys.path[:] = [p for p in sys.path if p not in ("", ".")]
        runpy.run_path(".", run_name="__main__")
        print(built)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PACKAGE_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"[('mlops-platform', {len(ALL_POLICIES)}, 'advisory')]"


def test_pack_metadata_files():
    manifest = (PACKAGE_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    assert re.search(r"^runtime: python$", manifest, re.MULTILINE)
    requirements = (PACKAGE_DIR / "requirements.txt").read_text(encoding="utf-8").split()
    assert requirements == ["pulumi-policy>=1,<2", "pulumi>=3,<4"]


def test_docs_are_up_to_date():
    checked_in = (REPO_ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    assert checked_in == docs.render(), "run: python -m policies.docs > docs/policies.md"
    for policy in ALL_POLICIES:
        assert f"`{policy.name}`" in checked_in


def test_taggable_types_match_the_installed_pulumi_aws():
    sdk_dir = taggable.sdk_directory()
    if sdk_dir is None:
        pytest.skip("pulumi_aws is not installed, nothing to compare the list with")
    checked_in = taggable.GENERATED_MODULE.read_text(encoding="utf-8")
    assert checked_in == taggable.render(sdk_dir), (
        "run: python -m policies.taggable > policies/_aws_taggable_types.py"
    )
    assert {"aws:s3/bucket:Bucket", "aws:sagemaker/endpoint:Endpoint"} <= taggable.taggable_types()
    assert "aws:s3/bucketVersioning:BucketVersioning" not in taggable.taggable_types()
