"""CronJobs and workers of an app: the app's image, identity and secrets, the restricted baseline, own resources."""
from __future__ import annotations

import pytest

from lfh.config import ConfigError, parse_stack_config
from lfh.config.base import cron_problem

from client_apps_helpers import by_kind, client, named, plan_with

WORKER = {"env": {"RUN_WORKERS": "true"}, "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                                                       "limits": {"cpu": "1", "memory": "1Gi"}}}
JOB = {"schedule": "0 2 * * *", "command": ["npm", "run", "prune-sessions"], "concurrencyPolicy": "Forbid"}



def _restricted(pod: dict) -> None:
    """Pod Security `restricted` (the namespace enforces it), field by field."""
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not sc.get("privileged") and not sc.get("capabilities", {}).get("add")
    assert not any(k in pod for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in v for v in pod.get("volumes") or [])


def test_cronjob_runs_the_apps_image_under_the_restricted_baseline(plan_of):
    plan = plan_of("acme-prod")
    cron = named(plan, "CronJob", "hapihub-prune-sessions")
    app = named(plan, "Deployment", "hapihub")["spec"]["template"]["spec"]
    spec = cron["spec"]
    assert spec["schedule"] == "30 3 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"          # the default: never two runs at once
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    _restricted(pod)
    (ns,) = [n for n in by_kind(plan, "Namespace") if n["metadata"]["name"] == "acme-production"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (c,) = pod["containers"]
    # The app's image, identity, scratch volumes and secrets...
    assert c["image"] == app["containers"][0]["image"]
    assert pod["serviceAccountName"] == app["serviceAccountName"] == "hapihub"
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == app["securityContext"] and pod["volumes"] == app["volumes"]
    secret_refs = lambda cont: sorted(e["valueFrom"]["secretKeyRef"]["key"] for e in cont["env"] if "valueFrom" in e)  # noqa: E731
    assert secret_refs(c) == secret_refs(app["containers"][0]) and "SMTP_PASSWORD" in secret_refs(c)
    # ...its own command and resources.
    assert c["command"] == ["npm", "run", "prune-sessions"]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    # The same reach as the app, no ingress, under its own policy.
    policy = named(plan, "NetworkPolicy", "allow-hapihub-prune-sessions")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "hapihub-prune-sessions"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert not [f for f in plan.findings if "prune-sessions" in f.message]


def test_a_cronjob_that_breaks_the_baseline_is_caught(plan_of):
    """The policy pack reads CronJob pod templates too: a regression of the job's baseline cannot pass."""
    import copy
    import dataclasses

    from lfh.policy_runner import run

    plan = plan_of("acme-prod")
    (res,) = [r for r in plan.resources if r.type == "kubernetes:batch/v1:CronJob"
              and r.inputs["metadata"]["name"] == "hapihub-prune-sessions"]
    baseline = {"k8s-run-as-non-root", "k8s-no-privilege-escalation", "k8s-drop-all-capabilities",
                "k8s-seccomp-runtime-default", "k8s-no-privileged-containers", "k8s-no-host-namespaces",
                "k8s-no-host-path", "k8s-resources-requests-limits", "k8s-image-pinned", "k8s-dedicated-service-account"}
    assert run([res], stack="acme-prod", only=baseline) == []
    broken = copy.deepcopy(res.inputs)
    pod = broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    del pod["securityContext"]["seccompProfile"]
    del pod["containers"][0]["securityContext"]["seccompProfile"]
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    violations = run([dataclasses.replace(res, inputs=broken)], stack="acme-prod", only=baseline)
    assert {"k8s-no-privilege-escalation", "k8s-seccomp-runtime-default"} <= {v.policy for v in violations}


def test_worker_shares_the_app_and_has_its_own_size(tmp_path):
    apps = {"hapihub": {"workers": {"jobs": WORKER}, "jobs": {"prune": JOB}}}
    plan = plan_with(tmp_path, {"w-staging": client("w", apps=apps)})("w-staging")
    worker = named(plan, "Deployment", "hapihub-jobs")
    app = named(plan, "Deployment", "hapihub")
    pod, app_pod = worker["spec"]["template"]["spec"], app["spec"]["template"]["spec"]
    _restricted(pod)
    (c,), (a,) = pod["containers"], app_pod["containers"]
    assert c["image"] == a["image"] and pod["serviceAccountName"] == "hapihub"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["RUN_WORKERS"] == "true" and env["LOG_LEVEL"] == "info"
    assert c["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"} != a["resources"]["requests"]
    assert c["livenessProbe"] == a["livenessProbe"] and c["readinessProbe"] == a["readinessProbe"]
    assert worker["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    # Not selected by the app's Service, PDB or HPA: its own labels.
    assert worker["spec"]["selector"]["matchLabels"] != app["spec"]["selector"]["matchLabels"]
    service = named(plan, "Service", "hapihub")
    pod_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert any(pod_labels.get(k) != v for k, v in service["spec"]["selector"].items())
    assert worker["spec"]["template"]["metadata"]["annotations"]["lfh.io/config-checksum"]
    policies = {p["metadata"]["name"] for p in by_kind(plan, "NetworkPolicy")}
    assert {"allow-hapihub-jobs", "allow-hapihub-prune"} <= policies
    rows = {w["name"] for w in plan.sections["clientSizing"]["data"]["workloads"]}
    assert "hapihub-jobs" in rows
    assert not plan.errors


def test_production_workers_are_ha_with_a_pdb(tmp_path):
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-production", {"lfh:client": client("x", "production",
                                                                  apps={"hapihub": {"workers": {"w": {"replicas": 1}}}})})
    assert exc.value.lines == ["lfh:client.apps.hapihub.workers.w.replicas: production needs at least 2 replicas (got 1)"]
    cfg = parse_stack_config("x-production", {"lfh:client": client("x", "production", apps={"hapihub": {"workers": {"w": {}}}})})
    assert cfg.client.apps.hapihub.workers["w"].replicas == 2


