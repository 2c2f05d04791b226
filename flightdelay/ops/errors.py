"""The errors of operations work: what could not be installed, started, reached or run."""

from __future__ import annotations


class ServiceError(RuntimeError):
    """A service could not be installed, started, stopped or set up; the message says which and why."""


class NotInstalledError(ServiceError):
    """An artifact the service needs is missing: `make install` builds it."""
