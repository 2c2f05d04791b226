"""The one way the platform builds a JVM's command line: which java, heap, classpath, options.

Kafka, the HDFS NameNode and DataNode and NiFi run as plain ``java`` processes built here (the Spark
daemons start through pyspark's spark-class, which reads SPARK_DAEMON_MEMORY instead).

Class-data sharing: a JVM service maps the classes it loaded last time from an archive instead of
finding, parsing and verifying them again; on two busy cores that is most of a JVM's start. The
scorer's driver, measured: started in 18-20 s without, 10-12 s with, on 40 % less CPU. The first
start records the archive, which the JVM writes as it stops gracefully (`down`, a redeploy); every
later start maps it. The archive's name carries a fingerprint of the java and the classpath, so an
upgraded jar or JDK records a new archive rather than having the old one refused. The JVM refuses a
classpath holding a non-empty folder, so a service that shares its classes names its config files
by path (``-D...configurationFile``) instead of putting their folder on the classpath.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from flightdelay.ops.errors import NotInstalledError
from flightdelay.settings import Settings

# Hadoop reflects into JDK internals that Java 17 closes by default.
JAVA17_OPENS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
]

# A JVM service starts small and gives memory back when idle, up to its maximum heap: G1 grows the
# heap on demand, keeps at most 30 % of it free after a collection, and an idle JVM runs a
# concurrent collection every 2 minutes that returns unused heap to the system. (With -Xms equal
# to -Xmx, the heap only ever grew to its maximum and stayed there.)
INITIAL_HEAP = "64m"
IDLE_GC_MILLIS = 120_000


def java_home(settings: Settings) -> str:
    """The JDK 17 of JAVA_HOME, else the one of the ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return home
    java = shutil.which("java")
    if not java:
        raise NotInstalledError("no java on PATH and JAVA_HOME unset: install a JDK 17")
    return str(Path(os.path.realpath(java)).parent.parent)


def jar_dir(settings: Settings, module: str) -> Path:
    """The runtime jars of one module of java/pom.xml, copied there by `make jars`."""
    path = settings.build_dir / "jars" / module
    if not path.is_dir() or not any(path.glob("*.jar")):
        raise NotInstalledError(f"{path} has no jars: run `make install` (resolves java/{module}/pom.xml)")
    return path


def classpath(*entries: Path) -> str:
    """A folder of jars becomes ``folder/*``; anything else (a config folder) is taken as it is."""
    parts = []
    for entry in entries:
        parts.append(f"{entry}/*" if entry.is_dir() and any(entry.glob("*.jar")) else str(entry))
    return ":".join(parts)


def heap(size: str) -> list[str]:
    """Heap options for a JVM service whose heap may grow to ``size`` (e.g. "512m")."""
    return [f"-Xms{INITIAL_HEAP}", f"-Xmx{size}", *idle_heap_options(), "-Djava.awt.headless=true"]


def idle_heap_options() -> list[str]:
    """G1 keeping the heap near what is used and returning it when idle (above), for JVMs whose
    heap size is set elsewhere (Spark's driver and executors get -Xmx from spark-submit)."""
    return ["-XX:+UseG1GC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
            f"-XX:G1PeriodicGCInterval={IDLE_GC_MILLIS}"]  # fmt: skip


def java_command(java_home: Path | str, max_heap: str, class_path: str, options: Sequence[str] = (),
                 share_classes: tuple[Path | None, str] | None = None) -> list[str]:
    """``java`` of ``java_home`` with the heap options, ``options`` and the classpath; the caller
    appends the main class and its arguments. ``share_classes`` = (folder, name) maps or records
    that service's class archive (see class_sharing); a folder of None means sharing is off."""
    java = Path(java_home) / "bin" / "java"
    sharing = class_sharing(*share_classes, java, class_path) if share_classes and share_classes[0] else []
    return [str(java), *heap(max_heap), *options, *sharing, "-cp", class_path]


# the first four bytes of a complete archive: a dynamic one (JDK 17's ArchiveClassesAtExit) and a
# static one (JDK 25's AOT cache); the JVM writes the header last, so a dump cut short has neither
ARCHIVE_MAGICS = (0xF00BABA8, 0xF00BABA2)
FINGERPRINT_CHARS = 12


def java_major(java: Path | str) -> int:
    """The feature version of a ``bin/java`` (17, 25, ...), from its runtime's ``release`` file."""
    release = Path(os.path.realpath(java)).parent.parent / "release"
    match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text() if release.exists() else "", re.MULTILINE)
    return int(match.group(1)) if match else 17


def _class_path_files(class_path: str) -> list[Path]:
    files = []
    for entry in class_path.split(":"):
        folder = Path(entry[:-2]) if entry.endswith("/*") else None
        files.extend(sorted(folder.glob("*.jar")) if folder else [Path(entry)])
    return files


def fingerprint(java: Path | str, class_path: str) -> str:
    """What an archive depends on: the runtime (its JVM and base archive) and every classpath file."""
    runtime = Path(os.path.realpath(java)).parent.parent
    digest = hashlib.sha256(str(runtime).encode())
    server = runtime / "lib" / "server"
    watched = [runtime / "release", server / "libjvm.so", server / "classes.jsa"]
    for path in [*watched, *_class_path_files(class_path)]:
        stat = path.stat() if path.exists() else None
        digest.update(f"{path}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def complete_archive(path: Path) -> bool:
    try:
        with path.open("rb") as archive:
            return int.from_bytes(archive.read(4), "little") in ARCHIVE_MAGICS
    except OSError:
        return False


def class_archive(folder: Path, name: str, java: Path | str, class_path: str) -> Path:
    return folder / f"{name}-{fingerprint(java, class_path)}.jsa"


def class_sharing(folder: Path, name: str, java: Path | str, class_path: str, on_request: bool = False) -> list[str]:
    """JVM options that map ``name``'s class archive in ``folder``, or record it when there is none
    yet for this java and classpath (older archives of ``name`` are removed then): at exit, or with
    ``on_request`` when dump_classes asks (JDK 17), for a JVM that is killed rather than stopped."""
    archive = class_archive(folder, name, java, class_path)
    aot = java_major(java) >= 25  # JDK 25's AOT cache; its runtime from PyPI has no base archive
    if complete_archive(archive):
        return [f"-XX:AOTCache={archive}" if aot else f"-XX:SharedArchiveFile={archive}"]
    folder.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{{FINGERPRINT_CHARS}}}\.jsa")
    for old in folder.iterdir():
        if pattern.fullmatch(old.name):
            old.unlink(missing_ok=True)
    if on_request:
        return [] if aot else ["-XX:+RecordDynamicDumpInfo"]
    return [f"-XX:AOTCacheOutput={archive}" if aot else f"-XX:ArchiveClassesAtExit={archive}"]


def dump_classes(pid: int, java: Path | str, archive: Path) -> str:
    """Have the running JVM ``pid`` (started with -XX:+RecordDynamicDumpInfo) write the archive of
    the classes it has loaded; jcmd's answer."""
    jcmd = Path(java).parent / "jcmd"
    done = subprocess.run([str(jcmd), str(pid), "VM.cds", "dynamic_dump", str(archive)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    return (done.stdout + done.stderr).strip()
