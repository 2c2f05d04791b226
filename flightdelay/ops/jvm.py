"""The one way the platform builds a JVM's command line: which java, heap, classpath, options.

Kafka, the HDFS NameNode and DataNode and NiFi run as plain ``java`` processes built here (the Spark
daemons start through pyspark's spark-class, which reads SPARK_DAEMON_MEMORY instead).
"""

from __future__ import annotations

import os
import shutil
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
    return [
        f"-Xms{INITIAL_HEAP}",
        f"-Xmx{size}",
        "-XX:+UseG1GC",
        "-XX:MinHeapFreeRatio=10",
        "-XX:MaxHeapFreeRatio=30",
        f"-XX:G1PeriodicGCInterval={IDLE_GC_MILLIS}",
        "-Djava.awt.headless=true",
    ]


def java_command(java_home: Path | str, max_heap: str, class_path: str, options: Sequence[str] = ()) -> list[str]:
    """``java`` of ``java_home`` with the heap options, ``options`` and the classpath; the caller
    appends the main class and its arguments."""
    return [str(Path(java_home) / "bin" / "java"), *heap(max_heap), *options, "-cp", class_path]
