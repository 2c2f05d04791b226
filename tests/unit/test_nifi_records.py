"""The NiFi consumer's record check: JSON objects kept as they came, everything else skipped."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

PROCESSOR = Path(__file__).resolve().parents[2] / "nifi" / "python_extensions" / "ConsumeKafkaRecords.py"


@pytest.fixture(scope="module")
def processor():
    # only the NiFi API names the module imports at its top; json_object_line uses none of them
    api = {
        "nifiapi": types.ModuleType("nifiapi"),
        "nifiapi.flowfilesource": types.SimpleNamespace(FlowFileSource=object, FlowFileSourceResult=object),
        "nifiapi.properties": types.SimpleNamespace(
            PropertyDescriptor=lambda **kwargs: kwargs,
            StandardValidators=types.SimpleNamespace(NON_EMPTY_VALIDATOR=None, POSITIVE_INTEGER_VALIDATOR=None),
        ),
    }
    saved = {name: sys.modules.get(name) for name in api}
    sys.modules.update(api)
    try:
        spec = importlib.util.spec_from_file_location("consume_kafka_records", PROCESSOR)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def test_a_one_line_object_is_kept_byte_for_byte(processor):
    value = '{"UUID": "u1", "Origin": "MÜC", "Prediction": 2.0}'.encode()
    assert processor.json_object_line(value) == value.decode()


def test_a_multi_line_object_becomes_one_line(processor):
    line = processor.json_object_line(b'{\n  "UUID": "u1",\n  "Prediction": 2.0\n}')
    assert "\n" not in line and json.loads(line) == {"UUID": "u1", "Prediction": 2.0}


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", None, b""])
def test_anything_but_a_json_object_is_skipped(processor, value):
    assert processor.json_object_line(value) is None


def test_a_prediction_of_the_contract_goes_through_unchanged(processor):
    import uuid

    import orjson

    from flightdelay.contract import Prediction, prediction_record, read_request
    from flightdelay.flights.geo import RouteDistances

    seed = {"DepDelay": 5.0, "Carrier": "AA", "FlightDate": "2016-12-25", "Dest": "SFO", "FlightNum": None,
            "Origin": "ATL", "DayOfWeek": 6, "Timestamp": "2026-12-01T03:57:45.150104", "UUID": str(uuid.uuid4())}  # fmt: skip
    row = {**read_request(seed, RouteDistances.fixed({})).__dict__, "RequestProducedAt": "2026-12-01T03:57:46+00:00"}
    value = orjson.dumps(prediction_record(row, 2.0, [0.1, 0.2, 0.6, 0.1], "v1", "2026-12-01T03:57:47+00:00"))
    line = processor.json_object_line(value)
    assert line == value.decode()
    assert Prediction.model_validate_json(line).Warnings  # the weekday the seed got wrong is named
