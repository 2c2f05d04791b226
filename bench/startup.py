"""Benchmark: how long `make up` takes, phase by phase, and what the platform holds in memory after.

    .venv/bin/python bench/startup.py warm      # make down, then make up (caches and data kept)
    .venv/bin/python bench/startup.py running   # make up while everything runs
    .venv/bin/python bench/startup.py cold --dir /tmp/fd-cold   # a fresh clone, empty caches
    .venv/bin/python bench/startup.py memory    # only the memory of each running service
    (--json prints the figures as one JSON object)

`cold` clones this checkout's HEAD into --dir and runs its `make up` with empty uv, Go and Maven
caches under --dir (the Debian packages are not removed); it needs the ports free, so stop this
checkout's platform first (`make down`), and it leaves the cold platform running for
`make -C <dir>/main down` (or `make clean`). A cold start imports the history and trains the
first model; warm and running starts find both.

Each phase is the time from one marker line of `make up`'s output to the next: an install step
(`==> ...`), `flightdelay up` (`starting ...`), and the bootstrap's import, training and deploy.
Memory is the proportional set (PSS) of each service's process tree, as `flightdelay status` reports it,
read once the start is over and again 60 s later (--settle), when the JVMs have settled.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# the lines of `make up` that start a phase, and the phase's name
MARKERS = (
    (re.compile(r"^==> (.+?)(?: \(|$)"), lambda m: f"install: {m.group(1)}"),
    (re.compile(r"^\S*flightdelay up$"), lambda m: "services: flightdelay up"),
    (re.compile(r"^\S*flightdelay bootstrap$"), lambda m: "bootstrap: checks"),
    (re.compile(r"^importing the flight history"), lambda m: "bootstrap: import (flight_data_import)"),
    (re.compile(r"^training a model"), lambda m: "bootstrap: training (flight_delay_training)"),
    (re.compile(r"^deploying the streaming scorer"), lambda m: "bootstrap: deploy (flight_delay_streaming)"),
    (re.compile(r"^  \S+\s+(current|candidate|retired|rejected)\b|^\* \S+\s+current"), lambda m: "bootstrap: models list"),
)


def timed_make_up(cwd: Path, env: dict[str, str], echo: bool) -> tuple[float, list[tuple[str, float]], int]:
    """Run `make up` in cwd; (total seconds, [(phase, seconds)], exit code)."""
    started = time.monotonic()
    phases: list[list] = [["install: checks", 0.0]]
    process = subprocess.Popen(["make", "up"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        at = time.monotonic() - started
        if echo:
            print(f"  [{at:7.1f}s] {line.rstrip()}", flush=True)
        for pattern, name in MARKERS:
            match = pattern.search(line.rstrip())
            if match and phases[-1][0] != name(match):
                phases.append([name(match), at])
                break
    code = process.wait()
    total = time.monotonic() - started
    durations = [(name, (phases[i + 1][1] if i + 1 < len(phases) else total) - at) for i, (name, at) in enumerate(phases)]
    return total, durations, code


def service_memory(cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """MiB of each running service, from `flightdelay status --json`."""
    out = subprocess.run([str(cwd / ".venv/bin/flightdelay"), "status", "--json"], cwd=cwd, env=env,
                         capture_output=True, text=True).stdout  # fmt: skip (exit 1: a service is not healthy)
    return {s["name"]: s["memory_mb"] for s in json.loads(out)["services"] if s.get("memory_mb")}


def cold_checkout(folder: Path) -> tuple[Path, dict[str, str]]:
    """A fresh clone of HEAD in folder/main and an environment whose caches are empty."""
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty: give a new folder (a cold start needs empty caches)")
    folder.mkdir(parents=True, exist_ok=True)
    checkout = folder / "main"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(checkout)], check=True)
    shared = ROOT.parent / "shared"  # the design notes the tests read beside the checkout, if any
    if shared.is_dir():
        subprocess.run(["cp", "-r", str(shared), str(folder / "shared")], check=True)
    caches = folder / "caches"
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(caches / "uv"),
        "GOCACHE": str(caches / "go-build"),
        "GOMODCACHE": str(caches / "go-mod"),
        "MAVEN_OPTS": f"{os.environ.get('MAVEN_OPTS', '')} -Dmaven.repo.local={caches / 'm2'}".strip(),
        "PIP_CACHE_DIR": str(caches / "pip"),
    }
    return checkout, env


def report(kind: str, total: float, phases: list[tuple[str, float]], memory: dict, settled: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"start": kind, "total_s": round(total, 1), "phases_s": {n: round(s, 1) for n, s in phases},
                          "memory_mib": memory, "memory_settled_mib": settled}))  # fmt: skip
        return
    if phases:
        print(f"\n{kind} `make up`: {total:.1f} s")
        for name, seconds in phases:
            if seconds >= 0.05:
                print(f"  {name:<48} {seconds:7.1f} s")
    for title, figures in (("memory right after", memory), ("memory settled", settled)):
        if figures:
            print(f"\n{title} (MiB):")
            for name, mib in sorted(figures.items(), key=lambda item: -item[1]):
                print(f"  {name:<24} {mib:8.0f}")
            print(f"  {'total':<24} {sum(figures.values()):8.0f}  ({sum(figures.values()) / 1024:.2f} GiB)")


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("start", choices=("warm", "running", "cold", "memory"))
    options.add_argument("--dir", type=Path, help="cold: an empty folder for the clone and its caches")
    options.add_argument("--settle", type=float, default=60.0, help="seconds before the second memory reading")
    options.add_argument("--quiet", action="store_true", help="do not echo make's output")
    options.add_argument("--json", action="store_true")
    args = options.parse_args(argv)

    cwd, env = ROOT, dict(os.environ)
    if args.start == "cold":
        if args.dir is None:
            options.error("cold needs --dir")
        cwd, env = cold_checkout(args.dir)
    elif args.start == "warm":
        print("stopping the platform (make down) ...", flush=True)
        subprocess.run(["make", "down"], cwd=cwd, env=env, check=True, capture_output=True)

    total, phases = 0.0, []
    if args.start != "memory":
        total, phases, code = timed_make_up(cwd, env, echo=not args.quiet)
        if code != 0:
            print(f"make up failed (exit {code})", file=sys.stderr)
            return code
    memory = service_memory(cwd, env)
    settled = {}
    if args.settle > 0 and args.start != "memory":
        time.sleep(args.settle)
        settled = service_memory(cwd, env)
    report(args.start, total, phases, memory, settled, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
