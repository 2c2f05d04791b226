"""The `flightdelay` command: run the embedded platform and its jobs.

    flightdelay up [SERVICE ...]      start what is not running (and what it depends on)
    flightdelay down [SERVICE ...]    stop, keeping the data under var/
    flightdelay status [--json]       each service's state, ports, pid and memory
    flightdelay logs SERVICE [-n N]   the end of a service's log
"""

from __future__ import annotations

import argparse
import json
import sys

from flightdelay.embedded import platform
from flightdelay.embedded.airflow import airflow_secrets
from flightdelay.embedded.base import ServiceError, tail
from flightdelay.settings import get_settings


def _up(args: argparse.Namespace) -> int:
    seconds = platform.up(args.services)
    print(f"platform up in {seconds:.1f}s")
    _print_status(platform.status(args.services))
    return 0


def _down(args: argparse.Namespace) -> int:
    platform.down(args.services)
    return 0


def _print_status(statuses) -> None:
    width = max(len(s.name) for s in statuses)
    for s in statuses:
        ports = ",".join(str(p) for p in s.ports) or "-"
        memory = f"{s.rss_mb:.0f} MiB" if s.rss_mb is not None else "-"
        pid = s.pid or "-"
        line = f"{s.name:<{width}}  {s.state:<9}  pid {pid!s:<7}  ports {ports:<16}  {memory}"
        print(line + (f"  ({s.detail})" if s.detail else ""))
    _print_credentials()


def _credentials() -> dict:
    settings = get_settings()
    creds = {}
    if (settings.secrets_dir / "airflow.json").exists():
        creds["airflow"] = {
            "url": settings.airflow_url,
            "user": settings.airflow_user,
            "password": airflow_secrets(settings)["password"],
        }
    return creds


def _print_credentials() -> None:
    for name, cred in _credentials().items():
        print(f"{name}: {cred['url']}  user {cred['user']}  password {cred['password']}")


def _status(args: argparse.Namespace) -> int:
    statuses = platform.status(args.services)
    if args.json:
        print(json.dumps({"services": [s.as_dict() for s in statuses], "credentials": _credentials()}, indent=2))
    else:
        _print_status(statuses)
    return 0 if all(s.state == "healthy" for s in statuses) else 1


def _logs(args: argparse.Namespace) -> int:
    print(tail(platform.service(args.service).log_file, args.lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flightdelay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the embedded platform")
    p.add_argument("services", nargs="*", help="only these services (and their dependencies)")
    p.set_defaults(func=_up)

    p = sub.add_parser("down", help="stop the embedded platform, keeping its data")
    p.add_argument("services", nargs="*")
    p.set_defaults(func=_down)

    p = sub.add_parser("status", help="state, ports, pid and memory of each service")
    p.add_argument("services", nargs="*")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_status)

    p = sub.add_parser("logs", help="the end of a service's log")
    p.add_argument("service")
    p.add_argument("-n", "--lines", type=int, default=60)
    p.set_defaults(func=_logs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
