"""The Dockerfiles under docker/: pinned bases, COPY sources present in the build context, Python
installed only from requirements.lock (versions and hashes), and the same layout the project's code
expects (build/jars, var/spark/conf). Read as text: there is no Docker engine here.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from flightdelay.nifi.config import NIFI_VERSION

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))
LOCK = ROOT / "requirements.lock"


def _load(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lock_subset = _load("docker/lock_subset.py")
LOCK_ENTRIES = lock_subset.parse_lock(LOCK.read_text())
LOCKED_VERSIONS = {name: e.lines[0].split("==")[1].split()[0] for name, e in LOCK_ENTRIES.items()}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    result, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        result.append((keyword.upper(), rest.strip()))
        current = ""
    return result


def stages(path: Path) -> list[dict]:
    """Each FROM stage: its base, name, workdir, ENV and instructions."""
    found: list[dict] = []
    for keyword, args in instructions(path):
        if keyword == "FROM":
            parts = args.split()
            base = parts[0]
            parent = next((s for s in found if s["name"] == base), None)
            found.append({
                "base": base, "name": parts[2] if len(parts) > 2 else "", "parent": parent,
                "workdir": parent["workdir"] if parent else "/", "env": dict(parent["env"]) if parent else {},
                "steps": [],
            })  # fmt: skip
            continue
        stage = found[-1]
        stage["steps"].append((keyword, args))
        if keyword == "WORKDIR":
            stage["workdir"] = args
        elif keyword == "ENV":
            stage["env"].update(dict(t.split("=", 1) for t in shlex.split(args)))
    return found


def copies(stage: dict) -> list[tuple[dict, list[str], str]]:
    """(flags, sources, absolute destination) of each COPY/ADD of a stage."""
    result = []
    for keyword, args in stage["steps"]:
        if keyword not in ("COPY", "ADD"):
            continue
        tokens = shlex.split(args)
        flags = dict(t[2:].split("=", 1) for t in tokens if t.startswith("--"))
        paths = [t for t in tokens if not t.startswith("--")]
        destination = paths[-1]
        if not destination.startswith("/"):
            destination = str(Path(stage["workdir"]) / destination) + ("/" if destination.endswith("/") else "")
        result.append((flags, paths[:-1], destination))
    return result


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used here: a path is left out when it or a parent matches."""
    parts = Path(relative).parts
    for i in range(1, len(parts) + 1):
        candidate = "/".join(parts[:i])
        for pattern in patterns:
            if fnmatch(candidate, pattern) or (pattern.startswith("**/") and fnmatch(parts[i - 1], pattern[3:])):
                return True
    return False


@pytest.fixture(params=DOCKERFILES, ids=lambda p: p.parent.name)
def dockerfile(request) -> Path:
    return request.param


def test_there_are_the_three_images():
    assert {p.parent.name for p in DOCKERFILES} == {"platform", "airflow", "nifi"}


def test_base_images_are_pinned(dockerfile):
    names = set()
    for stage in stages(dockerfile):
        if stage["base"] not in names:  # a previous stage needs no tag
            base = stage["base"]
            _, _, tag = base.rpartition(":")
            assert ":" in base and tag != "latest" and re.search(r"\d", tag), f"{base} is not pinned"
            assert "bitnami" not in base.lower()
        names.add(stage["name"])


def test_copy_sources_exist_in_the_build_context(dockerfile):
    patterns = dockerignore_patterns()
    assert ".env" in patterns, ".env (secrets) must never reach a build context"
    for stage in stages(dockerfile):
        for flags, sources, _ in copies(stage):
            if "from" in flags:
                continue
            for source in sources:
                matches = list(ROOT.glob(source.rstrip("/")))
                assert matches, f"{dockerfile.parent.name}: COPY {source} does not exist"
                for match in matches:
                    relative = match.relative_to(ROOT).as_posix()
                    assert not ignored(relative, patterns), f"{dockerfile.parent.name}: .dockerignore drops {relative}"


def pip_installs(stage: dict):
    """(tokens of the `pip install`, all commands of its RUN) for each pip install of a stage."""
    for keyword, args in stage["steps"]:
        if keyword != "RUN" or "pip install" not in args:
            continue
        commands = [shlex.split(c) for c in args.split("&&")]
        for tokens in commands:
            if "install" in tokens and any(t.endswith("pip") for t in tokens[: tokens.index("install")]):
                yield tokens, commands


def test_python_comes_only_from_the_lock(dockerfile):
    installs = 0
    for stage in stages(dockerfile):
        lock_copied = any("requirements.lock" in sources for _, sources, _ in copies(stage))
        for tokens, commands in pip_installs(stage):
            installs += 1
            line = " ".join(tokens)
            assert "--require-hashes" in tokens and "--no-deps" in tokens, line
            arguments = tokens[tokens.index("install") + 1 :]
            with_value = ("-r", "--target")
            bare = [t for i, t in enumerate(arguments) if not t.startswith("-") and arguments[i - 1] not in with_value]
            assert not bare, f"pip install names packages outside the lock: {bare}"
            # the -r file is written in the same RUN by `lock_subset.py .../requirements.lock ... > FILE`
            requirements = arguments[arguments.index("-r") + 1]
            writers = [c for c in commands if ">" in c and c[c.index(">") + 1] == requirements]
            assert writers, f"{requirements} is not made in the RUN that installs it"
            script = next((i for i, t in enumerate(writers[0]) if t.endswith("lock_subset.py")), None)
            assert script is not None and writers[0][script + 1].endswith("requirements.lock"), writers[0]
            assert lock_copied, "requirements.lock is not copied into this stage"
    assert installs, f"{dockerfile} installs no Python packages"


