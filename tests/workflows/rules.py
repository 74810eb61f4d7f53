"""The rules the GitHub workflows keep, as functions that return the problems they find.

Each rule takes a workflow (the parsed YAML, `on` restored as a key) and its raw text, and
returns a list of messages, empty when the workflow keeps the rule. The tests assert that
the real workflows return none, and that mutated copies return the expected message, so a
rule that stopped looking would fail too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"

Workflow = dict[str, Any]
Job = Mapping[str, Any]
Step = Mapping[str, Any]
Rule = Callable[[Workflow, str], list[str]]

STACKS = ("local", "dev", "staging", "prod")
DEPLOY_ORDER = ("dev", "staging", "prod")
PREVIEWED = ("staging", "prod")
EPHEMERAL_PATHS = ("infra/**", "ml/**", "policies/**", "stacks/**")

# Every action the workflows may use, pinned to the commit its release tag names. Verified
# against each repository's tags (`git show-ref --tags` on a clone); changing a pin means
# checking the new tag the same way and updating this table and ACTION_INPUTS.
PINNED_ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "aws-actions/configure-aws-credentials": (
        "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        "v6.2.3",
    ),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
}

# The inputs each pinned action declares in its action.yml at that commit. actionlint
# cannot check `with:` keys of an action pinned by SHA, so this does.
ACTION_INPUTS: dict[str, frozenset[str]] = {
    "actions/checkout": frozenset(
        "allow-unsafe-pr-checkout clean fetch-depth fetch-tags filter github-server-url lfs "
        "path persist-credentials ref repository set-safe-directory show-progress "
        "sparse-checkout sparse-checkout-cone-mode ssh-key ssh-known-hosts ssh-strict "
        "ssh-user submodules token".split()
    ),
    "actions/setup-python": frozenset(
        "allow-prereleases architecture cache cache-dependency-path check-latest "
        "freethreaded pip-version python-version python-version-file token "
        "update-environment".split()
    ),
    "aws-actions/configure-aws-credentials": frozenset(
        "action-timeout-s allowed-account-ids audience aws-access-key-id aws-profile "
        "aws-region aws-secret-access-key aws-session-token custom-tags disable-retry "
        "force-skip-oidc http-proxy inline-session-policy managed-session-policies "
        "mask-aws-account-id no-proxy output-credentials output-env-credentials "
        "overwrite-aws-profile retry-max-attempts role-chaining role-duration-seconds "
        "role-external-id role-session-name role-skip-session-tagging role-to-assume "
        "special-characters-workaround sts-endpoint transitive-tag-keys "
        "unset-current-credentials use-existing-credentials web-identity-token-file".split()
    ),
    "pulumi/actions": frozenset(
        "always-include-summary cloud-url color command comment-on-pr comment-on-pr-number "
        "comment-on-summary config-map continue-on-error debug diff edit-pr-comment exclude "
        "exclude-dependents exclude-protected expect-no-changes github-token log-flow "
        "log-verbosity message parallel plan policyPackConfigs policyPacks pulumi-version "
        "pulumi-version-file refresh remove replace secrets-provider stack-name "
        "suppress-outputs suppress-progress target target-dependents upsert work-dir".split()
    ),
}
REQUIRED_INPUTS = {"aws-actions/configure-aws-credentials": ("aws-region",)}

CONFIGURE_AWS = "aws-actions/configure-aws-credentials"
PULUMI = "pulumi/actions"
# Roles a job assumes, by the variable holding their ARN, and whether the job must run in
# a GitHub environment: the deploy and retraining roles trust `environment:<env>`, the
# preview role trusts `pull_request`, which a job in an environment does not present.
ROLE_VARIABLES = {"PREVIEW_ROLE_ARN": False, "DEPLOY_ROLE_ARN": True, "RETRAIN_ROLE_ARN": True}

_UNTRUSTED = re.compile(
    r"\$\{\{[^}]*\b(github\s*\.\s*event\s*[.\[]|inputs\s*\.|github\s*\.\s*head_ref)"
)
_SHA = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/[^@]*)?@(?P<sha>[0-9a-f]{40})$")
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_VERSION_COMMENT = re.compile(r"#\s*(?P<version>v\d+\.\d+\.\d+)\b")
_PINNED_IMAGE = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+([-.\w]*)?)?(@sha256:[0-9a-f]{64})?$")
_PULUMI_RUN = re.compile(r"\bpulumi\s+(preview|up|update)\b")


# ---------------------------------------------------------------------------- loading


def load(path: Path) -> tuple[Workflow, str]:
    """A workflow file as (data, text). YAML 1.1 reads the key `on` as True: restore it."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if True in data:
        data["on"] = data.pop(True)
    return data, text


