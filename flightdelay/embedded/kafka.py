"""Kafka: one KRaft node that is both broker and controller, from Maven Central jars.

Install: java/kafka/pom.xml (org.apache.kafka:kafka_2.13). Config: var/kafka/server.properties
(0600: it holds the admin login), written at every start from the settings. Storage is formatted
once (var/kafka/data/meta.properties). Once healthy, the platform user's SCRAM credential and the
request, response and dead-letter topics are created through the admin API (flightdelay/ops/kafka.py).
Every listener takes logins only (flightdelay/kafka_auth.py).
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from flightdelay import kafka_auth
from flightdelay.ops import kafka
from flightdelay.ops.jvm import classpath, jar_dir, java_command, java_home
from flightdelay.ops.processes import run_checked
from flightdelay.ops.service import Service
from flightdelay.secrets import write_private

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
"""


class Kafka(Service):
    name = "kafka"
    description = "Kafka 4 broker + KRaft controller"
    start_timeout = 90.0

    def ports(self) -> list[int]:
        return [self.settings.kafka_port, self.settings.kafka_controller_port]

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def check_installed(self) -> None:
        jar_dir(self.settings, "kafka")

    def server_properties(self) -> str:
        s = self.settings
        host = s.bind_host
        admin_password = kafka_auth.secrets(s)["admin_password"]
        admin = kafka_auth.ADMIN_USER
        # the admin's PLAIN login serves both listeners: the broker's own link to the controller,
        # and creating the SCRAM user over the client listener before any SCRAM user exists
        admin_plain = kafka_auth.jaas(kafka_auth.PLAIN_MODULE, admin, admin_password, **{admin: admin_password})
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{s.kafka_controller_port}",
                f"listeners=CLIENT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
                f"advertised.listeners=CLIENT://{s.kafka_host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=CLIENT",
                "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT",
                f"sasl.enabled.mechanisms={kafka_auth.MECHANISM},PLAIN",
                "sasl.mechanism.inter.broker.protocol=PLAIN",
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                f"listener.name.controller.plain.sasl.jaas.config={admin_plain}",
                f"listener.name.client.plain.sasl.jaas.config={admin_plain}",
                f"listener.name.client.scram-sha-256.sasl.jaas.config={kafka_auth.SCRAM_MODULE} required;",
                f"log.dirs={self.data_dir}",
                f"num.partitions={s.topic_partitions}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                # topics are created explicitly; a typo must not create a new topic
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "",
            ]
        )

    def _java(self, share_classes: bool = False) -> list[str]:
        options = [
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
        ]
        class_path = classpath(jar_dir(self.settings, "kafka"))
        sharing = (self.settings.class_archive_dir, self.name) if share_classes else None
        return java_command(java_home(self.settings), self.settings.kafka_heap, class_path, options, sharing)

    def prepare(self) -> None:
        write_private(self.config_file, self.server_properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = _kafka_cluster_id()
        run_checked(
            [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config_file)],
            "kafka storage format",
            cwd=self.home,
        )

    def command(self) -> list[str]:
        return [*self._java(share_classes=True), "kafka.Kafka", str(self.config_file)]

    def probe(self) -> str | None:
        return kafka.broker_problem(self.settings)

    def after_healthy(self) -> None:
        kafka.ensure_platform_topics(self.settings)


def _kafka_cluster_id() -> str:
    # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