def test_base_images_match_the_lock_and_the_embedded_platform():
    python_version = re.search(r"--python-version (\d+\.\d+)", LOCK.read_text()).group(1)
    bases = {p.parent.name: [s["base"] for s in stages(p)] for p in DOCKERFILES}
    assert f"apache/airflow:{LOCKED_VERSIONS['apache-airflow']}-python{python_version}" in bases["airflow"]
    assert any(b.startswith(f"python:{python_version}.") for b in bases["platform"])
    assert bases["nifi"] == [f"apache/nifi:{NIFI_VERSION}"]


@pytest.mark.parametrize("name", ["platform", "airflow"])
def test_kafka_connector_jars_are_where_the_project_looks(name):
    """Maven resolves java/pom.xml at build time; the jars land in $FLIGHTDELAY_BUILD_DIR/jars/spark-kafka
    (flightdelay.embedded.spark.kafka_connector_jars), so spark-submit never downloads one."""
    path = ROOT / "docker" / name / "Dockerfile"
    all_stages = stages(path)
    maven = next(s for s in all_stages if s["base"].startswith("maven:"))
    run = " ".join(a for k, a in maven["steps"] if k == "RUN")
    assert "-f java/pom.xml" in run and "-pl spark-kafka" in run
    jar_copies = [(s, d) for s in all_stages for f, _, d in copies(s) if f.get("from") == maven["name"]]
    assert jar_copies
    for stage, destination in jar_copies:
        assert destination.rstrip("/") == stage["env"]["FLIGHTDELAY_BUILD_DIR"] + "/jars/spark-kafka"


def test_airflow_spark_defaults_are_where_the_scorer_looks():
    # flightdelay/ops/spark.py points the scorer's SPARK_CONF_DIR at $FLIGHTDELAY_VAR_DIR/spark/conf
    final = stages(ROOT / "docker" / "airflow" / "Dockerfile")[-1]
    conf_dir = final["env"]["FLIGHTDELAY_VAR_DIR"] + "/spark/conf"
    assert final["env"]["SPARK_CONF_DIR"] == conf_dir
    assert any(d == conf_dir + "/spark-defaults.conf" for _, _, d in copies(final))
    defaults = (ROOT / "docker" / "airflow" / "spark-defaults.conf").read_text()
    assert re.search(r"^spark\.driver\.host\s+airflow-scheduler$", defaults, re.M)


def test_project_variables_in_images_are_settings():
    from tests.unit.test_compose import settings_env_names

    known = settings_env_names()
    for path in DOCKERFILES:
        for stage in stages(path):
            for key in stage["env"]:
                if key.startswith("FLIGHTDELAY_"):
                    assert key in known, f"{path}: {key} is not read by flightdelay/settings.py"


def test_shell_scripts_parse():
    for script, shell in ((ROOT / "docker/nifi/start.sh", "sh"), (ROOT / "docker/airflow/entrypoint.sh", "bash")):
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


# --- docker/lock_subset.py ----------------------------------------------------------------------------
def test_every_lock_entry_has_hashes():
    assert len(LOCK_ENTRIES) == len(re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", LOCK.read_text(), re.M))
    for entry in LOCK_ENTRIES.values():
        assert any("--hash=sha256:" in line for line in entry.lines), entry.name


def test_runtime_subset_is_the_locked_runtime_closure(capsys):
    lock_subset.main([str(LOCK), "--pyproject", str(ROOT / "pyproject.toml")])
    output = capsys.readouterr().out.splitlines()
    lock_lines = set(LOCK.read_text().splitlines())
    assert set(output) <= lock_lines, "the subset must be the lock's own lines (versions and hashes)"
    selected = {lock_subset.normalize(line.split("==")[0]) for line in output if "==" in line}
    assert {"apache-airflow", "pyspark", "confluent-kafka", "gunicorn", "flask", "pymongo", "hdfs", "py4j"} <= selected
    assert not selected & {"pytest", "pytest-timeout", "playwright", "scikit-learn"}, "dev tools in an image"
    # closed: no package left out is required by a package kept
    for name, entry in LOCK_ENTRIES.items():
        if name not in selected:
            assert not entry.required_by & selected, f"{name} is needed by {entry.required_by & selected}"


def test_nifi_subset_is_the_processors_dependencies():
    selected = {e.name for e in lock_subset.closure(LOCK_ENTRIES, ["confluent-kafka", "hdfs"])}
    assert {"confluent-kafka", "hdfs", "docopt", "requests", "urllib3"} <= selected
    assert "apache-airflow" not in selected and "pyspark" not in selected


def test_unknown_package_is_refused():
    with pytest.raises(SystemExit, match="not in the lock"):
        lock_subset.closure(LOCK_ENTRIES, ["no-such-package"])