def dump(workflow: Workflow) -> str:
    """YAML text of a (mutated) workflow, with its `on` key quoted so it stays a string."""
    return yaml.safe_dump(workflow, sort_keys=False)


def all_workflows() -> dict[str, Path]:
    return {path.name: path for path in sorted(WORKFLOWS.glob("*.yml"))}


# ---------------------------------------------------------------------------- helpers


def jobs(wf: Workflow) -> dict[str, Job]:
    return dict(wf.get("jobs") or {})


def steps(job: Job) -> list[Step]:
    return list(job.get("steps") or [])


def action(step: Step) -> str | None:
    """`owner/repo` of a step's `uses:` (without path and ref), or None for a `run:` step."""
    uses = step.get("uses")
    if not isinstance(uses, str):
        return None
    owner_repo = uses.split("@", 1)[0].split("/")
    return "/".join(owner_repo[:2])


def with_(step: Step) -> dict[str, Any]:
    return dict(step.get("with") or {})


def run_text(step: Step) -> str:
    return str(step.get("run") or "")


def environment(job: Job) -> str | None:
    env = job.get("environment")
    if isinstance(env, Mapping):
        env = env.get("name")
    return None if env is None else str(env)


def needs(job: Job) -> list[str]:
    value = job.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def matrix_values(job: Job, key: str) -> list[Any]:
    """Every value `matrix.<key>` can take: from the axis and from `include` entries."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if isinstance(matrix, str):
        return [matrix]
    values: list[Any] = []
    axis = matrix.get(key)
    if isinstance(axis, list):
        values.extend(axis)
    elif axis is not None:
        values.append(axis)
    for entry in matrix.get("include") or []:
        if key in entry:
            values.append(entry[key])
    return values


def expression_sources(job: Job, value: str) -> list[str]:
    """`value`, and what each `matrix.<key>` it names resolves to (include entries)."""
    sources = [value]
    for key in re.findall(r"matrix\.([\w-]+)", value):
        sources.extend(str(v) for v in matrix_values(job, key))
    return sources


def role_steps(job: Job) -> list[Step]:
    return [s for s in steps(job) if action(s) == CONFIGURE_AWS]


def pulumi_commands(job: Job) -> list[Step]:
    """pulumi/actions steps that run a command (not the install-only form)."""
    return [s for s in steps(job) if action(s) == PULUMI and with_(s).get("command")]


def comments_on_pr(job: Job) -> bool:
    return any(str(with_(s).get("comment-on-pr")).lower() == "true" for s in pulumi_commands(job))


def opens_pull_request(job: Job) -> bool:
    return any(re.search(r"\bgh pr create\b", run_text(s)) for s in steps(job))


def triggers(wf: Workflow) -> dict[str, Any]:
    on = wf.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


# ---------------------------------------------------------------------------- general rules


def top_level_permissions(wf: Workflow, text: str) -> list[str]:
    """The workflow grants nothing by default beyond reading the repository."""
    perms = wf.get("permissions")
    if perms is None:
        return ["top-level permissions are missing (the token would get the repository default)"]
    if perms not in ({}, {"contents": "read"}):
        return [f"top-level permissions must be {{}} or contents: read, not {perms!r}"]
    return []


def job_permissions(wf: Workflow, text: str) -> list[str]:
    """id-token: write only where a role is assumed; pull-requests: write only where a
    comment is posted or a pull request opened, contents: write only for the latter;
    nothing else beyond contents: read."""
    problems = []
    for name, job in jobs(wf).items():
        assumes = bool(role_steps(job))
        comments = comments_on_pr(job)
        opens_pr = opens_pull_request(job)
        perms = job.get("permissions", wf.get("permissions"))
        if not isinstance(perms, Mapping):
            problems.append(f"jobs.{name}: permissions must be a mapping, not {perms!r}")
            continue
        allowed = {"contents": {"read"}}
        if assumes:
            allowed["id-token"] = {"write"}
        if comments or opens_pr:
            allowed["pull-requests"] = {"write"}
        if opens_pr:
            allowed["contents"] = {"read", "write"}
        for scope, level in perms.items():
            if level == "none":
                continue
            if level not in allowed.get(scope, set()):
                problems.append(f"jobs.{name}: grants {scope}: {level}, which it does not need")
        if assumes and perms.get("id-token") != "write":
            problems.append(f"jobs.{name}: assumes a role but lacks id-token: write")
        if comments and perms.get("pull-requests") != "write":
            problems.append(f"jobs.{name}: comments on the pull request but lacks pull-requests")
    return problems


def actions_pinned(wf: Workflow, text: str) -> list[str]:
    """Every `uses:` names a reviewed action at its verified full commit SHA, with a
    `# vX.Y.Z` comment naming that release; service images are pinned too."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _USES_LINE.match(line)
        if not match:
            continue
        ref, rest = match["ref"].strip("'\""), match["rest"]
        pinned = _SHA.match(ref)
        if not pinned:
            problems.append(f"line {number}: {ref} is not pinned to a full commit SHA")
            continue
        comment = _VERSION_COMMENT.search(rest)
        if not comment:
            problems.append(f"line {number}: {ref} has no '# vX.Y.Z' comment")
            continue
        known = PINNED_ACTIONS.get(pinned["repo"])
        if known is None:
            problems.append(f"line {number}: {pinned['repo']} is not a reviewed action")
        elif (pinned["sha"], comment["version"]) != known:
            problems.append(
                f"line {number}: {pinned['repo']}@{pinned['sha']} # {comment['version']} "
                f"is not the verified pin {known[0]} # {known[1]}"
            )
    for name, job in jobs(wf).items():
        # The parsed workflow too: a `uses` the line scan above could miss (flow style).
        for uses in [job.get("uses")] + [s.get("uses") for s in steps(job)]:
            if isinstance(uses, str) and not uses.startswith("./") and not _SHA.match(uses):
                problems.append(f"jobs.{name}: {uses} is not pinned to a full commit SHA")
        images = [s.get("image") for s in (job.get("services") or {}).values()]
        container = job.get("container")
        images.append(container.get("image") if isinstance(container, Mapping) else container)
        for image in filter(None, images):
            exact = _PINNED_IMAGE.match(str(image))
            if not exact or not (exact.group(1) or exact.group(3)):
                problems.append(
                    f"jobs.{name}: image {image} is not pinned by exact version or digest"
                )
    return problems


