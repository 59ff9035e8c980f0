"""Identifiers: UUIDs whose first 48 bits are a millisecond timestamp (the UUIDv7 layout), so
ids sort by creation time and index well.

Within one process ids are strictly increasing: an id made in the same millisecond as the one
before it takes the previous id's 74 random bits plus one, so records written in one go (audit
entries stamped with the same time, say) read back in the order they were made.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RANDOM_BITS = 74  # 12 bits after the version, 62 after the variant
_lock = threading.Lock()
_last = (0, 0)  # (millis, random) of the latest id


def new_id() -> str:
    global _last
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big") & ((1 << _RANDOM_BITS) - 1)
    with _lock:
        if (millis, rand) <= _last:
            millis, rand = _last[0], _last[1] + 1
            if rand >> _RANDOM_BITS:
                millis, rand = millis + 1, 0
        _last = (millis, rand)
    return str(uuid.UUID(int=_layout(millis, rand)))


def _layout(millis: int, rand: int) -> int:
    """48 bits of time, version 7, 12 random bits, the RFC 4122 variant, 62 random bits."""
    high, low = rand >> 62, rand & ((1 << 62) - 1)
    return (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | high << 64 | 0x2 << 62 | low
