"""Select part of requirements.lock, versions and hashes unchanged, for an image that needs only part.

    python docker/lock_subset.py requirements.lock NAME [NAME ...]
    python docker/lock_subset.py requirements.lock --pyproject pyproject.toml

Prints the lock entries (requirement line and hashes) of the named packages and of everything they
depend on, in lock order. Dependencies are read from uv's `# via` annotations: each entry names the
locked packages that require it, so a package belongs to the subset when one of those is in it.
`--pyproject` takes the names from [project].dependencies: the runtime set, without the dev extra
(pytest, playwright, scikit-learn). The images install the output with
`pip install --no-deps --require-hashes -r`, so every package is exactly the locked file.
Standard library only: it runs inside the images' build steps.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 normalised name: `Flask_Cors` and `flask-cors` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Entry:
    name: str
    lines: list[str] = field(default_factory=list)  # requirement line and its --hash lines
    required_by: set[str] = field(default_factory=set)  # normalised names from `# via`


def parse_lock(text: str) -> dict[str, Entry]:
    """The lock's entries by normalised name, in file order."""
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    in_via = False
    for line in text.splitlines():
        match = _REQUIREMENT.match(line)
        if match:
            current = Entry(normalize(match.group(1)), [line])
            entries[current.name] = current
            in_via = False
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("--hash="):
            current.lines.append(line)
        elif stripped.startswith("# via"):
            in_via = True
            rest = stripped[len("# via") :].strip()
            if rest:
                _add_requirer(current, rest)
        elif in_via and stripped.startswith("#"):
            _add_requirer(current, stripped.lstrip("#").strip())
        else:
            in_via = False
    return entries


def _add_requirer(entry: Entry, text: str) -> None:
    if "(pyproject.toml)" in text or text.startswith("-r "):
        return  # the project itself: a root, not a package of the lock
    match = _NAME.match(text)
    if match:
        entry.required_by.add(normalize(match.group(1)))


def closure(entries: dict[str, Entry], roots: list[str]) -> list[Entry]:
    """The roots and everything they need, in lock order."""
    wanted = {normalize(r) for r in roots}
    unknown = wanted - set(entries)
    if unknown:
        raise SystemExit(f"not in the lock: {', '.join(sorted(unknown))}")
    grew = True
    while grew:
        grew = False
        for entry in entries.values():
            if entry.name not in wanted and entry.required_by & wanted:
                wanted.add(entry.name)
                grew = True
    return [e for e in entries.values() if e.name in wanted]


def runtime_roots(pyproject: Path) -> list[str]:
    import tomllib

    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [_NAME.match(d).group(1) for d in dependencies]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lock", type=Path)
    parser.add_argument("names", nargs="*", help="packages to select (with what they depend on)")
    parser.add_argument("--pyproject", type=Path, help="select [project].dependencies of this file")
    args = parser.parse_args(argv)
    roots = list(args.names) + (runtime_roots(args.pyproject) if args.pyproject else [])
    if not roots:
        parser.error("name at least one package, or give --pyproject")
    for entry in closure(parse_lock(args.lock.read_text()), roots):
        print("\n".join(entry.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