def action_inputs(wf: Workflow, text: str) -> list[str]:
    """`with:` keys are inputs the pinned action declares; required ones are given."""
    problems = []
    for name, job in jobs(wf).items():
        for step in steps(job):
            repo = action(step)
            if repo not in ACTION_INPUTS:
                continue
            given = set(with_(step))
            for unknown in sorted(given - ACTION_INPUTS[repo]):
                problems.append(f"jobs.{name}: {repo} has no input {unknown!r}")
            for required in REQUIRED_INPUTS.get(repo, ()):
                if required not in given:
                    problems.append(f"jobs.{name}: {repo} needs input {required!r}")
            if repo == PULUMI and with_(step).get("command") and "stack-name" not in given:
                problems.append(f"jobs.{name}: pulumi/actions with a command needs stack-name")
    return problems


def no_untrusted_text_in_run(wf: Workflow, text: str) -> list[str]:
    """No `${{ github.event.* }}`, `${{ inputs.* }}` or `${{ github.head_ref }}` inside a
    `run:` script, where it would be pasted into the shell (script injection): pass such
    values through `env:` instead."""
    problems = []
    for name, job in jobs(wf).items():
        for index, step in enumerate(steps(job)):
            found = _UNTRUSTED.search(run_text(step))
            if found:
                problems.append(
                    f"jobs.{name}.steps[{index}]: run script interpolates {found.group(0)!r}"
                )
    return problems


def timeouts(wf: Workflow, text: str) -> list[str]:
    """Every job has a timeout (the default is six hours)."""
    return [
        f"jobs.{name}: no timeout-minutes"
        for name, job in jobs(wf).items()
        if "uses" not in job and not isinstance(job.get("timeout-minutes"), int)
    ]


