"""What a model learned from, and the flags of a request outside it (flightdelay.model.scope)."""

from __future__ import annotations

import pytest

from flightdelay.model.scope import (
    CARRIER_UNSEEN,
    DATE_OUTSIDE,
    DEST_UNSEEN,
    FLAG_TEXT,
    ORIGIN_UNSEEN,
    ROUTE_UNSEEN,
    ModelScope,
)

RECORD = {
    "version": "v20261201T000000Z",
    "data_window": {"train_start": "2013-01-01", "train_end": "2013-12-04", "holdout_start": "2013-12-04",
                    "holdout_end": "2013-12-31"},
    "metrics": {"accuracy": 0.6123, "weighted_f1": 0.58},
}  # fmt: skip
LABELS = {
    "Carrier": ["AA", "B6", "DL"],
    "Origin": ["JFK", "LGA", "EWR"],
    "Dest": ["ATL", "SFO", "LAX"],
    "Route": ["JFK-SFO", "LGA-ATL", "EWR-LAX"],
}
SCOPE = ModelScope.of(RECORD, LABELS)


def row(**change) -> dict:
    return {"Carrier": "AA", "Origin": "JFK", "Dest": "SFO", "Route": "JFK-SFO", "FlightDate": "2013-06-01", **change}


def test_a_request_inside_the_data_has_no_flags():
    assert SCOPE.flags(row()) == []
    assert SCOPE.accuracy == pytest.approx(0.6123)
    assert (SCOPE.first_date, SCOPE.last_date) == ("2013-01-01", "2013-12-31")


def test_the_held_out_weeks_count_as_inside_the_window():
    assert SCOPE.flags(row(FlightDate="2013-12-31")) == []
    assert SCOPE.flags(row(FlightDate="2013-01-01")) == []


@pytest.mark.parametrize("flight_date", ["2012-12-31", "2014-01-01", "2026-12-01"])
def test_a_date_outside_the_window_is_flagged(flight_date):
    assert SCOPE.flags(row(FlightDate=flight_date)) == [DATE_OUTSIDE]


def test_a_route_never_flown_is_flagged_even_between_known_airports():
    assert SCOPE.flags(row(Dest="ATL", Route="JFK-ATL")) == [ROUTE_UNSEEN]


def test_every_unseen_value_is_flagged_in_one_order():
    flags = SCOPE.flags(row(Carrier="ZZ", Origin="BOS", Dest="ORD", Route="BOS-ORD", FlightDate="2030-01-01"))
    assert flags == [CARRIER_UNSEEN, ORIGIN_UNSEEN, DEST_UNSEEN, ROUTE_UNSEEN, DATE_OUTSIDE]
    assert all(flag in FLAG_TEXT for flag in flags)


def test_what_is_not_known_is_not_flagged():
    # a record without a window or metrics (older versions), a model without a Route indexer
    scope = ModelScope.of({"version": "v1"}, {"Carrier": ["AA"]})
    assert scope.flags(row(Route="X-Y", FlightDate="2099-01-01")) == []
    assert scope.accuracy is None
    assert ModelScope().flags(row(Carrier="ZZ")) == []


def test_flags_from_a_compiled_model_and_a_pipeline_agree():
    from flightdelay.model.compiled import CompiledForest, Indexer
    from flightdelay.scoring.serving import compiled_labels, pipeline_labels

    compiled = CompiledForest(
        indexers=tuple(Indexer(column, {v: i for i, v in enumerate(values)}) for column, values in LABELS.items()),
        feature_columns=(), trees=(), num_classes=4,
    )  # fmt: skip

    class Stage:  # what pipeline_labels reads of a StringIndexerModel
        def __init__(self, column, labels):
            self.column, self.labels = column, labels

        def getInputCol(self):
            return self.column

    class Pipeline:
        stages = [Stage(column, values) for column, values in LABELS.items()] + [object()]

    assert compiled_labels(compiled) == pipeline_labels(Pipeline()) == LABELS
