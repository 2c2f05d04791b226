"""Logins on loopback (issue #12, part 7, Kafka aside), checked against the running platform.

- MongoDB (FerretDB on PostgreSQL): a client without valid credentials can neither read nor write;
  every platform client logs in through ``Settings.mongo_uri`` (PLAIN, handed to PostgreSQL);
  FerretDB's own PostgreSQL URL holds no password.
- HDFS with permissions on: the platform's user owns its folders, another user name cannot
  overwrite them; files are written with the one DataNode's replication.
- The DataNode's health comes from the DataNode itself, not from the NameNode's stale count.
- Every listening socket of every platform process is on loopback.
- Secrets, databases and their folders are their owner's only; no secret on a command line or in a log.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
import requests
from hdfs import InsecureClient
from hdfs.util import HdfsError
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from flightdelay.embedded.ferretdb import FerretDB
from flightdelay.embedded.hdfs import DataNode
from flightdelay.ops.hdfs import namenode_jmx
from flightdelay.settings import Settings
from flightdelay.waiting import WaitTimeout, wait_until

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def secrets(settings: Settings) -> dict[str, str]:
    """Every generated secret of var/secrets, by where it comes from (file:key)."""
    found = {}
    for path in sorted(settings.secrets_dir.glob("*.json")):
        for key, value in json.loads(path.read_text()).items():
            if isinstance(value, str) and len(value) >= 8:
                found[f"{path.name}:{key}"] = value
    return found


def platform_processes() -> list[psutil.Process]:
    """The processes of every running service (`flightdelay status --json`) and their children."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flightdelay"), "status", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(result.stdout)  # (it exits non-zero while a service is unhealthy)
    rows = report["services"] if isinstance(report, dict) else report
    processes = []
    for row in rows:
        if not row.get("pid"):
            continue
        try:
            parent = psutil.Process(row["pid"])
            processes += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    assert len({r["name"] for r in rows if r.get("pid")}) >= 10, "most of the platform should be running"
    return processes


# --- MongoDB ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def db(settings):
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=10_000) as client:
        yield client[settings.mongo_database]


@pytest.mark.parametrize("login", ["none", "wrong password", "unknown user"])
def test_mongo_refuses_clients_without_valid_credentials(settings, db, login):
    if settings.mongo_backend != "postgresql":
        pytest.skip("FerretDB checks logins only on PostgreSQL")
    address = f"{settings.mongo_host}:{settings.mongo_port}"
    uri = {
        "none": f"mongodb://{address}/",
        "wrong password": f"mongodb://{settings.mongo_user}:not-the-password@{address}/?authMechanism=PLAIN",
        "unknown user": f"mongodb://mallory:mallory@{address}/?authMechanism=PLAIN",
    }[login]
    registry = settings.model_registry_collection
    before = list(db[registry].find({}, sort=[("_id", 1)]))
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as intruder:
        target = intruder[settings.mongo_database]
        with pytest.raises(OperationFailure):
            target[registry].find_one()
        with pytest.raises(OperationFailure):
            target[registry].update_many({}, {"$set": {"status": "rewritten by an intruder"}})
        with pytest.raises(OperationFailure):
            target[registry].insert_one({"version": "intruder"})
        with pytest.raises(OperationFailure):
            target[registry].delete_many({})
        with pytest.raises(OperationFailure):
            intruder.list_database_names()
    assert list(db[registry].find({}, sort=[("_id", 1)])) == before


def test_platform_clients_log_in_through_the_settings(settings, db):
    # (no assertion shows the URI: a failure would print its password)
    query = parse_qs(urlsplit(settings.mongo_uri).query)
    assert urlsplit(settings.mongo_uri).username == settings.mongo_user == "ferretdb"
    assert query == {"authMechanism": ["PLAIN"], "authSource": ["$external"]}
    scratch = db[f"security_{uuid.uuid4().hex[:8]}"]
    try:
        scratch.insert_one({"_id": "probe", "ok": True})
        assert scratch.find_one({"_id": "probe"}) == {"_id": "probe", "ok": True}
    finally:
        scratch.drop()


def test_airflow_mongo_connection_logs_in(settings, monkeypatch):
    """The DAGs' MongoHook (mongo_default, as the Airflow components get it) reaches the data."""
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from flightdelay.ops.airflow import connections

    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DEFAULT", connections(settings)["AIRFLOW_CONN_MONGO_DEFAULT"])
    hook = MongoHook(mongo_conn_id="mongo_default")
    try:
        names = hook.get_conn()[settings.mongo_database].list_collection_names()
    finally:
        hook.close()
    assert settings.model_registry_collection in names


