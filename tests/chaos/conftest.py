"""The chaos suite runs against the real embedded platform, with the integration suite's set-up:
the platform up, history imported and a model trained (through Airflow), and the scorer deployed."""

from __future__ import annotations

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures shared with the integration suite)
    airflow_client,
    imported_history,
    running_platform,
    settings,
    trained_model,
)


@pytest.fixture(scope="session")
def deployed_scorer(trained_model, settings):  # noqa: F811
    from flightdelay.embedded.score_stream import ScoreStream

    ScoreStream(settings).start(log=lambda line: None)
    return trained_model
