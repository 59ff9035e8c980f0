"""Opaque keyset cursors: the `(created_at, id)` of the last row of a page, for the next one.

A cursor is only a position, not a credential: every page query still filters by the caller's
tenant, so a cursor made up or taken from another tenant can only start a page at that point.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from batonflow.errors import InvalidInput

NOT_OURS = "cursor is not one this API gave out; pass the `next_cursor` of the previous page"


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The `(created_at, id)` in `cursor`; `InvalidInput` for anything `encode_cursor` did not
    make (a made-up string, a time without its zone, an empty id)."""
    try:
        created, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(NOT_OURS) from None
    if moment.tzinfo is None or not row_id:
        raise InvalidInput(NOT_OURS)
    return moment, row_id
