"""The CI files users adopt: valid YAML, pinned actions, and every command exists in this repo.

They cannot run here (no GitHub, no cloud), so the test checks what can go stale: `make` targets,
`python -m lfh <subcommand>`s, paths, and the shape of the jobs (offline on PRs, policy preview on
main, drift on a schedule).
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Iterable

import pytest
import yaml

from lfh import PROJECT_ROOT
from lfh.cli import build_parser

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "lfh.yml"
GITLAB_DOC = PROJECT_ROOT / "docs" / "ci-gitlab.md"
#: Shell tools a CI runner has; anything else must be a make target, an lfh subcommand or pulumi.
SHELL_TOOLS = {"echo", "ls", "sed", "jq", "sort", "test", "cd", "export"}
#: The GitLab example starts from a plain python image, so it installs make and the Pulumi CLI itself.
IMAGE_SETUP_TOOLS = {"apt-get", "curl", "sh"}
PULUMI_SUBCOMMANDS = {"login", "preview", "up", "stack", "config", "whoami", "version"}


def make_targets() -> set[str]:
    text = (PROJECT_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))


def lfh_subcommands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return set(sub.choices)


def commands(script: str) -> Iterable[list[str]]:
    """Simple commands of a shell snippet (`a && b | c; d`), tokenised; CI expressions become X."""
    script = re.sub(r"\$\{\{[^}]*\}\}", "X", script)
    script = re.sub(r"\\\n", " ", script)
    for line in script.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = shlex.split(line, comments=True)
        current: list[str] = []
        for tok in tokens + [";"]:
            if tok in ("&&", "||", "|", ";") or tok.endswith(";"):
                if tok.endswith(";") and tok != ";":
                    current.append(tok[:-1])
                if current:
                    # `stacks=$(ls …)`: check the command inside the substitution too.
                    if "=$(" in current[0]:
                        current[0] = current[0].split("=$(", 1)[1]
                    yield [t for t in current if not t.startswith(">>") and t != ">>"]
                current = []
            else:
                current.append(tok.rstrip(")"))


def check_command(cmd: list[str], extra_tools: frozenset = frozenset()) -> list[str]:
    """Problems with one command ([] when it only uses what exists)."""
    head, args = cmd[0], cmd[1:]
    if head in extra_tools:
        return []
    problems: list[str] = []
    if head == "make":
        targets = make_targets()
        problems += [f"make target {t!r} not in Makefile" for t in args if not t.startswith("-") and "=" not in t and t not in targets]
    elif head in ("python", "python3") or head.endswith("/python"):
        if head.endswith("/python") and not head.startswith(".venv/"):
            problems.append(f"{head}: not the project's .venv python")
        if args[:2] != ["-m", "lfh"] or len(args) < 3:
            problems.append(f"{' '.join(cmd)}: only `python -m lfh <subcommand>` is expected")
        elif args[2] not in lfh_subcommands():
            problems.append(f"`python -m lfh {args[2]}`: no such subcommand in lfh/cli.py")
    elif head == "pulumi":
        if not args or args[0] not in PULUMI_SUBCOMMANDS:
            problems.append(f"pulumi {args[:1]}: unexpected pulumi command")
        if "--policy-pack" in args:
            pack = args[args.index("--policy-pack") + 1]
            if not (PROJECT_ROOT / pack / "PulumiPolicy.yaml").is_file():
                problems.append(f"--policy-pack {pack}: {pack}/PulumiPolicy.yaml does not exist")
    elif head in SHELL_TOOLS:
        if head == "ls":
            problems += [f"ls {a}: no such path" for a in args if not a.startswith("-") and not (PROJECT_ROOT / a).exists()]
    elif head.startswith("./") or head.startswith(".ci/"):
        if not (PROJECT_ROOT / head).is_file():
            problems.append(f"{head}: no such script")
    else:
        problems.append(f"{head}: not a make target, lfh subcommand, pulumi or a shell tool")
    return problems


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(doc: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for job_name, job in doc["jobs"].items():
        for step in job.get("steps") or []:
            yield job_name, step


def test_workflow_parses_and_has_the_three_triggers():
    doc = _workflow()
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "push", "schedule"} <= set(on)
    assert on["push"]["branches"] == ["main"]
    assert doc["permissions"] == {"contents": "read"}  # least privilege by default


def test_every_run_command_exists_in_the_repo():
    problems = []
    for job, step in _steps(_workflow()):
        for cmd in commands(step.get("run", "")):
            problems += [f"{job}: {p}" for p in check_command(cmd)]
    assert problems == []


def test_the_checker_itself_rejects_what_does_not_exist():
    assert check_command(["make", "no-such-target"])
    assert check_command(["python", "-m", "lfh", "no-such-subcommand"])
    assert check_command(["pulumi", "preview", "--policy-pack", "no-such-pack"])
    assert check_command(["curl", "https://example.com"])
    assert check_command(["ls", "no/such/dir"])
    assert not check_command(["make", "install"])
    assert not check_command(["python", "-m", "lfh", "plan", "--all"])


def test_jobs_do_what_the_docs_promise():
    doc = _workflow()
    runs = {job: " ".join(s.get("run", "") for s in j["steps"]) for job, j in doc["jobs"].items()}
    assert "make install" in runs["offline"] and "python -m lfh plan --all" in runs["offline"]
    # The offline job runs on pull requests with no cloud credentials and no OIDC token.
    assert "id-token" not in (doc["jobs"]["offline"].get("permissions") or {})
    assert "if" not in doc["jobs"]["offline"]
    assert "--policy-pack policy" in runs["preview"] and "refs/heads/main" in doc["jobs"]["preview"]["if"]
    assert "--expect-no-changes" in runs["drift"] and "schedule" in doc["jobs"]["drift"]["if"]
    for job in ("preview", "drift"):
        assert doc["jobs"][job]["strategy"]["matrix"]["stack"].startswith("${{ fromJSON(")
        assert doc["jobs"][job]["permissions"]["id-token"] == "write"
        uses = [s.get("uses", "") for s in doc["jobs"][job]["steps"]]
        for login in ("aws-actions/configure-aws-credentials", "azure/login", "google-github-actions/auth"):
            assert any(u.startswith(login) for u in uses), f"{job}: no {login} step"


def test_every_action_is_pinned_by_sha_or_exact_tag():
    for job, step in _steps(_workflow()):
        uses = step.get("uses")
        if uses:
            assert re.search(r"@([0-9a-f]{40}|v\d+\.\d+\.\d+)$", uses), f"{job}: {uses} is not pinned"


def _gitlab_example() -> dict[str, Any]:
    text = GITLAB_DOC.read_text()
    m = re.search(r"```yaml\n# \.gitlab-ci\.yml\n(.*?)```", text, re.S)
    assert m, "docs/ci-gitlab.md has no ```yaml block starting with `# .gitlab-ci.yml`"
    return yaml.safe_load(m.group(1))


def test_gitlab_example_parses_and_uses_only_existing_commands():
    doc = _gitlab_example()
    problems = []
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    assert jobs
    for name, job in jobs.items():
        base = doc.get(job.get("extends", ""), {}) if isinstance(job.get("extends"), str) else {}
        for line in (job.get("before_script") or base.get("before_script") or []) + job["script"]:
            for cmd in commands(line):
                problems += [f"{name}: {p}" for p in check_command(cmd, frozenset(IMAGE_SETUP_TOOLS))]
    assert problems == []
    scripts = " ".join(" ".join(j["script"]) for j in jobs.values())
    assert "python -m lfh plan --all" in scripts and "--policy-pack policy" in scripts and "--expect-no-changes" in scripts


@pytest.mark.parametrize("snippet, expected", [
    ("make install && make test", [["make", "install"], ["make", "test"]]),
    ("a=$(ls stacks/ | jq -R .)", [["ls", "stacks/"], ["jq", "-R", "."]]),
    ('pulumi preview --stack ${{ matrix.stack }}', [["pulumi", "preview", "--stack", "X"]]),
])
def test_command_splitting(snippet, expected):
    assert list(commands(snippet)) == expected


def test_make_test_lints_first_and_the_code_is_clean():
    """`make test` (CI's command) runs ruff before pytest; the project has no lint findings."""
    import subprocess
    import sys

    recipe = re.search(r"^test:\n((?:\t.*\n)+)", (PROJECT_ROOT / "Makefile").read_text(), re.M).group(1)
    assert [line.strip() for line in recipe.splitlines()] == ["$(PY) -m ruff check .", "$(PY) -m pytest"]
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=PROJECT_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
