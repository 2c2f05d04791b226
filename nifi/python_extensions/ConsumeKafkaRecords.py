"""NiFi processor: consume JSON records from a Kafka topic, one FlowFile per non-empty batch.

NiFi's own ConsumeKafka is not available here (no NiFi Kafka NAR is served by Maven Central, see
nifi/README.md), so this Python processor does that job with confluent-kafka. It declares no
dependencies for NiFi to pip-install: the platform gives NiFi its own virtualenv's site-packages
(NAR-INF/bundled-dependencies next to this file, made by flightdelay/nifi/config.py).

Delivery: each run reads, for every assigned partition, the records from the partition's position
up to the high watermark seen at the start of the run (at most `Max Records Per Partition`). The
offsets of a batch are committed to the consumer group only once NiFi has committed the FlowFile:
at the start of the next run, or when the processor is stopped. So a batch is never lost. If NiFi
dies between those two points, the next run starts again from the same positions and reads the
same records plus any newer ones: the FlowFile gets the same `filename` (it is derived from the
topic's id and the start positions), so a sink that replaces by name keeps each record once.

Answers are at-least-once on the topic (a scorer that crashed mid-batch sends that batch's answers
again); this processor keeps each key once: a record whose key it emitted among the last
`RECENT_KEYS` is dropped (counted in `kafka.duplicates`), so the files hold each prediction once.

The records are the contract's `Prediction` (flightdelay/contract.py), kept as the scorer wrote
them: this file cannot import that module (NiFi runs it with `python -S` and only the bundled
dependencies on its path, and the compose image copies this file alone), so it is
self-contained, and tests/unit/test_nifi_records.py checks that a Prediction record goes through
unchanged.
"""

import hashlib
import json
import time
from collections import OrderedDict

from nifiapi.flowfilesource import FlowFileSource, FlowFileSourceResult
from nifiapi.properties import PropertyDescriptor, StandardValidators

# a replayed answer comes back within a minute of the first (a scorer restart): 300k keys is a
# minute at 5,000 answers/s, and some 30 MB
RECENT_KEYS = 300_000


def json_object_line(value):
    """The record as one line of JSON text, or None when it is not a JSON object.

    A record that already is one line is kept as it came: serializing every record again cost
    25 µs each (an eighth of a core at 5,000 predictions/s)."""
    try:
        text = value.decode("utf-8")
        record = json.loads(text)
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if "\n" in text or "\r" in text:
        return json.dumps(record, ensure_ascii=False)
    return text