def test_ferretdb_holds_no_password(settings):
    pid = FerretDB(settings).pid()
    assert pid is not None
    proc = psutil.Process(pid)
    environ = proc.environ()
    url = environ["FERRETDB_POSTGRESQL_URL"]
    has_login = "@" in url or "password" in url  # (not shown: a failure would print the password)
    assert not has_login, "FerretDB's base URL would log anonymous clients in"
    assert "PGPASSWORD" not in environ
    values = secrets(settings).values()
    shown = any(value in url or value in " ".join(proc.cmdline()) for value in values)
    assert not shown, "a generated secret in FerretDB's URL or command line"


# --- HDFS ---------------------------------------------------------------------------------------------
def platform_folders(settings: Settings) -> list[str]:
    return [settings.hdfs_models_path, settings.hdfs_checkpoints_path, settings.hdfs_predictions_path]


def test_platform_user_owns_its_folders(settings):
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    for folder in ["/models", *platform_folders(settings)]:
        status = client.status(folder)
        assert (status["owner"], status["permission"]) == (settings.hdfs_user, "755"), folder
    assert client.status("/tmp")["permission"] == "1777"


@pytest.mark.parametrize("intruder", ["mallory", getpass.getuser()])  # any name, the OS user's too
def test_another_user_cannot_overwrite_the_platforms_files(settings, intruder):
    assert intruder != settings.hdfs_user
    owner = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    other = InsecureClient(settings.webhdfs_url, user=intruder)
    for folder in platform_folders(settings):
        path = f"{folder}/.security-probe-{uuid.uuid4().hex}"
        owner.write(path, data="the platform's\n", encoding="utf-8")
        try:
            attempts = {
                "overwrite": lambda: other.write(path, data="overwritten\n", encoding="utf-8", overwrite=True),
                "append": lambda: other.write(path, data="appended\n", encoding="utf-8", append=True),
                "new file": lambda: other.write(f"{path}.new", data="planted\n", encoding="utf-8"),
                "delete": lambda: other.delete(path),
                "rename": lambda: other.rename(path, f"{path}.moved"),
                "mkdir": lambda: other.makedirs(f"{folder}/planted-{uuid.uuid4().hex}"),
                "chmod": lambda: other.set_permission(path, "777"),
            }
            for what, attempt in attempts.items():
                with pytest.raises(HdfsError, match="[Pp]ermission denied"):
                    attempt()
                    pytest.fail(f"{intruder} could {what} in {folder}")
            with owner.read(path, encoding="utf-8") as reader:
                assert reader.read() == "the platform's\n"
        finally:
            owner.delete(path)


def test_a_web_request_naming_no_user_cannot_write_either(settings):
    """Without user.name, WebHDFS acts as Hadoop's unprivileged dr.who, not as the platform."""
    owner = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    api = f"{settings.webhdfs_url}/webhdfs/v1"
    for folder in platform_folders(settings):
        path = f"{folder}/.security-probe-{uuid.uuid4().hex}"
        owner.write(path, data="the platform's\n", encoding="utf-8")
        try:
            # CREATE: the NameNode redirects to the DataNode, which creates the file as the caller
            redirect = requests.put(
                f"{api}{path}", params={"op": "CREATE", "overwrite": "true"}, allow_redirects=False, timeout=10
            )
            assert redirect.status_code == 307
            attempts = {
                "overwrite": requests.put(redirect.headers["Location"], data=b"overwritten\n", timeout=10),
                "delete": requests.delete(f"{api}{path}", params={"op": "DELETE"}, timeout=10),
                "mkdir": requests.put(f"{api}{folder}/planted-{uuid.uuid4().hex}", params={"op": "MKDIRS"}, timeout=10),
            }
            assert {what: reply.status_code for what, reply in attempts.items()} == dict.fromkeys(attempts, 403), folder
            assert all("dr.who" in reply.text for reply in attempts.values())
            assert owner.status(path)["length"] == len("the platform's\n")
        finally:
            owner.delete(path)


def fsck(settings: Settings, path: str) -> dict[str, int]:
    """The NameNode's fsck report for ``path``: block counts by kind."""
    reply = requests.get(
        f"{settings.webhdfs_url}/fsck",
        params={"ugi": settings.hdfs_user, "user.name": settings.hdfs_user, "path": path},
        timeout=60,
    )
    reply.raise_for_status()
    counts = {}
    for name in ("Total blocks (validated)", "Under-replicated blocks", "Missing blocks", "Corrupt blocks"):
        match = re.search(rf"^\s*{re.escape(name)}:\s*(\d+)", reply.text, re.M)
        assert match, f"no {name!r} in fsck's report:\n{reply.text[-2000:]}"
        counts[name] = int(match.group(1))
    return counts


