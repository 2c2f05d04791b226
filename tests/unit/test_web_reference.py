"""What the front end knows besides the request (flightdelay.web.reference): the airports it
offers and the serving model's summary, cached."""

from __future__ import annotations

from flightdelay.flights.geo import Airport
from flightdelay.web.reference import ModelSummary, ServingModelInfo, is_airport

RECORD = {
    "version": "v20261201T000000Z",
    "data_window": {"train_start": "2013-01-01", "train_end": "2013-12-04", "holdout_start": "2013-12-04",
                    "holdout_end": "2013-12-31"},
    "metrics": {"accuracy": 0.61, "weighted_f1": 0.58},
    "promoted_at": "2026-12-01T00:10:00+00:00",
}  # fmt: skip


def airport(name: str) -> Airport:
    return Airport(code="XXX", name=name, latitude=0.0, longitude=0.0)


def test_rail_stations_and_metropolitan_codes_are_not_airports():
    for name in ("All Airports", "Newark Penn Station", "Stamford Amtrak Station", "New Haven Rail Station",
                 "Atlantic City Rail Terminal", "Train Station", "Washington Union Station", "Chatsworth Station"):  # fmt: skip
        assert not is_airport(airport(name)), name
    for name in ("John F Kennedy Intl", "Naval Air Station", "Nikolski Air Station", "Wall Street Heliport",
                 "Lake Hood Seaplane Base", "Pilot Station Airport"):  # fmt: skip
        assert is_airport(airport(name)), name


def test_the_summary_names_the_window_and_the_accuracy():
    summary = ModelSummary.of(RECORD)
    assert summary.as_dict() == {
        "version": "v20261201T000000Z",
        "accuracy": 0.61,
        "weighted_f1": 0.58,
        "data_window": {"first": "2013-01-01", "last": "2013-12-31", "holdout_start": "2013-12-04"},
        "promoted_at": "2026-12-01T00:10:00+00:00",
    }


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_serving_model_is_read_again_after_its_ttl_and_kept_while_mongodb_is_down():
    clock, answers = Clock(), [RECORD, RuntimeError("down"), {**RECORD, "version": "v2"}]
    reads = []

    def read():
        reads.append(clock.now)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    info = ServingModelInfo(read, ttl_s=30, retry_s=10, clock=clock)
    assert info.get().version == "v20261201T000000Z"
    clock.now = 20
    assert info.get().version == "v20261201T000000Z" and reads == [0.0]  # cached
    clock.now = 31
    assert info.get().version == "v20261201T000000Z"  # the failed read keeps the last one
    clock.now = 35
    info.get()
    assert reads == [0.0, 31]  # retried only after retry_s
    clock.now = 41
    assert info.get().version == "v2"


def test_no_model_yet_is_told_apart_from_no_answer():
    info = ServingModelInfo(lambda: None)
    assert info.get() is None and info.ever_read
    down = ServingModelInfo(lambda: (_ for _ in ()).throw(OSError("refused")))
    assert down.get() is None and not down.ever_read
