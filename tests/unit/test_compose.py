"""docker-compose.yml: a valid file, pinned images, health-gated start order, no secrets, the
embedded platform's settings names and ports.

These machines have no Docker engine. Debian's docker-compose (1.29, installed by `make test`)
validates the file offline against its Compose schema, interpolation included; the rest is read
from the YAML. One-shot jobs are the services with `restart: "no"` (docker-compose.yml says so).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import flightdelay.settings as settings_module

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves the anchors and `<<` merges
SERVICES: dict[str, dict] = COMPOSE["services"]

# Every port of the platform (the embedded defaults) that a person or a host client uses (the Kafka controller,
# 9093, stays inside the compose network).
DESIGN_PORTS = {9092, 27017, 8020, 9870, 9864, 9866, 9867, 7077, 8082, 8081, 8083, 8443, 8080, 5001}

# What a service's own runtime reads from its environment besides the settings names: the official
# images' configuration variables and Airflow's/Spark's own. Prefixes end with "_".
IMAGE_VARIABLES = {
    "kafka": ("KAFKA_", "CLUSTER_ID"),
    "mongo": ("MONGO_INITDB_",),
    "postgres": ("POSTGRES_",),
    "hdfs-namenode": ("CORE-SITE.XML_", "HDFS-SITE.XML_", "ENSURE_NAMENODE_DIR", "HDFS_NAMENODE_OPTS"),
    "hdfs-datanode": ("CORE-SITE.XML_", "HDFS-SITE.XML_", "HDFS_DATANODE_OPTS"),
    "nifi": ("NIFI_WEB_", "NIFI_JVM_", "NIFI_SENSITIVE_PROPS_KEY", "SINGLE_USER_CREDENTIALS_"),
    "spark-master": ("SPARK_DAEMON_MEMORY",),
    "spark-worker-1": ("SPARK_DAEMON_MEMORY",),
    "spark-worker-2": ("SPARK_DAEMON_MEMORY",),
    **{name: ("AIRFLOW__",) for name in SERVICES if name.startswith("airflow-")},
}
CREDENTIAL_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "PASS")
REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:\?[^}]*)?\}$")  # ${VAR} or ${VAR:?message}, no default
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?")


def strings(node) -> list[str]:
    """Every string value in the parsed file (comments are not values)."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (KEY: value), not a list"
    return {k: str(v) for k, v in env.items()}


def settings_env_names() -> set[str]:
    """The variables flightdelay/settings.py reads: build Settings() against an environment that
    records every lookup."""

    class Recording(dict):
        def __init__(self) -> None:
            super().__init__()
            self.names: set[str] = set()

        def get(self, key, default=None):
            self.names.add(key)
            return default

    recording = Recording()
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(settings_module.os, "environ", recording)
        settings_module.Settings()
    finally:
        mp.undo()
    return recording.names


