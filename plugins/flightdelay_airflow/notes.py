"""A note on the DAG run a task belongs to (Markdown, shown in the UI), through the REST API:
the task SDK has no call for it. Best effort: a note never fails a task."""

from __future__ import annotations


def note_this_run(markdown: str) -> bool:
    from airflow.sdk import get_current_context

    from flightdelay.ops.airflow import AirflowClient, set_run_note
    from flightdelay.settings import get_settings

    context = get_current_context()
    return set_run_note(AirflowClient(get_settings()), context["dag"].dag_id, context["run_id"], markdown)
