"""Dead letters: what the scorer writes to the dead-letter topic for a request it cannot answer.

A letter is a JSON object (key = the request's UUID when it had a string one):

- ``payload``: the request as text (UTF-8, undecodable bytes as U+FFFD), or only its first
  ``PAYLOAD_PREVIEW_BYTES`` bytes;
- ``reason``: why it was not answered;
- ``source``: where the request was read (``topic:partition:offset``);
- ``failed_at``: when (UTC ISO-8601);
- ``payload_bytes``: the size of the original request; ``truncated``: true when ``payload`` is
  only its start.

Every part is bounded, so a letter always fits the topic, whatever was sent: an oversized request,
binary, or text whose JSON escaping grows (a quote becomes two bytes, a control byte six). The
bounds add up to less than ``MAX_LETTER_BYTES``, far under the broker's 1 MB message limit.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flightdelay.contract import MAX_MESSAGE_BYTES

# a request the contract accepts by size is kept whole; a bigger one only by its start
PAYLOAD_PREVIEW_BYTES = MAX_MESSAGE_BYTES
# what is kept of an undelivered message in the letter that reports it (a minimal record)
UNDELIVERED_PREVIEW_BYTES = 1024
REASON_CHARS = 1000
SOURCE_CHARS = 300
KEY_CHARS = 128
# each payload byte is at most one character, serialized as at most 6 bytes (\u001f); other
# text is at most 6 bytes a character: 16 KiB * 6 + (1000 + 300 + 128) * 6 + field names < 128 KiB
MAX_LETTER_BYTES = 128 * 1024


def clip(text: str | None, chars: int) -> str | None:
    """At most `chars` characters of text, made encodable (a lone surrogate becomes '?')."""
    if text is None:
        return None
    return text[:chars].encode("utf-8", errors="replace").decode("utf-8")


def as_bytes(payload: bytes | str | None) -> bytes:
    if payload is None:
        return b""
    return payload.encode("utf-8", errors="replace") if isinstance(payload, str) else bytes(payload)


def letter(
    key: str | None,
    payload: bytes | str | None,
    reason: str,
    source: str | None = None,
    size: int | None = None,
    preview_bytes: int = PAYLOAD_PREVIEW_BYTES,
) -> tuple[str | None, dict]:
    """A bounded dead letter: (Kafka key, value). `size` is the original payload's byte count
    when `payload` is already only its start (the scorer reads at most the size limit)."""
    data = as_bytes(payload)
    size = len(data) if size is None else size
    kept = data[:preview_bytes]
    return clip(key, KEY_CHARS), {
        "payload": kept.decode("utf-8", errors="replace"),
        "reason": clip(reason, REASON_CHARS),
        "source": clip(source, SOURCE_CHARS),
        "failed_at": datetime.now(timezone.utc).isoformat(),
        "payload_bytes": size,
        "truncated": size > len(kept),
    }


def undelivered_letter(topic: str, key: str | None, value: bytes | None, error: str) -> tuple[str | None, dict]:
    """The minimal letter for a message Kafka refused on its own (too large, invalid)."""
    return letter(key, value, f"not delivered to {topic}: {error}", preview_bytes=UNDELIVERED_PREVIEW_BYTES)
