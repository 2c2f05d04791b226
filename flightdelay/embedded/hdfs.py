"""HDFS: one NameNode and one DataNode from Maven Central jars (org.apache.hadoop:hadoop-hdfs).

Install: java/hadoop/pom.xml. Config: var/hdfs/conf/{core,hdfs}-site.xml, written at every start.
The NameNode is formatted once (var/hdfs/name/current/VERSION). Replication 1, WebHDFS on, and
permissions off: every client of this one-machine platform is trusted. The DataNode advertises
127.0.0.1 so that WebHDFS redirects and block reads reach it from this host.
"""

from __future__ import annotations

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
                    "hadoop.http.staticuser.user": s.hdfs_user,
                }
            )
        )
        (self.conf_dir / "hdfs-site.xml").write_text(
            _site_xml(
                {
                    "dfs.replication": "1",
                    "dfs.permissions.enabled": "false",
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
                    # closing a file waits for the DataNode's block report; a writer (WebHDFS
                    # runs its writes in the DataNode) first retries after 400 ms by default,
                    # which made every small file take ~450 ms
                    CLIENT_CLOSE_RETRY_DELAY[0]: CLIENT_CLOSE_RETRY_DELAY[1],
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

    def probe(self) -> str | None:
        state = self.namenode_jmx("Hadoop:service=NameNode,name=FSNamesystemState")
        if state.get("NumLiveDataNodes", 0) < 1:
            return "the NameNode sees no live DataNode yet"
        info = self.namenode_jmx("Hadoop:service=NameNode,name=NameNodeInfo")
        if info.get("Safemode"):
            return "the NameNode is still in safe mode"
        return None

    def after_healthy(self) -> None:
        from hdfs import InsecureClient

        client = InsecureClient(self.settings.webhdfs_url, user=self.settings.hdfs_user)
        for path in (
            self.settings.hdfs_predictions_path,
            self.settings.hdfs_models_path,
            self.settings.hdfs_checkpoints_path,
            self.settings.nifi_hdfs_path,
        ):
            client.makedirs(path)
