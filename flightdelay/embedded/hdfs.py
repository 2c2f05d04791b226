"""HDFS: one NameNode and one DataNode from Maven Central jars (org.apache.hadoop:hadoop-hdfs).

Install: java/hadoop/pom.xml. Config: var/hdfs/conf/{core,hdfs}-site.xml, written at every start.
The NameNode is formatted once (var/hdfs/name/current/VERSION). Replication 1, WebHDFS on. The
DataNode advertises 127.0.0.1 so that WebHDFS redirects and block reads reach it from this host.

Permissions are on. The daemons run as the platform's user (HDFS_USER), which makes it HDFS's
superuser; it owns /models, /checkpoints and /user/predictions (mode 755), and /tmp is open to all
with the sticky bit, as on any Hadoop cluster. Authentication is Hadoop's "simple" kind (a client
names its user), so this keeps other user names from overwriting the platform's files, not a
determined local user. Anonymous web requests act as Hadoop's unprivileged ``dr.who``.

Every client writes with replication 1 (``CLIENT_CONFIG``): the Spark applications get it through
spark-defaults.conf (flightdelay/embedded/spark.py), WebHDFS writers (NiFi, the hdfs package) from
these files.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

import requests

from flightdelay.embedded.base import Service, ServiceError, java_home
from flightdelay.embedded.jvm import JAVA17_OPENS, classpath, heap, jar_dir

LOG4J = """\
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.BlockStateChange=WARN
"""


def _site_xml(props: dict[str, str]) -> str:
    rows = "\n".join(
        f"  <property><name>{escape(k)}</name><value>{escape(str(v))}</value></property>" for k, v in props.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}\n</configuration>\n'


# the first retry of a file's complete() call while its last block is being reported
CLIENT_CLOSE_RETRY_DELAY = ("dfs.client.block.write.locateFollowingBlock.initial.delay.ms", "20")

# What every HDFS client of the platform must use (a client's own configuration decides the
# replication of the files it writes: Hadoop's default of 3 leaves every block under-replicated
# on one DataNode).
CLIENT_CONFIG = {"dfs.replication": "1", CLIENT_CLOSE_RETRY_DELAY[0]: CLIENT_CLOSE_RETRY_DELAY[1]}

# a DataNode whose NameNode has not answered its heartbeat (every 3 s) for this long is not healthy
HEARTBEAT_MAX_AGE_S = 10.0


class _HdfsDaemon(Service):
    """What the NameNode and the DataNode share: the config folder and the JVM command."""

    main_class = ""
    start_timeout = 90.0

    @property
    def home(self) -> Path:
        return self.settings.var_dir / "hdfs"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    def check_installed(self) -> None:
        jar_dir(self.settings, "hadoop")

    def write_config(self) -> None:
        s = self.settings
        host = s.bind_host
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "core-site.xml").write_text(
            _site_xml(
                {
                    "fs.defaultFS": s.hdfs_uri,
                    "hadoop.tmp.dir": str(self.home / "tmp"),
                    # web requests that name no user are not the platform's (Hadoop's default)
                    "hadoop.http.staticuser.user": "dr.who",
                }
            )
        )
        (self.conf_dir / "hdfs-site.xml").write_text(
            _site_xml(
                {
                    **CLIENT_CONFIG,
                    "dfs.permissions.enabled": "true",
                    "dfs.webhdfs.enabled": "true",
                    "dfs.namenode.name.dir": str(self.home / "name"),
                    "dfs.datanode.data.dir": str(self.home / "data"),
                    "dfs.namenode.rpc-address": f"{host}:{s.hdfs_namenode_port}",
                    "dfs.namenode.rpc-bind-host": host,
                    "dfs.namenode.http-address": f"{host}:{s.hdfs_http_port}",
                    "dfs.namenode.http-bind-host": host,
                    "dfs.namenode.servicerpc-bind-host": host,
                    "dfs.datanode.address": f"{host}:{s.hdfs_datanode_port}",
                    "dfs.datanode.http.address": f"{host}:{s.hdfs_datanode_http_port}",
                    "dfs.datanode.ipc.address": f"{host}:{s.hdfs_datanode_ipc_port}",
                    "dfs.datanode.hostname": host,
                    "dfs.namenode.datanode.registration.ip-hostname-check": "false",
                    # one DataNode: leave safe mode as soon as its blocks are reported
                    "dfs.namenode.safemode.extension": "0",
                    "dfs.namenode.safemode.min.datanodes": "1",
                    # small files, one disk: keep the DataNode's reserved space modest
                    "dfs.datanode.du.reserved": str(1 << 30),
                    "dfs.namenode.fs-limits.min-block-size": "1024",
                    # (CLIENT_CONFIG above) closing a file waits for the DataNode's block report;
                    # a writer (WebHDFS runs its writes in the DataNode) first retries after
                    # 400 ms by default, which made every small file take ~450 ms
                }
            )
        )
        (self.conf_dir / "log4j.properties").write_text(LOG4J)

    def java(self) -> list[str]:
        return [
            str(Path(java_home(self.settings)) / "bin" / "java"),
            *heap(self.settings.hdfs_heap),
            *JAVA17_OPENS,
            f"-Dhadoop.log.dir={self.home / 'logs'}",
            "-Dhadoop.root.logger=INFO,console",
            f"-Dhadoop.home.dir={self.home}",
            "-cp",
            classpath(self.conf_dir, jar_dir(self.settings, "hadoop")),
        ]

    def environment(self) -> dict[str, str]:
        return {"HADOOP_CONF_DIR": str(self.conf_dir), "HADOOP_USER_NAME": self.settings.hdfs_user}

    def command(self) -> list[str]:
        return [*self.java(), self.main_class]

    def namenode_jmx(self, query: str) -> dict:
        url = f"{self.settings.webhdfs_url}/jmx"
        beans = requests.get(url, params={"qry": query}, timeout=2).json()["beans"]
        return beans[0] if beans else {}


class NameNode(_HdfsDaemon):
    name = "hdfs-namenode"
    description = "HDFS NameNode (RPC 8020, WebHDFS 9870)"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"

    def ports(self) -> list[int]:
        return [self.settings.hdfs_namenode_port, self.settings.hdfs_http_port]

    def prepare(self) -> None:
        self.write_config()
        if (self.home / "name" / "current" / "VERSION").exists():
            self.keep_private()
            return
        result = subprocess.run(
            [*self.java(), self.main_class, "-format", "-nonInteractive", "-clusterId", "flightdelay"],
            cwd=self.home,
            env={**os.environ, **self.environment()},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ServiceError(f"HDFS NameNode format failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        self.keep_private()

    def keep_private(self) -> None:
        """The namespace (fsimage, edits) is the NameNode's database: its owner's only, as the
        DataNode keeps its blocks (Hadoop makes dfs.datanode.data.dir 0700 itself)."""
        (self.home / "name").chmod(0o700)

    def probe(self) -> str | None:
        url = f"{self.settings.webhdfs_url}/webhdfs/v1/"
        reply = requests.get(url, params={"op": "GETFILESTATUS", "user.name": self.settings.hdfs_user}, timeout=2)
        if reply.status_code != 200:
            return f"WebHDFS answered {reply.status_code}"
        return None


class DataNode(_HdfsDaemon):
    name = "hdfs-datanode"
    description = "HDFS DataNode"
    depends_on = ("hdfs-namenode",)
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"

    def ports(self) -> list[int]:
        s = self.settings
        return [s.hdfs_datanode_port, s.hdfs_datanode_http_port, s.hdfs_datanode_ipc_port]

    def prepare(self) -> None:
        self.write_config()

    def datanode_jmx(self, query: str) -> dict:
        """A bean of this DataNode's own JMX (its HTTP port), not the NameNode's view of it."""
        url = f"http://{self.settings.hdfs_host}:{self.settings.hdfs_datanode_http_port}/jmx"
        beans = requests.get(url, params={"qry": query}, timeout=2).json()["beans"]
        return beans[0] if beans else {}

    def probe(self) -> str | None:
        # The NameNode still counts a killed DataNode as live for minutes: ask the DataNode itself
        # whether it is registered with its NameNode and heard back from it just now.
        info = self.datanode_jmx("Hadoop:service=DataNode,name=DataNodeInfo")
        actors = json.loads(info.get("BPServiceActorInfo") or "[]")
        registered = [a for a in actors if a.get("ActorState") == "RUNNING" and a.get("BlockPoolID")]
        if not registered or not json.loads(info.get("NamenodeAddresses") or "{}"):
            return "the DataNode is not registered with the NameNode yet"
        age = min(float(a.get("LastHeartbeatResponseTime", "inf")) for a in registered)
        if age > HEARTBEAT_MAX_AGE_S:
            return f"the NameNode last answered the DataNode's heartbeat {age:.0f}s ago"
        if self.namenode_jmx("Hadoop:service=NameNode,name=NameNodeInfo").get("Safemode"):
            return "the NameNode is still in safe mode"
        return None

    def after_healthy(self) -> None:
        """The platform's folders, owned by its user (as HDFS's superuser); /tmp open to all with
        the sticky bit; files written with more replicas than there are DataNodes brought to 1."""
        from hdfs import InsecureClient

        s = self.settings
        client = InsecureClient(s.webhdfs_url, user=s.hdfs_user)
        for path in (s.hdfs_predictions_path, s.hdfs_models_path, s.hdfs_checkpoints_path, s.nifi_hdfs_path):
            client.makedirs(path)
            # made by another user name while permissions were off: the platform's now
            client.set_owner(path, owner=s.hdfs_user)
        client.makedirs("/tmp")
        client.set_permission("/tmp", "1777")
        self.repair_replication(client)

    def repair_replication(self, client) -> int:
        """Set replication 1 on files that asked for more (written before every client was given
        CLIENT_CONFIG); returns how many. Walks the tree only when the NameNode counts such blocks."""
        state = self.namenode_jmx("Hadoop:service=NameNode,name=FSNamesystem")
        if not state.get("UnderReplicatedBlocks"):
            return 0
        wanted = int(CLIENT_CONFIG["dfs.replication"])
        repaired = 0
        for folder, _, files in client.walk("/", status=True):
            for name, status in files:
                if status["type"] == "FILE" and status["replication"] > wanted:
                    client.set_replication(f"{folder[0].rstrip('/')}/{name}", wanted)
                    repaired += 1
        return repaired
