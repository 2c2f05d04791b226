"""Generated credentials: created once, kept in var/secrets/ (mode 0600), reused by every client.

A value given in the environment (through the settings) wins over the generated one and is
written back, so every process that reads the file agrees with the one that was configured.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Callable, Mapping


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (generated secrets, configs that hold them); a
    folder it has to create is private too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def stored_secret(path: Path, key: str) -> str:
    """One value of a secrets file, or "" when the file or the key is not there (yet)."""
    try:
        return str(json.loads(path.read_text()).get(key) or "")
    except FileNotFoundError:
        return ""


def new_password() -> str:
    return secrets.token_urlsafe(18)


def generated_secrets(
    path: Path,
    makers: Mapping[str, Callable[[], str]],
    configured: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The secrets stored at ``path``; missing keys are made with ``makers``, non-empty
    ``configured`` values replace stored ones. The file is rewritten only when something changed.
    Its folder is made private too (one made by an older version may be world-readable)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = dict(stored)
    for key, make in makers.items():
        if not wanted.get(key):
            wanted[key] = make()
    for key, value in (configured or {}).items():
        if value:
            wanted[key] = value
    if wanted != stored:
        write_private(path, json.dumps(wanted, indent=2))
    return wanted