def python_setup(wf: Workflow, text: str) -> list[str]:
    """Jobs set Python up with a pip cache, then `make setup`, before running the project."""
    problems = []
    for name, job in jobs(wf).items():
        job_steps = steps(job)
        setups = [i for i, s in enumerate(job_steps) if action(s) == "actions/setup-python"]
        makes = [i for i, s in enumerate(job_steps) if run_text(s).strip() == "make setup"]
        uses_project = any(
            re.search(r"\b(mlops|pytest|make test)\b", run_text(s)) for s in job_steps
        )
        if uses_project and not (setups and makes and setups[0] < makes[0]):
            problems.append(f"jobs.{name}: runs the project without setup-python + make setup")
        for i in setups:
            given = with_(job_steps[i])
            if not given.get("cache") or not given.get("python-version"):
                problems.append(f"jobs.{name}: setup-python without python-version and cache")
    return problems


def checkout_without_credentials(wf: Workflow, text: str) -> list[str]:
    """Checkouts do not leave the token in .git/config for later steps to find."""
    return [
        f"jobs.{name}: actions/checkout keeps credentials (set persist-credentials: false)"
        for name, job in jobs(wf).items()
        for step in steps(job)
        if action(step) == "actions/checkout"
        and with_(step).get("persist-credentials") is not False
    ]