# ------------------------------------------------------------------ schedules and names


@pytest.mark.parametrize("schedule", ["0 3 * * *", "*/15 * * * *", "@daily", "30 2 * * MON-FRI", "0 0 1 JAN,JUL *"])
def test_valid_schedules(schedule):
    assert cron_problem(schedule) is None


@pytest.mark.parametrize("schedule, message", [
    ("", "must not be empty"),
    ("61 * * * *", "not a valid cron schedule"),
    ("0 3 * *", "has 4 fields"),
    ("0 0 3 * * *", "has 6 fields"),            # croniter reads seconds; Kubernetes does not
    ("0 2 L * *", "letters other than month or weekday names"),
    ("0 2 * * 1#2", "Kubernetes's cron parser does not read"),
    ("0 0 * * 7", "day of week must be 0–6"),
    ("0 0 30 2 *", "a day that exists"),
    ("@every 1h", "must be a five-field cron schedule"),
    ("TZ=Europe/Berlin 0 3 * * *", "time zone"),
])
def test_bad_schedules_exit_2_naming_the_key(tmp_path, schedule, message, capsys):
    import shutil

    import yaml

    from lfh import STACKS_DIR
    from lfh.cli import main

    shutil.copy(STACKS_DIR / "Pulumi.platform-local.yaml", tmp_path)
    cfg = client("x", apps={"hapihub": {"jobs": {"prune": {**JOB, "schedule": schedule}}}})
    (tmp_path / "Pulumi.x-staging.yaml").write_text(yaml.safe_dump({"config": {"lfh:client": cfg}}))
    code = main(["plan", "x-staging", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("config error: lfh:client.apps.hapihub.jobs.prune.schedule: ")
    assert message in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()     # refused before anything was planned


@pytest.mark.parametrize("jobs, key, message", [
    ({"a" * 50: JOB}, "lfh:client.apps.hapihub.jobs." + "a" * 50, "at most 52 are allowed"),
    ({"p": {**JOB, "concurrencyPolicy": "Sometimes"}}, "lfh:client.apps.hapihub.jobs.p.concurrencyPolicy", "must be one of Forbid, Replace, Allow"),
    ({"p": {**JOB, "timeZone": "Mars/Olympus"}}, "lfh:client.apps.hapihub.jobs.p.timeZone", "IANA time zone"),
    ({"p": {**JOB, "command": []}}, "lfh:client.apps.hapihub.jobs.p.command", "must have at least 1 entry"),
    ({"migrate": JOB}, "lfh:client.apps.hapihub.jobs.migrate", "already used"),
])
def test_bad_job_config_names_the_key(jobs, key, message):
    apps = {"hapihub": {"jobs": jobs}, "satellites": {"hapihub-migrate": {"image": "ghcr.io/a/b", "tag": "1"}}} \
        if "migrate" in jobs else {"hapihub": {"jobs": jobs}}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", apps=apps)})
    assert any(line.startswith(f"{key}: ") and message in line for line in exc.value.lines), exc.value.lines


def test_concurrency_policy_defaults_to_forbid():
    cfg = parse_stack_config("x-staging", {"lfh:client": client("x", apps={"hapihub": {"jobs": {"p": {
        "schedule": "@daily", "command": ["x"]}}}})}).client
    assert cfg.apps.hapihub.jobs["p"].concurrency_policy == "Forbid"
