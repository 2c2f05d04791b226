"""NiFi's local output folder keeps NIFI_OUTPUT_RETENTION_DAYS of files (store_retention DAG)."""

from __future__ import annotations

import os

from flightdelay.nifi.output import delete_old_output
from flightdelay.settings import Settings

NOW = 1_800_000_000.0
DAY = 86_400


def write(folder, name: str, age_days: float, text: str = "[]"):
    path = folder / name
    path.write_text(text)
    os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))
    return path


def test_only_files_older_than_the_retention_go(tmp_path):
    old = write(tmp_path, "predictions-a.json", 8, '[{"UUID": "x"}]')
    abandoned = write(tmp_path, ".predictions-b.json", 9)  # PutFile's temporary name, left by a crash
    recent = write(tmp_path, "predictions-c.json", 6.9)
    (tmp_path / "sub").mkdir()
    os.utime(tmp_path / "sub", (NOW - 30 * DAY, NOW - 30 * DAY))

    report = delete_old_output(7, tmp_path, now=NOW)

    assert (report.deleted, report.kept) == (2, 1)
    assert report.freed_bytes == len('[{"UUID": "x"}]') + len("[]")
    assert report.cutoff == NOW - 7 * DAY
    assert not old.exists() and not abandoned.exists()
    assert recent.exists() and (tmp_path / "sub").is_dir()


def test_a_missing_folder_deletes_nothing(tmp_path):
    report = delete_old_output(7, tmp_path / "never-created", now=NOW)
    assert (report.deleted, report.kept, report.freed_bytes) == (0, 0, 0)


def test_the_retention_is_a_setting_with_a_week_by_default(monkeypatch):
    monkeypatch.delenv("NIFI_OUTPUT_RETENTION_DAYS", raising=False)
    assert Settings().nifi_output_retention_days == 7
    monkeypatch.setenv("NIFI_OUTPUT_RETENTION_DAYS", "2")
    assert Settings().nifi_output_retention_days == 2
