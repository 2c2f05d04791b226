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
