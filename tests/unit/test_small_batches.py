"""What a small micro-batch holds, from Spark's offset log (flightdelay/scoring/small_batches.py)."""

from __future__ import annotations

from dataclasses import replace

from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.scoring.small_batches import SmallBatchReader, batch_ranges, record_of, source_offsets
from flightdelay.settings import get_settings

TOPIC = "flask-ml-delays-request"
METADATA = '{"batchWatermarkMs":0,"batchTimestampMs":1796234619251,"conf":{}}'


def offset_log_entry(*sources: str) -> str:
    """An offset log file as Spark 4 writes it: the version, the batch's metadata, a line per source."""
    return "\n".join(["v1", METADATA, *sources])


def test_the_end_offsets_of_the_request_topic_are_read_from_an_offset_log_entry():
    entry = offset_log_entry('{"flask-ml-delays-request":{"1":1223286,"0":1222566}}')
    assert source_offsets(entry, TOPIC) == {0: 1222566, 1: 1223286}


def test_an_entry_without_the_topic_or_in_another_format_gives_nothing():
    assert source_offsets(offset_log_entry('{"other-topic":{"0":5}}'), TOPIC) is None
    assert source_offsets(offset_log_entry("-"), TOPIC) is None  # a source with no offset yet
    assert source_offsets("", TOPIC) is None
    assert source_offsets('{"flask-ml-delays-request":{"0":5}}', TOPIC) is None  # no version line


def test_a_batch_spans_from_the_batch_befores_end_to_its_own():
    assert batch_ranges({0: 10, 1: 20}, {0: 12, 1: 20}) == {0: (10, 12), 1: (20, 20)}


def test_a_batch_with_a_new_partition_or_no_batch_before_is_left_to_spark():
    assert batch_ranges({0: 10}, {0: 12, 1: 3}) is None  # where the new partition starts is Spark's choice
    assert batch_ranges(None, {0: 12}) is None  # the first batch of a new checkpoint


class Message:
    """The parts of a confluent_kafka Message that record_of reads."""

    def __init__(self, value, timestamp=(1, 1_700_000_000_123), partition=1, offset=42):
        self._value, self._timestamp, self._partition, self._offset = value, timestamp, partition, offset

    def value(self):
        return self._value

    def timestamp(self):
        return self._timestamp

    def topic(self):
        return TOPIC

    def partition(self):
        return self._partition

    def offset(self):
        return self._offset


def test_a_message_becomes_the_record_sparks_read_makes_of_it():
    assert record_of(Message(b'{"UUID": "a"}')) == (b'{"UUID": "a"}', 13, 1_700_000_000_123_000, TOPIC, 1, 42)


def test_an_oversized_value_is_cut_and_keeps_its_size_and_a_missing_one_stays_missing():
    value, size, *_ = record_of(Message(b"x" * (MAX_MESSAGE_BYTES + 10)))
    assert (len(value), size) == (MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES + 10)
    assert record_of(Message(None, timestamp=(0, -1)))[:3] == (None, None, None)  # no value, no timestamp


def reader(entries: dict[int, str], max_records: int = 500) -> SmallBatchReader:
    settings = replace(get_settings(), request_topic=TOPIC)
    return SmallBatchReader(settings, entries.get, max_records)


def test_only_a_batch_of_at_most_the_limit_is_read_by_the_driver():
    entries = {
        6: offset_log_entry('{"flask-ml-delays-request":{"0":100,"1":200}}'),
        7: offset_log_entry('{"flask-ml-delays-request":{"0":300,"1":400}}'),  # 400 records
        8: offset_log_entry('{"flask-ml-delays-request":{"0":700,"1":701}}'),  # 701 records
    }
    assert reader(entries).ranges(7) == {0: (100, 300), 1: (200, 400)}
    assert reader(entries).ranges(8) is None  # over the limit: the executors score it
    assert reader(entries, max_records=0).ranges(7) is None  # off: every batch to the executors
    assert reader(entries).ranges(6) is None  # the batch before is unknown


def test_each_offset_log_entry_is_read_once_as_batches_follow_each_other():
    reads: list[int] = []
    entries = {b: offset_log_entry(f'{{"flask-ml-delays-request":{{"0":{b * 10}}}}}') for b in range(5)}

    def read(batch_id: int) -> str | None:
        reads.append(batch_id)
        return entries.get(batch_id)

    following = SmallBatchReader(replace(get_settings(), request_topic=TOPIC), read, 500)
    assert [following.ranges(b) for b in (1, 2, 3)] == [{0: (0, 10)}, {0: (10, 20)}, {0: (20, 30)}]
    assert reads == [0, 1, 2, 3]