def roles_through_oidc(wf: Workflow, text: str) -> list[str]:
    """Credentials only from roles assumed through OIDC, named by a variable; the job's
    environment matches what the role trusts."""
    problems = []
    for name, job in jobs(wf).items():
        for step in steps(job):
            env_keys = set(step.get("env") or {}) | set(job.get("env") or {})
            if {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & env_keys:
                problems.append(f"jobs.{name}: long-lived AWS keys in env")
        for step in role_steps(job):
            given = with_(step)
            if {"aws-access-key-id", "aws-secret-access-key"} & set(given):
                problems.append(f"jobs.{name}: long-lived AWS keys passed to {CONFIGURE_AWS}")
            role = str(given.get("role-to-assume") or "")
            sources = " ".join(expression_sources(job, role))
            variables = [v for v in ROLE_VARIABLES if f"vars.{v}" in sources]
            if len(variables) != 1:
                known = ", ".join(f"vars.{v}" for v in ROLE_VARIABLES)
                problems.append(f"jobs.{name}: role-to-assume must come from one of {known}")
                continue
            needs_environment = ROLE_VARIABLES[variables[0]]
            if needs_environment and environment(job) is None:
                problems.append(f"jobs.{name}: assumes {variables[0]} outside an environment")
            ml_environment = str(environment(job) or "").endswith("-ml")
            if variables[0] == "RETRAIN_ROLE_ARN" and not ml_environment:
                problems.append(
                    f"jobs.{name}: assumes RETRAIN_ROLE_ARN outside a `<stack>-ml` environment "
                    "(the retraining role trusts that one, the deploy role the stack's own)"
                )
            if variables[0] == "DEPLOY_ROLE_ARN" and ml_environment:
                problems.append(f"jobs.{name}: assumes DEPLOY_ROLE_ARN in an ML environment")
            if not needs_environment and environment(job) is not None:
                problems.append(
                    f"jobs.{name}: assumes {variables[0]} inside an environment, whose OIDC "
                    "subject the preview role does not trust"
                )
    return problems


def _same_key(environment_name: str, group: str) -> bool:
    inner = re.fullmatch(r"\$\{\{\s*(.+?)\s*\}\}", environment_name)
    if inner:
        return inner.group(1) in group
    return re.search(rf"(^|[^\w]){re.escape(environment_name)}($|[^\w])", group) is not None


def environment_concurrency(wf: Workflow, text: str) -> list[str]:
    """Every job in an environment is in a concurrency group keyed by that environment,
    never cancelled in progress, so two runs against one stack never overlap."""
    problems = []
    for name, job in jobs(wf).items():
        env = environment(job)
        if env is None:
            continue
        conc = job.get("concurrency")
        if not isinstance(conc, Mapping):
            problems.append(f"jobs.{name}: runs in environment {env} without a concurrency group")
            continue
        if not _same_key(env, str(conc.get("group", ""))):
            problems.append(
                f"jobs.{name}: concurrency group {conc.get('group')!r} not keyed by {env}"
            )
        if conc.get("cancel-in-progress") is not False:
            problems.append(f"jobs.{name}: concurrency must set cancel-in-progress: false")
    return problems


def stack_changes_in_environments(wf: Workflow, text: str) -> list[str]:
    """`pulumi up` (or destroy/refresh) runs only in a job bound to a GitHub environment."""
    return [
        f"jobs.{name}: pulumi {with_(step)['command']} outside a GitHub environment"
        for name, job in jobs(wf).items()
        for step in pulumi_commands(job)
        if with_(step)["command"] not in ("preview", "output") and environment(job) is None
    ]


def policy_pack_everywhere(wf: Workflow, text: str) -> list[str]:
    """Every `pulumi preview` and `pulumi up` runs the policy pack with the config of the
    stack it acts on."""
    problems = []
    for name, job in jobs(wf).items():
        for step in pulumi_commands(job):
            given = with_(step)
            if given["command"] not in ("preview", "up", "update"):
                continue
            stack = str(given.get("stack-name", ""))
            if given.get("policyPacks") != "policies":
                problems.append(f"jobs.{name}: pulumi {given['command']} without policyPacks")
            expected = f"policies/config/{stack}.json"
            if given.get("policyPackConfigs") != expected:
                problems.append(
                    f"jobs.{name}: pulumi {given['command']} policyPackConfigs must be {expected}"
                )
        for step in steps(job):
            script = run_text(step)
            if _PULUMI_RUN.search(script) and not (
                "--policy-pack policies" in script
                and "--policy-pack-config policies/config/" in script
            ):
                problems.append(f"jobs.{name}: a `pulumi preview/up` script lacks the policy pack")
    return problems


def sandbox_teardown(wf: Workflow, text: str) -> list[str]:
    """Whatever a job brings up in an emulator, a later `if: always()` step tears down."""
    problems = []
    for name, job in jobs(wf).items():
        job_steps = steps(job)
        for i, step in enumerate(job_steps):
            up = re.search(r"mlops sandbox up\b(.*)", run_text(step))
            if not up:
                continue
            engine = "--engine pulumi" in up.group(1)
            downs = [
                later
                for later in job_steps[i + 1 :]
                if "mlops sandbox down" in run_text(later)
                and ("--engine pulumi" in run_text(later)) == engine
                and "--stack local" in run_text(later)
            ]
            if not downs:
                problems.append(f"jobs.{name}: `mlops sandbox up` without a later teardown")
            elif not all("always()" in str(d.get("if", "")) for d in downs):
                problems.append(f"jobs.{name}: the sandbox teardown must run if: always()")
    return problems


GENERAL_RULES: tuple[Rule, ...] = (
    top_level_permissions,
    job_permissions,
    actions_pinned,
    action_inputs,
    no_untrusted_text_in_run,
    timeouts,
    python_setup,
    checkout_without_credentials,
    roles_through_oidc,
    environment_concurrency,
    stack_changes_in_environments,
    policy_pack_everywhere,
    sandbox_teardown,
)


# ---------------------------------------------------------------------------- per workflow


def _job_running(wf: Workflow, pattern: str) -> Iterator[tuple[str, Job]]:
    for name, job in jobs(wf).items():
        if any(re.search(pattern, run_text(s)) for s in steps(job)):
            yield name, job


def pull_request_checks(wf: Workflow, text: str) -> list[str]:
    """Tests and the offline plan of every stack without credentials, then previews of
    staging and prod that comment once (edited in place)."""
    problems = []
    if "pull_request" not in triggers(wf):
        problems.append("not triggered by pull_request")
    tests = [n for n, _ in _job_running(wf, r"(?m)^make test$")]
    if not tests:
        problems.append("no job runs `make test`")
    plans = list(_job_running(wf, r"mlops plan --stack \"\$STACK\" --json"))
    plan_names = [n for n, _ in plans]
    if not plans:
        problems.append('no job runs `mlops plan --stack "$STACK" --json`')
    for name, job in plans:
        if set(matrix_values(job, "stack")) != set(STACKS):
            problems.append(f"jobs.{name}: plans {matrix_values(job, 'stack')}, not {STACKS}")
        if role_steps(job):
            problems.append(f"jobs.{name}: the offline plan must not need cloud credentials")
    previews = [
        (n, j)
        for n, j in jobs(wf).items()
        if any(with_(s)["command"] == "preview" for s in pulumi_commands(j))
    ]
    if not previews:
        problems.append("no job runs pulumi preview")
    for name, job in previews:
        problems.extend(_preview_problems(name, job, tests + plan_names))
    return problems


def _preview_problems(name: str, job: Job, required: list[str]) -> list[str]:
    problems = []
    if set(matrix_values(job, "stack")) != set(PREVIEWED):
        problems.append(f"jobs.{name}: previews {matrix_values(job, 'stack')}, not {PREVIEWED}")
    missing = set(required) - set(needs(job))
    if missing:
        problems.append(f"jobs.{name}: preview does not need {sorted(missing)}")
    for step in pulumi_commands(job):
        given = with_(step)
        if given.get("comment-on-pr") is not True or given.get("edit-pr-comment") is not True:
            problems.append(f"jobs.{name}: preview must comment-on-pr and edit-pr-comment")
    roles = " ".join(
        " ".join(expression_sources(job, str(with_(s).get("role-to-assume", ""))))
        for s in role_steps(job)
    )
    for stack in PREVIEWED:
        if f"vars.PREVIEW_ROLE_ARN_{stack.upper()}" not in roles:
            problems.append(f"jobs.{name}: no vars.PREVIEW_ROLE_ARN_{stack.upper()}")
    return problems


def deploy_checks(wf: Workflow, text: str) -> list[str]:
    """On push to main: dev, then staging, then prod, each in its environment with
    `pulumi up` of that stack through that environment's deploy role."""
    problems = []
    push = triggers(wf).get("push")
    if (
        set(triggers(wf)) - {"push", "workflow_dispatch"}
        or not push
        or push.get("branches") != ["main"]
    ):
        problems.append("must run on push to main only")
    by_env = {environment(job): name for name, job in jobs(wf).items() if environment(job)}
    if sorted(filter(None, by_env)) != sorted(DEPLOY_ORDER):
        problems.append(f"environments are {sorted(filter(None, by_env))}, not {DEPLOY_ORDER}")
        return problems
    for before, after in zip(DEPLOY_ORDER, DEPLOY_ORDER[1:], strict=False):
        if by_env[before] not in needs(jobs(wf)[by_env[after]]):
            problems.append(f"jobs.{by_env[after]}: {after} does not need {before}")
    if needs(jobs(wf)[by_env["dev"]]):
        problems.append(f"jobs.{by_env['dev']}: dev must deploy first")
    for env, name in by_env.items():
        job = jobs(wf)[name]
        ups = [s for s in pulumi_commands(job) if with_(s)["command"] == "up"]
        if len(ups) != 1 or with_(ups[0]).get("stack-name") != env:
            problems.append(f"jobs.{name}: must run pulumi up on stack {env}")
        roles = [str(with_(s).get("role-to-assume")) for s in role_steps(job)]
        if roles != ["${{ vars.DEPLOY_ROLE_ARN }}"]:
            problems.append(f"jobs.{name}: must assume ${{{{ vars.DEPLOY_ROLE_ARN }}}} once")
    return problems


def ephemeral_checks(wf: Workflow, text: str) -> list[str]:
    """On changes to the stack or the jobs: the embedded sandbox (gating) and the Pulumi
    engine on a pinned, health-checked LocalStack (allowed to fail)."""
    problems = []
    pull_request = triggers(wf).get("pull_request") or {}
    missing = set(EPHEMERAL_PATHS) - set(pull_request.get("paths") or [])
    if missing:
        problems.append(f"pull_request paths miss {sorted(missing)}")
    localstack = [(n, j) for n, j in jobs(wf).items() if "localstack" in (j.get("services") or {})]
    embedded = list(_job_running(wf, r"(?m)^mlops sandbox up --stack local$"))
    if len(localstack) != 1:
        problems.append("exactly one job must run LocalStack as a service")
    for name, job in localstack:
        service = job["services"]["localstack"]
        if not any(str(p).split(":")[-1] == "4566" for p in service.get("ports") or []):
            problems.append(f"jobs.{name}: LocalStack must publish port 4566")
        if "--health-cmd" not in str(service.get("options", "")):
            problems.append(f"jobs.{name}: LocalStack service has no health check")
        if job.get("continue-on-error") is not True:
            problems.append(f"jobs.{name}: the LocalStack job must be continue-on-error: true")
        if not any(action(s) == PULUMI and not with_(s).get("command") for s in steps(job)):
            problems.append(f"jobs.{name}: the Pulumi CLI is not installed")
        ups = [
            s for s in steps(job) if "mlops sandbox up --engine pulumi --endpoint" in run_text(s)
        ]
        if not ups or not all("--stack local" in run_text(s) for s in ups):
            problems.append(f"jobs.{name}: no `mlops sandbox up --engine pulumi --endpoint ...`")
    if not embedded:
        problems.append("no job runs the embedded sandbox (`mlops sandbox up --stack local`)")
    for name, job in embedded:
        if job.get("services") or job.get("continue-on-error"):
            problems.append(f"jobs.{name}: the embedded sandbox needs no service and must gate")
        if not any(re.search(r"pytest -m emulator\b", run_text(s)) for s in steps(job)):
            problems.append(f"jobs.{name}: the emulator tests (`pytest -m emulator`) do not run")
    return problems


def retrain_checks(wf: Workflow, text: str) -> list[str]:
    """On a schedule and on demand for a chosen stack: consume retraining requests."""
    problems = []
    on = triggers(wf)
    schedule = on.get("schedule") or []
    if not schedule or not all(isinstance(s, Mapping) and s.get("cron") for s in schedule):
        problems.append("no schedule with a cron expression")
    dispatch = on.get("workflow_dispatch") or {}
    stack_input = (dispatch.get("inputs") or {}).get("stack") or {}
    if stack_input.get("type") != "choice" or stack_input.get("options") != list(DEPLOY_ORDER):
        problems.append("workflow_dispatch needs a `stack` choice input of dev, staging, prod")
    runners = list(_job_running(wf, r"mlops retrain --consume --stack \"\$STACK\""))
    if not runners:
        problems.append('no job runs `mlops retrain --consume --stack "$STACK"`')
    for name, job in runners:
        if not role_steps(job):
            problems.append(f"jobs.{name}: retraining does not assume a role through OIDC")
    return problems


def promote_checks(wf: Workflow, text: str) -> list[str]:
    """On demand only: write an approved package into a stack file and open a pull
    request. It never applies anything and never holds deploy rights, so the merge (a
    reviewed pull request, previewed with the policy pack) stays the only way in."""
    problems = []
    on = triggers(wf)
    if set(on) != {"workflow_dispatch"}:
        problems.append(f"runs on {sorted(on)}, not only on workflow_dispatch")
    inputs = ((on.get("workflow_dispatch") or {}).get("inputs")) or {}
    stack_input = inputs.get("stack") or {}
    if stack_input.get("type") != "choice" or not set(stack_input.get("options") or ()) <= set(
        DEPLOY_ORDER
    ):
        problems.append("workflow_dispatch needs a `stack` choice input among dev, staging, prod")
    if (inputs.get("model_package") or {}).get("required") is not True:
        problems.append("workflow_dispatch needs a required `model_package` input")
    writers = list(
        _job_running(wf, r'mlops deploy --stack "\$STACK" --model-package "\$PACKAGE" --no-apply')
    )
    if not writers:
        problems.append(
            'no job runs `mlops deploy --stack "$STACK" --model-package "$PACKAGE" --no-apply`'
        )
    for name, job in jobs(wf).items():
        for step in steps(job):
            script = run_text(step)
            if re.search(r"mlops (deploy|up)\b", script) and "--no-apply" not in script:
                problems.append(f"jobs.{name}: applies a stack (mlops deploy without --no-apply)")
        if pulumi_commands(job) or _PULUMI_RUN.search(" ".join(map(run_text, steps(job)))):
            problems.append(f"jobs.{name}: runs a pulumi command; promotion applies nothing")
        for step in role_steps(job):
            if "DEPLOY_ROLE_ARN" in str(with_(step).get("role-to-assume")):
                problems.append(f"jobs.{name}: assumes the deploy role to open a pull request")
        if opens_pull_request(job) and environment(job) is None:
            problems.append(f"jobs.{name}: opens a promotion outside the stack's environment")
    if not any(opens_pull_request(job) for job in jobs(wf).values()):
        problems.append("no job opens the pull request (`gh pr create`)")
    return problems


SPECIFIC_RULES: dict[str, tuple[Rule, ...]] = {
    "pull-request.yml": (pull_request_checks,),
    "deploy.yml": (deploy_checks,),
    "ephemeral.yml": (ephemeral_checks,),
    "retrain.yml": (retrain_checks,),
    "promote.yml": (promote_checks,),
}


def rules_for(filename: str) -> tuple[Rule, ...]:
    return GENERAL_RULES + SPECIFIC_RULES.get(filename, ())


def problems(filename: str, wf: Workflow, text: str) -> list[str]:
    """Every problem any rule finds in the workflow."""
    return [problem for rule in rules_for(filename) for problem in rule(wf, text)]
