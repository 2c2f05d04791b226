"""Running a one-off command (a storage format, a schema migration, a keytool step) and looking at
the listeners and logs of long-running ones."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence

import psutil

from flightdelay.ops.errors import ServiceError

#: how much of a failed command's output an error message quotes
OUTPUT_TAIL_CHARS = 3000


def run_checked(
    command: Sequence[str],
    what: str,
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``command`` to its end; raise ServiceError("<what> failed ...") with the end of its
    output when it exits non-zero. ``env`` adds to this process's environment."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, **env} if env is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(
            f"{what} failed (exit {result.returncode}):\n"
            f"{result.stdout[-OUTPUT_TAIL_CHARS:]}\n{result.stderr[-OUTPUT_TAIL_CHARS:]}".rstrip()
        )
    return result


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log, each cut to 400 characters (JVMs log their classpath on one line)."""
    if not path.exists():
        return f"(no log at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(line[:400] for line in text.splitlines()[-lines:])


def wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited; those still running after ``timeout`` are returned.
    A zombie counts as exited once its last thread is: reaping an orphan is its new parent's
    business (a container's init took 1.5 s, where psutil.wait_procs waits for it). Before that it
    is a leader whose other threads are still exiting, and they hold its ports and files."""
    deadline = time.monotonic() + timeout
    running = list(procs)
    while running:
        running = [proc for proc in running if _running(proc)]
        if not running or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return running


def _running(proc: psutil.Process) -> bool:
    try:
        if not proc.is_running():  # gone, or its pid reused
            return False
        return proc.status() != psutil.STATUS_ZOMBIE or len(os.listdir(f"/proc/{proc.pid}/task")) > 1
    except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
        return False
    except PermissionError:
        return True
