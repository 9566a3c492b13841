"""Somebody can log in to Argo CD: production platforms through SSO (refused without it), others may use
the admin user with a password from the secret manager; the plan reports a platform nobody can enter."""
from __future__ import annotations

import re

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.config import ConfigError, load_stack_file
from lfh.plan import Engine, analyze

CHECK = "argocd-login"


def rendered_cm(plan, name: str) -> dict:
    from lfh.plan.render import rendered

    return next(o.obj for rel in rendered(plan) for o in rel.objects if o.kind == "ConfigMap" and o.name == name)


def test_aws_platform_uses_sso_with_a_client_secret_from_the_secret_manager(plan_of):
    plan = plan_of("platform-aws")
    oidc = yaml.safe_load(rendered_cm(plan, "argocd-cm")["data"]["oidc.config"])
    assert oidc["issuer"] == "https://example.okta.com/oauth2/default" and oidc["clientSecret"] == "$argocd-oidc:clientSecret"
    (es,) = [m for _, m in plan.manifests() if m["kind"] == "ExternalSecret" and m["spec"]["target"]["name"] == "argocd-oidc"]
    assert es["spec"]["target"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    assert es["spec"]["data"] == [{"secretKey": "clientSecret", "remoteRef": {"key": "aws/platform/argocd-oidc", "property": "clientSecret"}}]
    rbac = rendered_cm(plan, "argocd-rbac-cm")["data"]
    assert rbac["policy.csv"] == "g, platform-admins, role:admin\n" and rbac["scopes"] == "[groups]"
    assert rendered_cm(plan, "argocd-cm")["data"]["admin.enabled"] == "false"
    assert [f for f in plan.findings if f.check == CHECK] == []


def test_azure_platform_uses_sso_as_a_public_client_with_pkce(plan_of):
    plan = plan_of("platform-azure")
    oidc = yaml.safe_load(rendered_cm(plan, "argocd-cm")["data"]["oidc.config"])
    assert oidc["enablePKCEAuthentication"] is True and "clientSecret" not in oidc
    assert not [m for _, m in plan.manifests() if m["kind"] == "ExternalSecret" and m["spec"]["target"]["name"] == "argocd-oidc"]
    assert [f for f in plan.findings if f.check == CHECK] == []


def _platform(tmp_path, cloud: str, edit):
    text = edit((STACKS_DIR / f"Pulumi.platform-{cloud}.yaml").read_text())
    path = tmp_path / f"Pulumi.platform-{cloud}.yaml"
    path.write_text(text)
    return path


def _drop_gitops(text: str) -> str:
    return re.sub(r"\n    gitops:\n(      .*\n|        .*\n|          .*\n)+", "\n", text)


def test_a_production_platform_without_sso_is_refused_naming_the_key(tmp_path):
    path = _platform(tmp_path, "aws", _drop_gitops)
    assert "gitops:" not in path.read_text()
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    (line,) = exc.value.lines
    assert line.startswith("lfh:platform.gitops.oidc: required on production platforms")


def test_the_admin_user_is_refused_on_production(tmp_path):
    path = _platform(tmp_path, "azure", lambda t: t.replace("    gitops:\n", "    gitops:\n      adminEnabled: true\n"))
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    assert [line.split(":", 2)[:2] for line in exc.value.lines] == [["lfh", "platform.gitops.adminEnabled"]]


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("        clientSecretKey: argocd-oidc\n", "        clientSecretKey: argocd-oidc\n        pkce: true\n"),
    lambda t: t.replace("        clientSecretKey: argocd-oidc\n", ""),
])
def test_a_client_is_either_confidential_or_pkce(tmp_path, edit):
    with pytest.raises(ConfigError) as exc:
        load_stack_file(_platform(tmp_path, "gcp", edit))
    assert exc.value.lines[0].startswith("lfh:platform.gitops.oidc: ") and "exactly one of clientSecretKey" in exc.value.lines[0]


def test_a_staging_platform_nobody_can_log_in_to_is_an_error(tmp_path):
    _platform(tmp_path, "local", lambda t: t.replace("      adminEnabled: true\n", "      adminEnabled: false\n"))
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))
    (message,) = [f.message for f in plan.errors if f.check == CHECK]
    assert "nobody can log in" in message and "lfh:platform.gitops.oidc" in message


def test_an_oidc_secret_argo_cd_would_ignore_is_an_error(tmp_path, monkeypatch):
    """The client secret's Secret without Argo CD's part-of label: Argo CD sends the literal `$…` string."""
    from components.platform import secrets as platform_secrets

    real = platform_secrets.Secrets.external_secret

    def unlabelled(self, *args, template=None, **kw):
        if template and "metadata" in template:
            template = {k: v for k, v in template.items() if k != "metadata"}
        return real(self, *args, template=template, **kw)

    monkeypatch.setattr(platform_secrets.Secrets, "external_secret", unlabelled)
    _platform(tmp_path, "aws", lambda t: t)
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-aws"))
    messages = [f.message for f in plan.errors if f.check == CHECK]
    assert any("no ExternalSecret creates it" in m and "app.kubernetes.io/part-of: argocd" in m for m in messages), messages
