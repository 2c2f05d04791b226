"""Helpers for the JVM services: a classpath from a Maven-resolved jar folder, heap options."""

from __future__ import annotations

from pathlib import Path

from flightdelay.embedded.base import NotInstalledError
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


def jar_dir(settings: Settings, module: str) -> Path:
    """The runtime jars of one module of java/pom.xml, copied there by `make jars`."""
    path = settings.build_dir / "jars" / module
    if not path.is_dir() or not any(path.glob("*.jar")):
        raise NotInstalledError(f"{path} has no jars: run `make install` (resolves java/{module}/pom.xml)")
    return path


def classpath(*entries: Path) -> str:
    parts = []
    for entry in entries:
        parts.append(f"{entry}/*" if entry.is_dir() and any(entry.glob("*.jar")) else str(entry))
    return ":".join(parts)


def heap(size: str) -> list[str]:
    return [f"-Xms{size}", f"-Xmx{size}", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
