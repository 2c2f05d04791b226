from __future__ import annotations

import uuid

from hdfs import InsecureClient


def test_webhdfs_write_and_read_back(settings):
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    path = f"/tmp/integration/{uuid.uuid4().hex}.txt"
    client.write(path, data="line one\nline two\n", encoding="utf-8")
    with client.read(path, encoding="utf-8") as reader:
        assert reader.read() == "line one\nline two\n"
    assert client.status(path)["replication"] == 1
    client.delete(path)


def test_spark_job_writes_and_reads_hdfs(settings, cluster_job):
    result = cluster_job["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ROWS 100 SUM 9900" in result.stdout
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    assert any(name.endswith(".parquet") for name in client.list(f"{cluster_job['folder']}/parquet"))