def env_file_from_example(tmp_path: Path, drop: str | None = None) -> Path:
    """.env.example with a dummy value for every empty secret (optionally leaving one out)."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match and match.group(1) == drop:
            continue
        if match and not match.group(2):
            line = f"{match.group(1)}=dummy-value-for-validation"
        lines.append(line)
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def docker_compose() -> str:
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's docker-compose is missing: `make test` installs it (apt-get install docker-compose)")
        pytest.skip("Debian's docker-compose is not installed here (apt-get install docker-compose; `make test` does)")
    return tool


def compose_config(compose_file: Path, env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [docker_compose(), "--project-directory", str(ROOT), "--env-file", str(env_file),
         "-f", str(compose_file), "config", "-q"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COMPOSE_PROJECT_NAME": "flightdelay"},
    )  # fmt: skip


# --- the file is valid Compose ---------------------------------------------------------------------
def test_compose_file_validates(tmp_path):
    result = compose_config(COMPOSE_FILE, env_file_from_example(tmp_path))
    assert result.returncode == 0, result.stderr


def test_validation_catches_a_broken_file(tmp_path):
    # the validator must be able to fail: an unknown depends_on condition is refused
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    data["services"]["kafka-init"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(data))
    result = compose_config(broken, env_file_from_example(tmp_path))
    assert result.returncode != 0
    assert "service_ready" in result.stderr


def test_compose_refuses_to_start_without_a_secret(tmp_path):
    result = compose_config(COMPOSE_FILE, env_file_from_example(tmp_path, drop="AIRFLOW_PASSWORD"))
    assert result.returncode != 0
    assert "AIRFLOW_PASSWORD" in result.stderr


# --- images ------------------------------------------------------------------------------------------
def test_every_image_is_pinned_and_none_is_bitnami():
    assert "bitnami" not in COMPOSE_FILE.read_text().lower()
    for name, service in SERVICES.items():
        image = service.get("image")
        assert image, f"{name} names no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: image {image} is not pinned to a version"
        assert "$" not in image, f"{name}: image {image} depends on the environment"


def test_official_images_run_the_embedded_platforms_versions():
    pom = (ROOT / "java" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    project_version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for name, service in SERVICES.items():
        if service["image"].startswith("flightdelay/"):
            assert service["image"].endswith(f":{project_version}"), f"{name}: tag it with the project's version"
            assert "build" in service, f"{name}: a project image must say how it is built"


# --- start order and health ----------------------------------------------------------------------------
def test_long_running_services_have_a_healthcheck_and_restart():
    for name, service in SERVICES.items():
        if one_shot(service):
            assert "healthcheck" not in service, f"{name} is a one-shot job: it has nothing to keep healthy"
            continue
        assert service.get("restart") == "unless-stopped", f"{name}: restart policy"
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_one_shot_jobs():
    assert {n for n, s in SERVICES.items() if one_shot(s)} == {
        "kafka-init", "mongo-init", "hdfs-init", "nifi-init", "airflow-init", "bootstrap",
    }  # fmt: skip


def test_depends_on_waits_for_health_or_completion():
    awaited_jobs = set()
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on must be the long form with a condition"
        for dependency, spec in depends_on.items():
            assert dependency in SERVICES, f"{name} depends on an unknown service {dependency}"
            condition = (spec or {}).get("condition")
            if one_shot(SERVICES[dependency]):
                assert condition == "service_completed_successfully", f"{name} -> {dependency}: {condition}"
                awaited_jobs.add(dependency)
            else:
                assert condition == "service_healthy", f"{name} -> {dependency}: {condition}"
    # every job but the last (bootstrap) gates something
    assert awaited_jobs == {n for n, s in SERVICES.items() if one_shot(s)} - {"bootstrap"}


def test_no_sleep_for_ordering():
    for name, service in SERVICES.items():
        for key in ("command", "entrypoint"):
            value = service.get(key) or ""
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert "sleep" not in text, f"{name}: {key} sleeps; wait with depends_on conditions"


def test_bootstrap_waits_for_the_whole_platform():
    reached, todo = set(), ["bootstrap"]
    while todo:  # what bootstrap waits for, directly or through what it waits for
        for dependency in SERVICES[todo.pop()].get("depends_on") or {}:
            if dependency not in reached:
                reached.add(dependency)
                todo.append(dependency)
    long_running = {n for n, s in SERVICES.items() if not one_shot(s)}
    assert long_running - reached == {"web"}, "bootstrap needs every server but the Flask page"


# --- credentials ---------------------------------------------------------------------------------------
def test_credentials_come_from_env_references():
    for name, service in SERVICES.items():
        for key, value in environment(service).items():
            if any(word in key for word in CREDENTIAL_WORDS):
                assert REFERENCE.match(value), f"{name}: {key} must be ${{VAR:?...}} from .env, not {value!r}"
            # a URL with user:password@ must take the password from .env too
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert REFERENCE.match(password), f"{name}: {key} holds a literal password"


def test_env_example_names_every_required_variable_without_a_secret():
    example = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    required = {v for text in strings(COMPOSE) for v in REQUIRED.findall(text)}
    assert required, "no ${VAR:?...} in docker-compose.yml"
    assert required <= set(example), f".env.example lacks {required - set(example)}"
    for variable in required:
        assert example[variable] == "", f".env.example must leave {variable} empty, not ship a value"


# --- the embedded platform's settings -------------------------------------------------------------------
def test_settings_names_are_read_from_settings_py():
    names = settings_env_names()
    assert {"KAFKA_HOST", "MONGO_PORT", "NIFI_OUTPUT_DIR", "AIRFLOW_PASSWORD", "FLIGHTDELAY_VAR_DIR"} <= names


def test_every_variable_is_a_setting_or_the_images_own():
    known = settings_env_names()
    for name, service in SERVICES.items():
        allowed = IMAGE_VARIABLES.get(name, ())
        for key in environment(service):
            if key in known:
                continue
            assert any(key == a or (a.endswith("_") and key.startswith(a)) for a in allowed), (
                f"{name}: {key} is neither a setting of flightdelay/settings.py nor a variable its image reads"
            )


def test_kafka_gets_no_settings_block():
    # the apache/kafka image exits when KAFKA_HOST or KAFKA_PORT is set
    env = environment(SERVICES["kafka"])
    assert "KAFKA_HOST" not in env and "KAFKA_PORT" not in env


def test_project_containers_find_each_server_by_its_service_name():
    runs_project_code = ("flightdelay/app:", "flightdelay/spark:", "flightdelay/airflow:")
    project = {n: s for n, s in SERVICES.items() if s["image"].startswith(runs_project_code)}
    assert project
    for name, service in project.items():
        env = environment(service)
        for key in ("KAFKA_HOST", "MONGO_HOST", "HDFS_HOST", "SPARK_MASTER_HOST", "AIRFLOW_HOST", "NIFI_HOST"):
            assert env.get(key) in SERVICES, f"{name}: {key}={env.get(key)!r} is not a compose service"


def test_stateful_services_keep_their_data_in_named_volumes():
    declared = set(COMPOSE.get("volumes") or {})
    mounts = {
        name: {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes") or []}
        for name, service in SERVICES.items()
    }
    for name, volumes in mounts.items():
        for target, source in volumes.items():
            assert source in declared, f"{name}: {source} is not a declared named volume"
    assert environment(SERVICES["kafka"])["KAFKA_LOG_DIRS"] in mounts["kafka"]
    assert "/data/db" in mounts["mongo"] and "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/data" in mounts["hdfs-namenode"] and "/data" in mounts["hdfs-datanode"]
    # NiFi writes its files where the scheduler's check_nifi reads them
    output = environment(SERVICES["airflow-scheduler"])["NIFI_OUTPUT_DIR"]
    assert mounts["nifi"][output] == mounts["airflow-scheduler"][output] == "nifi-output"


# --- ports ---------------------------------------------------------------------------------------------
def test_published_ports_are_design_ports_on_loopback():
    published = set()
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            assert isinstance(port, str), f"{name}: write ports as \"127.0.0.1:HOST:CONTAINER\" strings"
            host_ip, host_port, _ = port.split(":")
            assert host_ip == "127.0.0.1", f"{name}: {port} is reachable from other machines"
            published.add(int(host_port))
    assert published == DESIGN_PORTS


# --- the project's scripts named by the compose file -------------------------------------------------------
def _script(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_commands_and_healthchecks_name_existing_jobs_and_probes():
    init_jobs = _script("docker/platform/init_jobs.py")
    healthcheck = _script("docker/platform/healthcheck.py")
    settings = settings_module.Settings()
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:2] == ["python", "docker/platform/init_jobs.py"]:
            assert command[2] in init_jobs.JOBS, f"{name}: unknown job {command[2]}"
        test = (service.get("healthcheck") or {}).get("test") or []
        if "docker/platform/healthcheck.py" in test:
            probe_name = test[test.index("docker/platform/healthcheck.py") + 1]
            assert probe_name == name, f"{name} runs the healthcheck of {probe_name}"
            healthcheck.probe(probe_name, settings)  # raises SystemExit for an unknown service