def test_new_files_get_the_clusters_replication(settings, cluster_job):
    """A WebHDFS writer (NiFi, the hdfs package) and a Spark application as the platform submits
    it (the shared cluster job's output: parquet and three JSON parts)."""
    assert cluster_job["result"].returncode == 0, cluster_job["result"].stderr[-3000:]
    folder = cluster_job["folder"]
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    client.write(f"{folder}/webhdfs.txt", data="one\n", encoding="utf-8")
    files = [
        (f"{root[0]}/{name}", status["replication"])
        for root, _, entries in client.walk(folder, status=True)
        for name, status in entries
    ]
    assert len([f for f, _ in files if "/spark/part-" in f]) >= 3
    assert [f for f, replication in files if replication != 1] == []
    report = fsck(settings, folder)
    assert report["Total blocks (validated)"] >= 4
    assert report["Under-replicated blocks"] == 0


def test_the_platforms_own_files_are_not_under_replicated(settings):
    for folder in platform_folders(settings) + [settings.nifi_hdfs_path]:
        report = fsck(settings, folder)
        assert report["Under-replicated blocks"] == 0, folder
        assert report["Missing blocks"] == report["Corrupt blocks"] == 0, folder


# --- the DataNode's health ------------------------------------------------------------------------------
def test_datanode_health_comes_from_the_datanode_itself(settings):
    datanode = DataNode(settings)
    pid = datanode.pid()
    assert pid is not None and datanode.health() is None
    os.kill(pid, signal.SIGSTOP)  # frozen: it answers nothing, while the NameNode still counts it live
    try:
        problem = datanode.health()
        live = namenode_jmx(settings, "Hadoop:service=NameNode,name=FSNamesystemState").get("NumLiveDataNodes")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert problem is not None
    assert live == 1, "the NameNode's count alone would have called it healthy"
    with contextlib.suppress(WaitTimeout):  # the assert below says it
        wait_until(datanode.health, "the DataNode to answer again", timeout=30, interval=1)
    assert datanode.health() is None


# --- listeners ----------------------------------------------------------------------------------------
def test_every_listening_socket_is_on_loopback():
    listeners = []
    for proc in platform_processes():
        try:
            connections = proc.net_connections(kind="inet")
            name = " ".join(proc.cmdline()[:3])[:120]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        listeners += [(name, c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN]
        # a UDP socket has no LISTEN state: bound and not connected, it receives from anyone
        listeners += [
            (name, c.laddr.ip, c.laddr.port) for c in connections if c.type == socket.SOCK_DGRAM and not c.raddr
        ]
    assert listeners, "no listening socket found: is the platform running?"
    assert [entry for entry in listeners if entry[1] not in LOOPBACK] == []


# --- secrets and databases ------------------------------------------------------------------------------
def test_secrets_and_databases_are_private(settings):
    assert stat.S_IMODE(settings.secrets_dir.stat().st_mode) == 0o700
    files = list(settings.secrets_dir.iterdir())
    assert any(f.name == "postgres.json" for f in files)
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files if stat.S_IMODE(f.stat().st_mode) != 0o600} == {}
    # SQLite files (FerretDB's SQLite store, anything still on SQLite) are their owner's only
    patterns = ("*.db", "*.sqlite", "*.sqlite-*", "*.db-wal", "*.db-shm")
    databases = [p for pattern in patterns for p in settings.var_dir.rglob(pattern)]
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in databases}
    assert {path: oct(mode) for path, mode in modes.items() if mode & 0o077} == {}
    # PostgreSQL's data and the NameNode's namespace are folders only their owner enters
    data_dir = (settings.var_dir / "postgres" / "cluster").resolve() / "data"
    for folder in (data_dir, settings.var_dir / "hdfs" / "name", settings.var_dir / "hdfs" / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_no_secret_on_a_command_line(settings):
    values = secrets(settings)
    shown = set()
    for proc in platform_processes():
        try:
            line = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        shown |= {where for where, value in values.items() if value in line}
    assert shown == set(), f"secrets on command lines: {sorted(shown)}"


def test_no_secret_in_a_log(settings):
    """The services' logs (var/log) and the task logs hold no generated secret."""
    values = secrets(settings)
    pattern = re.compile("|".join(re.escape(v) for v in values.values()).encode())
    logs = [*(settings.var_dir / "log").glob("*.log"), *(settings.var_dir / "airflow" / "logs").rglob("*.log")]
    leaked = {}
    for path in logs:
        with path.open("rb") as handle:
            tail = b""
            while chunk := handle.read(16 << 20):
                match = pattern.search(tail + chunk)
                if match:
                    leaked[str(path.relative_to(settings.var_dir))] = next(
                        where for where, value in values.items() if value.encode() == match.group(0)
                    )
                    break
                tail = chunk[-64:]
    assert leaked == {}, f"secrets in logs (file: which secret): {leaked}"
