"""A sensor for the DAGs: waits until NiFi's output directory holds a fresh file with a record.

Reading the files is flightdelay/nifi/output.py (find_fresh_output, used here and by the canary).
"""

from __future__ import annotations

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from flightdelay.nifi.output import find_fresh_output


class NiFiOutputSensor(BaseSensorOperator):
    """Waits until NiFi's output directory has a file newer than `max_age_seconds` holding the
    record with the given UUID (any fresh file without one). Pushes the file's path as XCom."""

    template_fields = ("uuid", "output_dir")
    ui_color = "#728e9b"

    def __init__(
        self,
        *,
        uuid: str | None = None,
        max_age_seconds: float = 600,
        output_dir: str | None = None,
        uuid_field: str = "UUID",
        **kwargs,
    ):
        kwargs.setdefault("poke_interval", 5)
        kwargs.setdefault("timeout", 300)
        kwargs.setdefault("mode", "poke")
        super().__init__(**kwargs)
        self.uuid = uuid
        self.max_age_seconds = max_age_seconds
        self.output_dir = output_dir
        self.uuid_field = uuid_field

    def poke(self, context) -> PokeReturnValue:
        path = find_fresh_output(self.uuid, self.max_age_seconds, self.output_dir, self.uuid_field)
        what = f"record {self.uuid}" if self.uuid else "any file"
        if path is None:
            self.log.info("no output file newer than %ss with %s yet", self.max_age_seconds, what)
            return PokeReturnValue(is_done=False)
        self.log.info("found %s in %s", what, path)
        return PokeReturnValue(is_done=True, xcom_value=str(path))
