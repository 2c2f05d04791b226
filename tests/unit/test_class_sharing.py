"""Class-data sharing options (flightdelay/ops/jvm.py): record once, map after, never a stale archive."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from flightdelay.ops import jvm
from flightdelay.ops.processes import wait_gone
from flightdelay.settings import get_settings

DYNAMIC_MAGIC = (0xF00BABA8).to_bytes(4, "little")


@pytest.fixture
def runtime(tmp_path) -> Path:
    """A java runtime's files as the fingerprint reads them; returns its bin/java."""
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "lib" / "server").mkdir(parents=True)
    (home / "release").write_text('JAVA_VERSION="17.0.15"\n')
    (home / "lib" / "server" / "libjvm.so").write_bytes(b"jvm")
    (home / "bin" / "java").write_text("")
    return home / "bin" / "java"


@pytest.fixture
def jars(tmp_path) -> Path:
    folder = tmp_path / "jars"
    folder.mkdir()
    (folder / "a.jar").write_bytes(b"a")
    (folder / "b.jar").write_bytes(b"bb")
    return folder


def test_the_first_start_records_at_exit_and_the_next_maps_the_archive(tmp_path, runtime, jars):
    archives = tmp_path / "cds"
    class_path = f"{jars}/*"
    [record] = jvm.class_sharing(archives, "kafka", runtime, class_path)
    assert record.startswith("-XX:ArchiveClassesAtExit=")
    archive = Path(record.split("=", 1)[1])
    assert archive.parent == archives and archive.name.startswith("kafka-")

    archive.write_bytes(DYNAMIC_MAGIC + b"\0" * 60)  # what the JVM writes as it stops
    assert jvm.class_sharing(archives, "kafka", runtime, class_path) == [f"-XX:SharedArchiveFile={archive}"]


def test_a_dump_cut_short_is_recorded_again(tmp_path, runtime, jars):
    [record] = jvm.class_sharing(tmp_path, "kafka", runtime, f"{jars}/*")
    archive = Path(record.split("=", 1)[1])
    archive.write_bytes(b"\0" * 64)  # regions written, header not yet
    assert jvm.class_sharing(tmp_path, "kafka", runtime, f"{jars}/*") == [record]


def test_a_changed_jar_records_a_new_archive_and_removes_only_that_services_old_one(tmp_path, runtime, jars):
    class_path = f"{jars}/*"
    old = jvm.class_archive(tmp_path, "spark-worker-1", runtime, class_path)
    old.write_bytes(DYNAMIC_MAGIC)
    neighbours = [jvm.class_archive(tmp_path, n, runtime, class_path) for n in ("spark-worker-10", "spark-worker-1x")]
    for other in neighbours:
        other.write_bytes(DYNAMIC_MAGIC)

    (jars / "b.jar").write_bytes(b"a newer build")
    [record] = jvm.class_sharing(tmp_path, "spark-worker-1", runtime, class_path)

    assert record.startswith("-XX:ArchiveClassesAtExit=") and str(old) not in record
    assert not old.exists()
    assert all(other.exists() for other in neighbours)


def test_a_new_jdk_build_changes_the_fingerprint(runtime, jars):
    before = jvm.fingerprint(runtime, f"{jars}/*")
    libjvm = runtime.parent.parent / "lib" / "server" / "libjvm.so"
    libjvm.write_bytes(b"an updated jvm")
    os.utime(libjvm, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert jvm.fingerprint(runtime, f"{jars}/*") != before


def test_java_25_uses_the_aot_cache(tmp_path, runtime, jars):
    (runtime.parent.parent / "release").write_text('JAVA_VERSION="25.0.2"\n')
    assert jvm.java_major(runtime) == 25
    [record] = jvm.class_sharing(tmp_path, "nifi", runtime, f"{jars}/*")
    assert record.startswith("-XX:AOTCacheOutput=")
    Path(record.split("=", 1)[1]).write_bytes((0xF00BABA2).to_bytes(4, "little"))
    assert jvm.class_sharing(tmp_path, "nifi", runtime, f"{jars}/*")[0].startswith("-XX:AOTCache=")


def test_a_jvm_that_is_killed_rather_than_stopped_records_on_request(tmp_path, runtime, jars):
    assert jvm.class_sharing(tmp_path, "score-stream-executor", runtime, f"{jars}/*", on_request=True) == [
        "-XX:+RecordDynamicDumpInfo"
    ]


def test_java_command_without_an_archive_folder_shares_nothing(runtime, jars):
    command = jvm.java_command(runtime.parent.parent, "256m", f"{jars}/*", ["-Dx=1"], share_classes=(None, "kafka"))
    assert not any("Archive" in part or "AOT" in part for part in command)
    assert command[-2:] == ["-cp", f"{jars}/*"]


@pytest.mark.slow
def test_the_real_jvm_records_an_archive_as_it_stops_and_maps_it_next_time(tmp_path):
    """Java 17's own answer: the archive written at a SIGTERM is complete and the next JVM maps it."""
    java = Path(jvm.java_home(get_settings())) / "bin" / "java"
    source = tmp_path / "Wait.java"
    source.write_text("public class Wait { public static void main(String[] a) throws Exception {"
                      " Thread.sleep(60000); } }")  # fmt: skip
    subprocess.run([str(java.parent / "javac"), "-d", str(tmp_path), str(source)], check=True)
    class_path = str(tmp_path / "classes.jar")
    subprocess.run([str(java.parent / "jar"), "cf", class_path, "-C", str(tmp_path), "Wait.class"], check=True)

    def run_until_stopped(options: list[str]) -> str:
        """The JVM's memory map while it ran."""
        process = subprocess.Popen([str(java), *options, "-cp", class_path, "Wait"])
        time.sleep(1.5)
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        process.terminate()
        process.wait(60)
        return maps

    first = jvm.class_sharing(tmp_path / "cds", "wait", java, class_path)
    run_until_stopped(first)
    archive = jvm.class_archive(tmp_path / "cds", "wait", java, class_path)
    assert jvm.complete_archive(archive)
    second = jvm.class_sharing(tmp_path / "cds", "wait", java, class_path)
    assert second == [f"-XX:SharedArchiveFile={archive}"]
    assert str(archive) in run_until_stopped(second), "the JVM did not map its archive"


def test_an_orphan_zombie_counts_as_gone():
    """A killed service's children are reaped by init, which may take its time: nothing waits for it."""
    parent = subprocess.Popen(["bash", "-c", "sleep 60 & sleep 60 & wait"], start_new_session=True)
    time.sleep(0.3)
    children = psutil.Process(parent.pid).children()
    parent.kill()
    parent.wait()
    started = time.monotonic()
    for child in children:
        child.kill()
    assert wait_gone(children, timeout=10) == []
    assert time.monotonic() - started < 1.0
