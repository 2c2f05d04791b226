"""HDFS: one NameNode and one DataNode from Maven Central jars (org.apache.hadoop:hadoop-hdfs).

Install: java/hadoop/pom.xml. Config: var/hdfs/conf/{core,hdfs}-site.xml, written at every start,
and the same files in var/hdfs/conf.jar, which is what the daemons' classpath holds (a JVM that
shares its classes refuses a folder there; see flightdelay/ops/jvm.py).
The NameNode is formatted once (var/hdfs/name/current/VERSION). Replication 1, WebHDFS on. The
DataNode advertises 127.0.0.1 so that WebHDFS redirects and block reads reach it from this host.

Permissions are on. The daemons run as the platform's user (HDFS_USER), which makes it HDFS's
superuser; it owns /models, /checkpoints and /user/predictions (mode 755), and /tmp is open to all
with the sticky bit, as on any Hadoop cluster. Authentication is Hadoop's "simple" kind (a client
names its user), so this keeps other user names from overwriting the platform's files, not a
determined local user. Anonymous web requests act as Hadoop's unprivileged ``dr.who``.

Every client writes with replication 1 (``CLIENT_CONFIG``, flightdelay/ops/hdfs.py, with the
probes and the platform's folders): WebHDFS writers (NiFi, the hdfs package) get it from these files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from flightdelay.ops import hdfs
from flightdelay.ops.hdfs import CLIENT_CONFIG
from flightdelay.ops.jvm import JAVA17_OPENS, classpath, jar_dir, java_command, java_home
from flightdelay.ops.processes import run_checked
from flightdelay.ops.service import Service

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
        self._write_conf_jar()

    @property
    def conf_jar(self) -> Path:
        return self.home / "conf.jar"

    def _write_conf_jar(self) -> None:
        """The config files as a jar, rewritten only when they changed: its size and time are part
        of the class archive's fingerprint."""
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as jar:
            for name in ("core-site.xml", "hdfs-site.xml", "log4j.properties"):
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes every time
                jar.writestr(entry, (self.conf_dir / name).read_bytes())
        if not self.conf_jar.exists() or self.conf_jar.read_bytes() != packed.getvalue():
            self.conf_jar.write_bytes(packed.getvalue())

    def java(self, share_classes: bool = False) -> list[str]:
        options = [
            *JAVA17_OPENS,
            f"-Dhadoop.log.dir={self.home / 'logs'}",
            "-Dhadoop.root.logger=INFO,console",
            f"-Dhadoop.home.dir={self.home}",
        ]
        class_path = classpath(self.conf_jar, jar_dir(self.settings, "hadoop"))
        sharing = (self.settings.class_archive_dir, self.name) if share_classes else None
        return java_command(java_home(self.settings), self.settings.hdfs_heap, class_path, options, sharing)

    def environment(self) -> dict[str, str]:
        return {"HADOOP_CONF_DIR": str(self.conf_dir), "HADOOP_USER_NAME": self.settings.hdfs_user}

    def command(self) -> list[str]:
        return [*self.java(share_classes=True), self.main_class]


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
        run_checked(
            [*self.java(), self.main_class, "-format", "-nonInteractive", "-clusterId", "flightdelay"],
            "HDFS NameNode format",
            cwd=self.home,
            env=self.environment(),
        )
        self.keep_private()

    def keep_private(self) -> None:
        """The namespace (fsimage, edits) is the NameNode's database: its owner's only, as the
        DataNode keeps its blocks (Hadoop makes dfs.datanode.data.dir 0700 itself)."""
        (self.home / "name").chmod(0o700)

    def probe(self) -> str | None:
        return hdfs.namenode_problem(self.settings)


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
        return hdfs.datanode_problem(self.settings)

    def after_healthy(self) -> None:
        hdfs.ensure_layout(self.settings)
