"""What a model version learned from, and the flags a request gets when it lies outside that.

A forest answers every request with the same assurance, including a route it never saw, an
airline it has no flights of, or a date years after its data. The prediction then says so: each
one carries ``Flags`` (codes, listed in FLAG_TEXT) and the version's held-out accuracy, and the
page puts them in plain words next to the answer.

What a version saw comes from the model itself, the labels of its StringIndexers (fitted on the
training rows: carriers, origins, destinations and routes), and from its registry record: the
data window and the held-out metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

CARRIER_UNSEEN = "carrier_not_in_training_data"
ORIGIN_UNSEEN = "origin_not_in_training_data"
DEST_UNSEEN = "dest_not_in_training_data"
ROUTE_UNSEEN = "route_not_in_training_data"
DATE_OUTSIDE = "date_outside_training_window"

# each flag in the words the page and the API description use
FLAG_TEXT = {
    CARRIER_UNSEEN: "The model saw no flights of this carrier",
    ORIGIN_UNSEEN: "The model saw no flights from this origin airport",
    DEST_UNSEEN: "The model saw no flights to this destination airport",
    ROUTE_UNSEEN: "The model saw no flights on this route",
    DATE_OUTSIDE: "The flight date is outside the dates of the model's data",
}
FLAGS = tuple(FLAG_TEXT)

# the request column each "never seen" flag checks
_UNSEEN_FLAGS = (("Carrier", CARRIER_UNSEEN), ("Origin", ORIGIN_UNSEEN), ("Dest", DEST_UNSEEN), ("Route", ROUTE_UNSEEN))


@dataclass(frozen=True)
class ModelScope:
    """The values and dates a version learned from; None where it is not known (an older record)."""

    seen: Mapping[str, frozenset[str]] = field(default_factory=dict)  # column -> training values
    first_date: str | None = None  # ISO dates: strings compare as the dates do
    last_date: str | None = None
    accuracy: float | None = None  # on the held-out weeks

    @classmethod
    def of(cls, record: Mapping[str, Any] | None, labels: Mapping[str, Iterable[str]]) -> ModelScope:
        """A version's scope from its registry record and its indexers' labels by input column."""
        record = record or {}
        window = record.get("data_window") or {}
        accuracy = (record.get("metrics") or {}).get("accuracy")
        return cls(
            seen={column: frozenset(values) for column, values in labels.items()},
            first_date=_text(window.get("train_start")),
            last_date=_text(window.get("holdout_end")),
            accuracy=float(accuracy) if isinstance(accuracy, (int, float)) else None,
        )

    def flags(self, row: Mapping[str, Any]) -> list[str]:
        """The flags of a validated request row (upper-case codes, ISO FlightDate)."""
        found = []
        for column, flag in _UNSEEN_FLAGS:
            seen = self.seen.get(column)
            if seen is not None and row.get(column) not in seen:
                found.append(flag)
        flight_date = row.get("FlightDate")
        if self.first_date and self.last_date and not (self.first_date <= flight_date <= self.last_date):
            found.append(DATE_OUTSIDE)
        return found


def _text(value: Any) -> str | None:
    return str(value)[:10] if value else None
