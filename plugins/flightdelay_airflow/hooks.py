"""Hooks for the platform's services, configured from Airflow connections.

The Airflow connections themselves are defined by `flightdelay up` from the settings module
(AIRFLOW_CONN_* variables), so a DAG names a connection id and never a host.
"""

from __future__ import annotations

from functools import cached_property

from airflow.sdk import BaseHook


class WebHdfsClientHook(BaseHook):
    """WebHDFS through the `hdfs` package (the Hadoop provider needs Kerberos headers to install).

    The connection: host and port of the NameNode's HTTP address, login = the HDFS user.
    """

    conn_name_attr = "webhdfs_conn_id"
    default_conn_name = "webhdfs_default"
    conn_type = "webhdfs"
    hook_name = "WebHDFS (hdfs package)"

    def __init__(self, webhdfs_conn_id: str = default_conn_name):
        super().__init__()
        self.webhdfs_conn_id = webhdfs_conn_id

    @cached_property
    def client(self):
        from hdfs import InsecureClient

        conn = self.get_connection(self.webhdfs_conn_id)
        return InsecureClient(f"http://{conn.host}:{conn.port}", user=conn.login or None, timeout=30)

    def get_conn(self):
        return self.client

    def exists(self, path: str) -> bool:
        return self.client.status(path, strict=False) is not None

    def list_files(self, path: str) -> list[str]:
        return self.client.list(path) if self.exists(path) else []


class SparkMasterHook(BaseHook):
    """The standalone master's JSON status page, found from the Spark connection's host.

    The master's web UI port is not part of a Spark connection; it comes from the connection's
    extra `master_ui_port` (set by `flightdelay up`) or Spark's default of 8080.
    """

    default_conn_name = "spark_default"

    def __init__(self, spark_conn_id: str = default_conn_name):
        super().__init__()
        self.spark_conn_id = spark_conn_id

    def master_json(self) -> dict:
        from flightdelay.ops.spark import master_json

        conn = self.get_connection(self.spark_conn_id)
        host = (conn.host or "").replace("spark://", "")
        ui_port = int(conn.extra_dejson.get("master_ui_port", 8080))
        return master_json(f"http://{host}:{ui_port}", timeout=10)

    def alive_workers(self) -> list[dict]:
        from flightdelay.ops.spark import alive_workers

        return alive_workers(self.master_json())

    def running_apps(self, name: str | None = None) -> list[dict]:
        from flightdelay.ops.spark import running_apps

        return running_apps(self.master_json(), name)
