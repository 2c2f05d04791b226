"""HDFS as the platform uses it: what every client must write with, the platform's folders and
who owns them, and the health of the NameNode and the DataNode read from their own JMX and WebHDFS.

Every client writes with replication 1 (``CLIENT_CONFIG``): the Spark applications get it through
spark-defaults.conf (flightdelay/embedded/spark.py), WebHDFS writers (NiFi, the hdfs package) from
the site files of flightdelay/embedded/hdfs.py.
"""

from __future__ import annotations

import json

import requests

from flightdelay.settings import Settings

# the first retry of a file's complete() call while its last block is being reported
CLIENT_CLOSE_RETRY_DELAY = ("dfs.client.block.write.locateFollowingBlock.initial.delay.ms", "20")

# What every HDFS client of the platform must use (a client's own configuration decides the
# replication of the files it writes: Hadoop's default of 3 leaves every block under-replicated
# on one DataNode).
CLIENT_CONFIG = {"dfs.replication": "1", CLIENT_CLOSE_RETRY_DELAY[0]: CLIENT_CLOSE_RETRY_DELAY[1]}

# a DataNode whose NameNode has not answered its heartbeat (every 3 s) for this long is not healthy
HEARTBEAT_MAX_AGE_S = 10.0


def _jmx_bean(url: str, query: str) -> dict:
    beans = requests.get(f"{url}/jmx", params={"qry": query}, timeout=2).json()["beans"]
    return beans[0] if beans else {}


def namenode_jmx(settings: Settings, query: str) -> dict:
    return _jmx_bean(settings.webhdfs_url, query)


def datanode_jmx(settings: Settings, query: str) -> dict:
    """A bean of the DataNode's own JMX (its HTTP port), not the NameNode's view of it."""
    return _jmx_bean(f"http://{settings.hdfs_host}:{settings.hdfs_datanode_http_port}", query)


def namenode_problem(settings: Settings) -> str | None:
    """Health of the NameNode: None when WebHDFS answers a status of the root."""
    url = f"{settings.webhdfs_url}/webhdfs/v1/"
    reply = requests.get(url, params={"op": "GETFILESTATUS", "user.name": settings.hdfs_user}, timeout=2)
    if reply.status_code != 200:
        return f"WebHDFS answered {reply.status_code}"
    return None


def datanode_problem(settings: Settings) -> str | None:
    """Health of the DataNode. The NameNode still counts a killed DataNode as live for minutes:
    ask the DataNode itself whether it is registered with its NameNode and heard back just now."""
    info = datanode_jmx(settings, "Hadoop:service=DataNode,name=DataNodeInfo")
    actors = json.loads(info.get("BPServiceActorInfo") or "[]")
    registered = [a for a in actors if a.get("ActorState") == "RUNNING" and a.get("BlockPoolID")]
    if not registered or not json.loads(info.get("NamenodeAddresses") or "{}"):
        return "the DataNode is not registered with the NameNode yet"
    age = min(float(a.get("LastHeartbeatResponseTime", "inf")) for a in registered)
    if age > HEARTBEAT_MAX_AGE_S:
        return f"the NameNode last answered the DataNode's heartbeat {age:.0f}s ago"
    if namenode_jmx(settings, "Hadoop:service=NameNode,name=NameNodeInfo").get("Safemode"):
        return "the NameNode is still in safe mode"
    return None


def ensure_layout(settings: Settings) -> None:
    """The platform's folders, owned by its user (as HDFS's superuser); /tmp open to all with
    the sticky bit; files written with more replicas than there are DataNodes brought to 1."""
    from hdfs import InsecureClient

    s = settings
    client = InsecureClient(s.webhdfs_url, user=s.hdfs_user)
    folders = (s.hdfs_predictions_path, s.hdfs_models_path, s.hdfs_checkpoints_path, s.hdfs_monitoring_path)
    for path in (*folders, s.nifi_hdfs_path):
        client.makedirs(path)
        # made by another user name while permissions were off: the platform's now
        client.set_owner(path, owner=s.hdfs_user)
    client.makedirs("/tmp")
    client.set_permission("/tmp", "1777")
    repair_replication(settings, client)


def repair_replication(settings: Settings, client) -> int:
    """Set replication 1 on files that asked for more (written before every client was given
    CLIENT_CONFIG); returns how many. Walks the tree only when the NameNode counts such blocks."""
    state = namenode_jmx(settings, "Hadoop:service=NameNode,name=FSNamesystem")
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
