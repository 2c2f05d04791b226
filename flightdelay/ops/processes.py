"""Running a one-off command (a storage format, a schema migration, a keytool step) and looking at
the listeners and logs of long-running ones."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

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
