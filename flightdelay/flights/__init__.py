"""Historical flight data: one canonical record, its delay classes, airport geography, the
readers that normalize each source format, and the idempotent MongoDB import.

Submodules are imported on demand (``from flightdelay.flights import schema``); nothing heavy
happens when this package is imported.
"""
