"""Reading an uploaded CSV for an import (the apps' lead and ledger imports): UTF-8 text (a BOM
is fine) whose header row names known columns in any order, at most `max_rows` rows. Blank rows
are skipped; a row whose cell count differs from the header's is kept with its one problem under
the column "", so the import reports it by row number beside the others."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from batonflow.errors import InvalidInput


@dataclass
class Row:
    number: int  # the file's line, the header being 1
    cells: dict[str, str]  # stripped, by lower-cased column; {"": problem} for a broken row


def read_rows(
    data: bytes, columns: Sequence[str], required: Sequence[str], max_rows: int
) -> list[Row]:
    """The file's rows as cells by column; `InvalidInput` when the file itself is unusable."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8 text; save it as UTF-8") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if not any(header):
        raise InvalidInput(f"the CSV needs a header row: {','.join(columns)}")
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; the columns are "
            f"{','.join(columns)}"
        )
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise InvalidInput(f"the header repeats {', '.join(doubled)}")
    missing = [r for r in required if r not in header]
    if missing:
        raise InvalidInput(f"the header lacks the required column(s) {', '.join(missing)}")
    rows: list[Row] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= max_rows:
            raise InvalidInput(f"a CSV has at most {max_rows} rows; split the file")
        if len(values) != len(header):
            cells = {"": f"{len(values)} cells where the header has {len(header)}; fix the row"}
        else:
            cells = {h: v.strip() for h, v in zip(header, values, strict=True)}
        rows.append(Row(reader.line_num, cells))
    return rows
