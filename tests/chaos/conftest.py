"""The chaos suite runs against the real embedded platform, with the integration suite's set-up:
the platform up, history imported and a model trained (through Airflow), and the scorer deployed."""

from __future__ import annotations

from tests.integration.conftest import (  # noqa: F401  (fixtures shared with the integration suite)
    airflow_client,
    deployed_scorer,
    imported_history,
    running_platform,
    settings,
    trained_model,
)