class ConsumeKafkaRecords(FlowFileSource):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileSource"]

    class ProcessorDetails:
        version = "1.0.0"
        description = (
            "Consumes JSON records from a Kafka topic with a consumer group and emits each non-empty "
            "batch as one FlowFile holding a JSON array. Offsets are committed after NiFi committed "
            "the batch; the filename is derived from the batch's start offsets."
        )
        tags = ["kafka", "consume", "json", "flightdelay"]

    BROKERS = PropertyDescriptor(
        name="Kafka Brokers",
        description="Comma-separated host:port list of Kafka bootstrap servers.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )
    USERNAME = PropertyDescriptor(
        name="Kafka Username",
        description="SASL/SCRAM-SHA-256 login (the broker takes no anonymous clients); empty: no login.",
        required=False,
    )
    PASSWORD = PropertyDescriptor(
        name="Kafka Password",
        description="The SCRAM login's password.",
        required=False,
        sensitive=True,
    )
    TOPIC = PropertyDescriptor(
        name="Topic",
        description="The topic to consume.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )
    GROUP_ID = PropertyDescriptor(
        name="Group ID",
        description="Consumer group whose committed offsets say where to resume.",
        required=True,
        default_value="nifi",
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )
    OFFSET_RESET = PropertyDescriptor(
        name="Offset Reset",
        description="Where to start when the group has no committed offset for a partition.",
        required=True,
        default_value="earliest",
        allowable_values=["earliest", "latest"],
    )
    MAX_PER_PARTITION = PropertyDescriptor(
        name="Max Records Per Partition",
        description="Upper bound of records taken from one partition in one run.",
        required=True,
        default_value="10000",
        validators=[StandardValidators.POSITIVE_INTEGER_VALIDATOR],
    )
    FILENAME_PREFIX = PropertyDescriptor(
        name="Filename Prefix",
        description="Start of the filename attribute; the start offsets follow it.",
        required=True,
        default_value="predictions",
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )

    def __init__(self, **kwargs):
        super().__init__()
        self.consumer = None
        self.topic = None
        self.group_id = None
        self.max_per_partition = 10000
        self.prefix = "predictions"
        self.offset_reset = "earliest"
        self.topic_tag = None  # identifies this incarnation of the topic in file names
        self.positions = {}  # partition -> offset of the next record to emit
        self.pending = {}  # partition -> offset to commit once the last batch is committed in NiFi
        self.recent = OrderedDict()  # keys emitted lately, oldest first: replayed answers are dropped

    def getPropertyDescriptors(self):
        return [
            self.BROKERS,
            self.USERNAME,
            self.PASSWORD,
            self.TOPIC,
            self.GROUP_ID,
            self.OFFSET_RESET,
            self.MAX_PER_PARTITION,
            self.FILENAME_PREFIX,
        ]

    # --- lifecycle -------------------------------------------------------------------------------
    def onScheduled(self, context):
        from confluent_kafka import Consumer

        self.topic = context.getProperty(self.TOPIC).getValue()
        self.group_id = context.getProperty(self.GROUP_ID).getValue()
        self.max_per_partition = context.getProperty(self.MAX_PER_PARTITION).asInteger()
        self.prefix = context.getProperty(self.FILENAME_PREFIX).getValue()
        self.offset_reset = context.getProperty(self.OFFSET_RESET).getValue()
        self.positions = {}
        self.pending = {}
        self.topic_tag = None
        self.consumer = Consumer(
            {
                **self._connection(context),
                "group.id": self.group_id,
                "client.id": f"nifi-{self.identifier}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": self.offset_reset,
                "log_level": 3,
            }
        )
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def onStopped(self, context):
        # NiFi calls this after the last run's session was committed: its offsets can go now
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        try:
            self._commit_pending(consumer)
        finally:
            consumer.close()

    def _on_assign(self, consumer, partitions):
        from confluent_kafka import TopicPartition

        committed = consumer.committed(partitions, timeout=10)
        for tp in committed:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
            if tp.offset >= 0:
                start = max(tp.offset, low)
            else:
                start = low if self.offset_reset == "earliest" else high
            self.positions[tp.partition] = start
        consumer.assign(
            [TopicPartition(self.topic, p, self.positions[p]) for p in sorted(self.positions)]
        )

    def _on_revoke(self, consumer, partitions):
        for tp in partitions:
            self.positions.pop(tp.partition, None)
            self.pending.pop(tp.partition, None)
        consumer.unassign()

    def _commit_pending(self, consumer):
        if not self.pending:
            return
        from confluent_kafka import TopicPartition

        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(self.pending.items())]
        consumer.commit(offsets=offsets, asynchronous=False)
        self.pending = {}

    # --- one run ---------------------------------------------------------------------------------
    def create(self, context):
        from confluent_kafka import KafkaException, TopicPartition

        consumer = self.consumer
        if consumer is None:
            return None
        try:
            # this run started, so NiFi has committed the previous run's FlowFile
            self._commit_pending(consumer)
            if not self.positions:
                self._wait_for_assignment(consumer, timeout=15.0)
                if not self.positions:
                    return None
            start = dict(self.positions)
            end = {}
            for partition, offset in start.items():
                _, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)
                end[partition] = min(high, offset + self.max_per_partition)
            if all(end[p] <= start[p] for p in start):
                return None
            if self.topic_tag is None:
                self.topic_tag = self._topic_tag(context)
            by_partition = self._read(consumer, start, end, deadline=time.monotonic() + 30.0)
        except KafkaException as exc:
            self.logger.warn(f"Kafka not reachable, will retry: {exc}")
            return None

        records, skipped, duplicates = [], 0, 0
        reached = {}
        for partition in sorted(by_partition):
            for offset, key, value in by_partition[partition]:
                reached[partition] = offset + 1
                if key is not None and key in self.recent:
                    duplicates += 1
                    continue
                line = json_object_line(value)
                if line is None:
                    skipped += 1
                    continue
                records.append(line)
                if key is not None:
                    self.recent[key] = None
                    if len(self.recent) > RECENT_KEYS:
                        self.recent.popitem(last=False)
        if not reached:
            return None
        self.positions.update(reached)
        self.pending.update(reached)
        if skipped:
            self.logger.warn(f"skipped {skipped} message(s) that are not JSON objects")
        if not records:
            return None  # only junk: its offsets are committed at the next run

        name = f"{self.prefix}-{self.topic_tag}-" + "_".join(f"p{p}-{start[p]}" for p in sorted(start)) + ".json"
        content = "[\n" + ",\n".join(records) + "\n]\n"
        attributes = {
            "filename": name,
            "mime.type": "application/json",
            "record.count": str(len(records)),
            "kafka.topic": self.topic,
            "kafka.group.id": self.group_id,
            "kafka.offsets.start": ",".join(f"{p}:{start[p]}" for p in sorted(start)),
            "kafka.offsets.end": ",".join(f"{p}:{self.positions[p]}" for p in sorted(self.positions)),
            "kafka.skipped": str(skipped),
            "kafka.duplicates": str(duplicates),
        }
        return FlowFileSourceResult(relationship="success", attributes=attributes, contents=content)

    def _connection(self, context):
        config = {"bootstrap.servers": context.getProperty(self.BROKERS).getValue()}
        user = context.getProperty(self.USERNAME).getValue()
        if user:
            config.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
                           "sasl.username": user, "sasl.password": context.getProperty(self.PASSWORD).getValue()})
        return config

    def _topic_tag(self, context):
        """8 hex digits of the topic's id: a topic deleted and created again restarts its offsets,
        and its batches must not take the names of the old topic's files."""
        from confluent_kafka import TopicCollection
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({**self._connection(context), "log_level": 3})
        description = admin.describe_topics(TopicCollection([self.topic]))[self.topic].result(timeout=10)
        return hashlib.sha1(str(description.topic_id).encode()).hexdigest()[:8]

    def _wait_for_assignment(self, consumer, timeout):
        # the group join happens inside poll(); nothing is fetched before _on_assign has run
        # (a record fetched by the same poll is dropped: _read seeks back to the start positions)
        deadline = time.monotonic() + timeout
        while not self.positions and time.monotonic() < deadline:
            consumer.poll(0.5)

    def _read(self, consumer, start, end, deadline):
        """Records [start, end) of each partition, as {partition: [(offset, value)]}."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        got = {p: [] for p in start}
        wanted = {p for p in start if end[p] > start[p]}
        # fetch from exactly the start positions, whatever the consumer had prefetched
        for p in start:
            consumer.seek(TopicPartition(self.topic, p, start[p]))
        next_offset = dict(start)
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=1.0):
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(message.error())
                p, offset = message.partition(), message.offset()
                if p not in wanted or offset < next_offset[p]:
                    continue
                if offset >= end[p]:
                    wanted.discard(p)
                    continue
                got[p].append((offset, message.key(), message.value()))
                next_offset[p] = offset + 1
                if next_offset[p] >= end[p]:
                    wanted.discard(p)
            # a compacted or transactional partition may end below `end` (gaps): stop at its end
            for p in list(wanted):
                position = consumer.position([TopicPartition(self.topic, p)])[0].offset
                if position >= end[p]:
                    wanted.discard(p)
        # leave every partition positioned right after what this batch took
        for p in start:
            consumer.seek(TopicPartition(self.topic, p, next_offset[p]))
        return got
