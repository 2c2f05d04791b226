"""Generated configuration: loopback binding, replication 1, secrets kept private."""

from __future__ import annotations

import json
import stat
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from flightdelay.embedded.airflow import AirflowScheduler, AirflowTriggerer, airflow_environment
from flightdelay.embedded.ferretdb import FerretDB
from flightdelay.embedded.hdfs import DataNode, NameNode
from flightdelay.embedded.kafka import Kafka
from flightdelay.embedded.spark import SparkMaster
from flightdelay.ops import hdfs as ops_hdfs
from flightdelay.ops.hdfs import CLIENT_CONFIG
from flightdelay.ops.jvm import idle_heap_options
from flightdelay.ops.scorer import ScoreStream
from flightdelay.settings import Settings
from flightdelay.store import postgres


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    for name in ("AIRFLOW_PASSWORD", "MONGO_USER", "MONGO_PASSWORD", "MONGO_AUTH_MECHANISM", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def site_properties(path) -> dict[str, str]:
    return {p.findtext("name"): p.findtext("value") for p in ET.parse(path).getroot()}


def test_kafka_listens_on_loopback_and_never_auto_creates_topics(settings):
    props = dict(
        line.split("=", 1) for line in Kafka(settings).server_properties().splitlines() if "=" in line
    )
    # (listener names are the Kafka service's business: SASL renames the client one)
    listeners = dict(entry.split("://") for entry in props["listeners"].split(","))
    assert sorted(listeners.values()) == ["127.0.0.1:9092", "127.0.0.1:9093"]
    assert listeners["CONTROLLER"] == "127.0.0.1:9093"
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"


def test_hdfs_binds_loopback_with_replication_one(settings):
    node = NameNode(settings)
    node.write_config()
    root = ET.parse(node.conf_dir / "hdfs-site.xml").getroot()
    props = {p.findtext("name"): p.findtext("value") for p in root}
    assert props["dfs.replication"] == "1"
    assert props["dfs.webhdfs.enabled"] == "true"
    assert props["dfs.namenode.http-address"] == "127.0.0.1:9870"
    assert props["dfs.datanode.address"] == "127.0.0.1:9866"
    assert props["dfs.datanode.hostname"] == "127.0.0.1"


def test_airflow_secrets_are_generated_once_and_private(settings):
    env = airflow_environment(settings)
    secrets_file = settings.secrets_dir / "airflow.json"
    passwords_file = settings.secrets_dir / "airflow-passwords.json"
    for path in (secrets_file, passwords_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(secrets_file.read_text())
    assert json.loads(passwords_file.read_text()) == {"admin": stored["password"]}
    assert len(stored["password"]) >= 12
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == stored["jwt_secret"]
    # a second call reuses what the first generated
    assert airflow_environment(settings)["AIRFLOW__CORE__FERNET_KEY"] == env["AIRFLOW__CORE__FERNET_KEY"]


def test_airflow_connections_come_from_settings(settings):
    env = airflow_environment(settings)
    spark = json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"])
    assert (spark["host"], spark["port"]) == ("spark://127.0.0.1", 7077)
    kafka = json.loads(env["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert kafka["extra"]["bootstrap.servers"] == "127.0.0.1:9092"
    # the canary sensor's own group: it never scans the response topic from its start (the DAG
    # commits the group at the topic's end before each canary) and logs in like every client
    canary = json.loads(env["AIRFLOW_CONN_KAFKA_CANARY"])["extra"]
    assert (canary["group.id"], canary["enable.auto.commit"]) == ("airflow-canary", False)
    assert canary["sasl.mechanism"] == "SCRAM-SHA-256" and canary["sasl.username"] == kafka["extra"]["sasl.username"]
    mongo = json.loads(env["AIRFLOW_CONN_MONGO_DEFAULT"])
    assert (mongo["host"], mongo["port"], mongo["schema"]) == ("127.0.0.1", 27017, "agile_data_science")
    webhdfs = json.loads(env["AIRFLOW_CONN_WEBHDFS_DEFAULT"])
    assert (webhdfs["host"], webhdfs["port"]) == ("127.0.0.1", 9870)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"


# --- logins on loopback (issue #12, part 7) -----------------------------------------------------------
def test_mongo_uri_logs_in_as_the_ferretdb_role_with_its_generated_password(settings):
    assert settings.mongo_login is None  # nothing generated yet: no login to offer
    secret = postgres.passwords(settings)[postgres.FERRETDB]
    uri = urlsplit(settings.mongo_uri)
    assert (uri.hostname, uri.port, uri.username) == ("127.0.0.1", 27017, "ferretdb")
    assert uri.password == secret
    assert parse_qs(uri.query) == {"authMechanism": ["PLAIN"], "authSource": ["$external"]}
    assert secret not in repr(settings)


def test_a_configured_mongo_password_is_the_ferretdb_roles(settings, monkeypatch):
    monkeypatch.setenv("MONGO_PASSWORD", "given:p@ss/word")
    configured = Settings()
    assert postgres.passwords(configured)[postgres.FERRETDB] == "given:p@ss/word"
    uri = urlsplit(configured.mongo_uri)
    assert uri.password == "given%3Ap%40ss%2Fword"  # quoted, so the URI still parses
    assert "given" not in repr(configured)


def test_compose_style_mongo_login_uses_scram_against_admin(settings, monkeypatch):
    monkeypatch.setenv("MONGO_USER", "flightdelay")
    monkeypatch.setenv("MONGO_PASSWORD", "from-dot-env")
    monkeypatch.setenv("MONGO_AUTH_MECHANISM", "SCRAM-SHA-256")
    query = parse_qs(urlsplit(Settings().mongo_uri).query)
    assert query == {"authMechanism": ["SCRAM-SHA-256"], "authSource": ["admin"]}


def test_ferretdb_gets_a_postgresql_url_without_any_login(settings):
    env = FerretDB(settings).environment()
    url = urlsplit(env["FERRETDB_POSTGRESQL_URL"])
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", 5432, "/ferretdb")
    assert url.username is None and url.password is None and "password" not in url.query
    assert not any(postgres.passwords(settings)[role] in " ".join(FerretDB(settings).command()) for role in postgres.ROLES)


def test_airflow_mongo_connection_logs_in(settings):
    postgres.passwords(settings)
    mongo = json.loads(airflow_environment(settings)["AIRFLOW_CONN_MONGO_DEFAULT"])
    assert mongo["login"] == "ferretdb"
    assert mongo["password"] == postgres.passwords(settings)[postgres.FERRETDB]
    assert mongo["extra"] == {"authMechanism": "PLAIN", "authSource": "$external"}


def test_airflow_starts_no_log_server(settings):
    # Airflow 3.3's serve-logs binds every interface; the api-server reads the shared log folder
    for component in (AirflowScheduler(settings), AirflowTriggerer(settings)):
        assert "--skip-serve-logs" in component.command()


def test_hdfs_permissions_on_and_anonymous_web_users_unprivileged(settings):
    node = NameNode(settings)
    node.write_config()
    hdfs_site = site_properties(node.conf_dir / "hdfs-site.xml")
    core_site = site_properties(node.conf_dir / "core-site.xml")
    assert hdfs_site["dfs.permissions.enabled"] == "true"
    assert core_site["hadoop.http.staticuser.user"] == "dr.who"
    assert node.environment()["HADOOP_USER_NAME"] == settings.hdfs_user  # the daemons' user: the superuser


def test_spark_applications_write_hdfs_with_the_clusters_replication(settings):
    SparkMaster(settings).prepare()
    conf = settings.var_dir / "spark" / "conf" / "spark-defaults.conf"
    defaults = dict(line.split(None, 1) for line in conf.read_text().splitlines())
    assert defaults["spark.hadoop.dfs.replication"] == "1"
    node = NameNode(settings)
    node.write_config()
    assert site_properties(node.conf_dir / "hdfs-site.xml")["dfs.replication"] == CLIENT_CONFIG["dfs.replication"] == "1"


def test_datanode_probe_asks_the_datanode_itself(settings, monkeypatch):
    beans = {}
    asked = []

    def datanode_jmx(settings, query):
        asked.append(("datanode", query))
        return beans

    node = DataNode(settings)
    monkeypatch.setattr(ops_hdfs, "datanode_jmx", datanode_jmx)
    monkeypatch.setattr(ops_hdfs, "namenode_jmx", lambda settings, query: {"Safemode": ""})
    assert "not registered" in node.probe()
    actor = {"ActorState": "RUNNING", "BlockPoolID": "BP-1", "LastHeartbeatResponseTime": "1"}
    beans.update(BPServiceActorInfo=json.dumps([actor]), NamenodeAddresses=json.dumps({"localhost": "BP-1"}))
    assert node.probe() is None
    actor["LastHeartbeatResponseTime"] = "42"
    beans["BPServiceActorInfo"] = json.dumps([actor])
    assert "42s ago" in node.probe()
    actor.update(ActorState="CONNECTING", LastHeartbeatResponseTime="1")
    beans["BPServiceActorInfo"] = json.dumps([actor])
    assert "not registered" in node.probe()
    assert asked and all(q == "Hadoop:service=DataNode,name=DataNodeInfo" for _, q in asked)


def test_generated_secrets_and_their_folder_are_private(settings):
    settings.secrets_dir.mkdir(mode=0o755)  # as an older version left it
    postgres.passwords(settings)
    airflow_environment(settings)
    assert stat.S_IMODE(settings.secrets_dir.stat().st_mode) == 0o700
    files = list(settings.secrets_dir.iterdir())
    assert {f.name for f in files} >= {"postgres.json", "airflow.json", "airflow-passwords.json"}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_airflow_migrates_only_a_schema_it_has_not_migrated(settings, monkeypatch):
    from flightdelay.embedded import airflow

    server = airflow.AirflowApiServer(settings)
    server.home.mkdir(parents=True, exist_ok=True)
    revision = {"now": "d2f4e1b3c5a7"}
    monkeypatch.setattr(server, "_schema_revision", lambda: revision["now"])
    assert not server._schema_is_current()  # never migrated here
    server._migrated_file.write_text(json.dumps({"airflow": airflow._airflow_version(), "revision": "d2f4e1b3c5a7"}))
    assert server._schema_is_current()
    revision["now"] = None  # the database was wiped
    assert not server._schema_is_current()
    revision["now"] = "d2f4e1b3c5a7"
    monkeypatch.setattr(airflow, "_airflow_version", lambda: "9.9.9")  # a new Airflow in the lock
    assert not server._schema_is_current()


def test_hdfs_daemons_read_their_config_from_a_jar_rewritten_only_when_it_changes(settings):
    node = NameNode(settings)
    node.write_config()
    with zipfile.ZipFile(node.conf_jar) as jar:
        assert sorted(jar.namelist()) == ["core-site.xml", "hdfs-site.xml", "log4j.properties"]
        assert jar.read("hdfs-site.xml") == (node.conf_dir / "hdfs-site.xml").read_bytes()
    written = node.conf_jar.stat().st_mtime_ns
    time.sleep(0.01)
    DataNode(settings).write_config()  # the same config: the class archives' fingerprint must hold
    assert node.conf_jar.stat().st_mtime_ns == written
    class_path = node.java()[node.java().index("-cp") + 1]
    assert class_path.split(":")[0] == str(node.conf_jar), "a folder on the classpath would refuse class sharing"


def test_jvm_services_share_their_classes_unless_turned_off(settings, monkeypatch):
    node = NameNode(settings)
    node.write_config()
    assert any(o.startswith("-XX:ArchiveClassesAtExit=") for o in node.command())
    assert not any("Archive" in o for o in node.java()), "a one-off command (the format) must not record"
    assert any(o.startswith("-XX:ArchiveClassesAtExit=") for o in Kafka(settings).command())
    monkeypatch.setenv("JVM_CLASS_SHARING", "off")
    off = Settings()
    assert not any("Archive" in o for o in Kafka(off).command())
    scorer = ScoreStream(off)  # compose: the config folder stays on the classpath, as before
    assert scorer.environment()["SPARK_CONF_DIR"] == str(off.var_dir / "spark" / "conf")
    assert not any("Archive" in o for o in scorer.command())


def test_the_scorers_jvms_give_their_heap_back_when_idle(settings):
    """Spark sets their -Xmx; G1's idle options let the driver and executor shrink after a burst."""
    command = ScoreStream(settings).command()
    driver = command[command.index("--driver-java-options") + 1].split()
    executor = next(o for o in command if o.startswith("spark.executor.extraJavaOptions=")).split("=", 1)[1].split()
    for options in (driver, executor):
        assert set(idle_heap_options()) <= set(options)
        assert not any(o.startswith(("-Xmx", "-Xms")) for o in options)  # spark-submit refuses them


def test_spark_daemons_and_the_scorer_get_an_empty_classpath_folder_and_name_their_config(settings):
    master = SparkMaster(settings)
    master.prepare()
    environment = master.environment()
    empty = Path(environment["SPARK_CONF_DIR"])
    assert empty.is_dir() and not any(empty.iterdir())
    log_config = settings.var_dir / "spark" / "conf" / "log4j2.properties"
    assert f"-Dlog4j2.configurationFile={log_config}" in environment["SPARK_DAEMON_JAVA_OPTS"]
    assert "-XX:ArchiveClassesAtExit=" in environment["SPARK_DAEMON_JAVA_OPTS"]

    scorer = ScoreStream(settings)
    assert scorer.environment()["SPARK_CONF_DIR"] == str(empty)
    command = scorer.command()
    defaults = settings.var_dir / "spark" / "conf" / "spark-defaults.conf"
    assert command[command.index("--properties-file") + 1] == str(defaults)
    assert "-XX:ArchiveClassesAtExit=" in command[command.index("--driver-java-options") + 1]
    # the worker kills an executor before it could write its archive at exit: it dumps on request
    assert "spark.executor.extraJavaOptions=" in " ".join(command)
    assert "-XX:+RecordDynamicDumpInfo" in " ".join(command)
