from __future__ import annotations

import subprocess
import sys
import uuid

from hdfs import InsecureClient

from flightdelay.ops.spark import spark_environment

SPARK_ROUND_TRIP = r"""
import sys
from pyspark.sql import SparkSession
master, path = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.master(master).appName("hdfs-round-trip").config("spark.cores.max", "2").getOrCreate()
spark.range(100).selectExpr("id", "id * 2 AS twice").write.mode("overwrite").parquet(path)
back = spark.read.parquet(path)
print("ROWS", back.count(), "SUM", back.groupBy().sum("twice").first()[0])
spark.stop()
"""


def test_webhdfs_write_and_read_back(settings):
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    path = f"/tmp/integration/{uuid.uuid4().hex}.txt"
    client.write(path, data="line one\nline two\n", encoding="utf-8")
    with client.read(path, encoding="utf-8") as reader:
        assert reader.read() == "line one\nline two\n"
    assert client.status(path)["replication"] == 1
    client.delete(path)


def test_spark_job_writes_and_reads_hdfs(settings, tmp_path):
    import os

    path = f"{settings.hdfs_uri}/tmp/integration/spark-{uuid.uuid4().hex}"
    script = tmp_path / "round_trip.py"
    script.write_text(SPARK_ROUND_TRIP)
    result = subprocess.run(
        [sys.executable, str(script), settings.spark_master_url, path],
        env={**os.environ, **spark_environment(settings)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ROWS 100 SUM 9900" in result.stdout
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    assert any(name.endswith(".parquet") for name in client.list(path.removeprefix(settings.hdfs_uri)))
