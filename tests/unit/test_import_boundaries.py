"""The layering stays: import-linter's contracts (pyproject.toml) over the flightdelay package, and
the same rule for the folders that are not packages (DAGs, Airflow plugins, docker scripts, Spark
apps): none of them imports the embedded platform's process manager."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_FOLDERS = ("dags", "plugins", "docker", "spark_apps")
PROCESS_MANAGER = ("flightdelay.embedded", "flightdelay.cli")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("folder", SCRIPT_FOLDERS)
def test_scripts_outside_the_package_use_ops_not_the_process_manager(folder):
    offenders = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path) if m.startswith(PROCESS_MANAGER))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert not offenders, f"import flightdelay.ops (or flightdelay.nifi) instead: {offenders}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    script = tmp_path / "dag.py"
    script.write_text("def task():\n    from flightdelay.embedded.kafka import Kafka\n")
    assert "flightdelay.embedded.kafka" in imported_modules(script)
