"""The current promoted model, reloaded in the background when the registry's current changes.

The scorer asks ``holder.get()`` at the start of each micro-batch and uses that model for the
whole batch, so a promotion takes effect between micro-batches, without a restart, and the load
(seconds: reading the PipelineModel from HDFS) never happens on a batch's critical path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from flightdelay.waiting import WaitTimeout, wait_until


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Any  # what `load` returns (the scorer: a serving.ServingModel)


class ModelHolder:
    def __init__(
        self,
        current_version: Callable[[], str | None],
        load: Callable[[str], Any],
        poll_seconds: float = 5.0,
        log: Callable[[str], None] = print,
    ):
        self._current_version = current_version
        self._load = load
        self._poll_seconds = poll_seconds
        self._log = log
        self._loaded: LoadedModel | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> LoadedModel | None:
        return self._loaded

    def refresh(self) -> bool:
        """Load the current version if it is not the one in use. Returns True on a swap."""
        version = self._current_version()
        if version is None or (self._loaded and self._loaded.version == version):
            return False
        started = time.monotonic()
        model = self._load(version)
        previous = self._loaded.version if self._loaded else None
        self._loaded = LoadedModel(version, model)  # one reference assignment: atomic for readers
        self._log(f"model {version} loaded in {time.monotonic() - started:.1f}s (was {previous})")
        return True

    def wait_for_model(self, timeout: float | None = None) -> LoadedModel:
        announced = False

        def loaded() -> str | None:
            nonlocal announced
            try:
                self.refresh()
            except Exception as exc:  # registry or HDFS not reachable yet: keep trying
                self._log(f"cannot load the current model yet: {exc}")
                return f"cannot load it yet: {exc}"
            if self._loaded:
                return None
            if not announced:
                self._log("no promoted model in the registry yet: waiting (run flight_delay_training)")
                announced = True
            return "no promoted model in the registry"

        try:
            wait_until(loaded, "a promoted model", timeout=timeout, interval=self._poll_seconds)
        except WaitTimeout as exc:
            raise TimeoutError(f"no promoted model appeared ({exc})") from exc
        return self._loaded

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self._poll_seconds):
                try:
                    self.refresh()
                except Exception as exc:  # keep serving with the model we have
                    self._log(f"model refresh failed, keeping {self._loaded and self._loaded.version}: {exc}")

        self._thread = threading.Thread(target=loop, name="model-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
