"""A recorded result as a file: CSV, JSON or PDF, each carrying its sources' attribution.

`authorise` decides, in the caller's transaction, whether a result may leave as a file (every
source it used must allow export, `rights.check_export`) and writes the audit entry either way
(`portfolio.export` or `portfolio.export_refused`, naming the sources and their terms). An
allowed export is redacted: what the output check (`llm/leaks.py`) finds in the result (a
narrative a model wrote quoting a secret, a credential) leaves as `[redacted: <what>]`, and the
audit entry's `redacted` lists what was found. Redacted, not refused: the stored result is
immutable (its hash pins it), so refusing would make it unexportable for good, and the numbers
around the leak are the export's point. The API
commits that transaction before it answers a refusal with 403, so every refusal is on record.
The platform's events are a run's events; an export is not part of a run, so its audit entry
is its event.

What each format carries (`attribution`: one line per source):

- JSON: the result row (ids, pack, ledger hash, result hash, inputs, result, sources) with
  `attribution` (a list), `notice` (who may not receive it, or null) and `watermark` (the
  licence watermark text when a source requires one, or null).
- CSV: spreadsheet-friendly blocks of rows, separated by an empty row: the header block
  (`Result`, `Pattern`, `Portfolio`, `Pricing pack`, `Ledger commit`, `Result hash`,
  `Computed at`, an `Unbooked split` row per split of the pack the ledger lacks, `Narrative`:
  label, value; an absent one is left out), the positions table (its header row first), the
  metrics (`metric,value`), and last
  the licence block: an `Attribution,<line>` row per source, then `Notice,<text>` and
  `Watermark,<text>` when they apply. A text cell a spreadsheet would run as a formula (=, +,
  -, @ first) gets a leading apostrophe; numbers stay numbers.
- PDF (`export_pdf`): the same blocks laid out, the attribution in every page's footer, and
  the watermark drawn across every page when a source requires one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from batonflow.apps.portfolio import export_pdf, results, rights
from batonflow.apps.portfolio.rights import Verdict
from batonflow.audit import log as audit
from batonflow.errors import PermissionDenied
from batonflow.llm.leaks import LeakCheck, labels
from batonflow.store.db import Conn

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}
POSITION_COLUMNS = export_pdf.COLUMNS


@dataclass(frozen=True, slots=True)
class Export:
    body: bytes
    media_type: str
    filename: str


async def authorise(
    conn: Conn,
    tenant_id: str,
    result_id: str,
    fmt: str,
    *,
    actor: audit.Acting,
    now: datetime,
    leaks: LeakCheck | None = None,
) -> tuple[dict[str, Any], Verdict]:
    """The result (redacted) and the verdict on exporting it as `fmt`, audited (allowed or
    refused)."""
    row = await results.get(conn, tenant_id, result_id)
    verdict = rights.check_export(await rights.effective(conn, tenant_id), row["sources"], fmt)
    details: dict[str, Any] = {"format": fmt, "sources": row["sources"]}
    if verdict.allowed:
        details["watermark"] = verdict.watermark
        action = "portfolio.export"
        checker = leaks or LeakCheck()
        found = checker.find_in(row["result"])
        if found:
            details["redacted"] = labels(found)
            row = {**row, "result": checker.redact_value(row["result"])}
    else:
        details["reasons"] = list(verdict.reasons)
        action = "portfolio.export_refused"
    await audit.record(
        conn,
        tenant_id,
        action,
        actor=actor,
        now=now,
        target=("portfolio_result", result_id),
        details=details,
    )
    return row, verdict


def refusal(verdict: Verdict) -> PermissionDenied:
    """The error a refused export answers with (403), each forbidding source named."""
    return PermissionDenied(
        f"export refused: {verdict.reason}",
        details={"reasons": list(verdict.reasons)},
    )


def render(row: Mapping[str, Any], verdict: Verdict, fmt: str) -> Export:
    """The file of an allowed export (`authorise` first: a refused verdict is an error here)."""
    if not verdict.allowed:
        raise refusal(verdict)
    name = f"result-{row['pattern_id']}-{str(row['id'])[:8]}.{fmt}"
    if fmt == "json":
        body = to_json(row, verdict)
    elif fmt == "csv":
        body = to_csv(row, verdict)
    else:
        body = export_pdf.render(
            header=header(row),
            positions=positions(row),
            metrics=metrics(row),
            narrative=narrative(row),
            attribution=[*verdict.attribution, *([verdict.notice] if verdict.notice else [])],
            watermark=verdict.watermark,
        )
    return Export(body=body, media_type=MEDIA[fmt], filename=name)


def _section(row: Mapping[str, Any], name: str) -> Any:
    body = row.get("result")
    return body.get(name) if isinstance(body, Mapping) else None


def header(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The label and value rows that say what the result is and what it was computed from."""
    found = [
        ("Result", row.get("id")),
        ("Pattern", f"{row.get('pattern_id')} v{row.get('pattern_version')}"),
        ("Portfolio", row.get("portfolio_id")),
        ("Pricing pack", row.get("pricing_pack_id")),
        ("Ledger commit", row.get("ledger_commit_hash")),
        ("Result hash", row.get("result_hash")),
        ("Computed at", _text(row.get("created_at"))),
    ]
    splits = _section(row, "unbooked_splits")
    for split in splits if isinstance(splits, list) else []:
        found.append(("Unbooked split", _split(split)))
    return [(label, str(value)) for label, value in found if value not in (None, "")]


def _split(split: Mapping[str, Any]) -> str:
    """A split of the pack the ledger lacks (`actions.py`), as a sentence that says what to do."""
    return (
        f"{split.get('symbol')}: {split.get('ratio')} new shares per share on "
        f"{split.get('date')} ({split.get('held')} held; from {split.get('source')}); "
        "the values after it are off until the ledger books it"
    )


def positions(row: Mapping[str, Any]) -> list[list[str]]:
    """The positions table's rows (without its header); none when the result has none."""
    found = _section(row, "positions")
    if not isinstance(found, list):
        return []
    return [
        [_text(item.get(column)) for column in POSITION_COLUMNS]
        for item in found
        if isinstance(item, Mapping)
    ]


def metrics(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The metrics as name and value rows, in the result's order (a nested value as JSON)."""
    found = _section(row, "metrics")
    if not isinstance(found, Mapping):
        return []
    return [(str(name), _text(value)) for name, value in found.items()]


def narrative(row: Mapping[str, Any]) -> str | None:
    found = _section(row, "narrative")
    return found if isinstance(found, str) and found.strip() else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping | list):
        return results.canonical(value).decode("utf-8")
    return str(value)


def to_json(row: Mapping[str, Any], verdict: Verdict) -> bytes:
    document = {
        "result_id": row["id"],
        "run_id": row.get("run_id"),
        "pattern_id": row.get("pattern_id"),
        "pattern_version": row.get("pattern_version"),
        "portfolio_id": row.get("portfolio_id"),
        "pricing_pack_id": row.get("pricing_pack_id"),
        "ledger_commit_hash": row.get("ledger_commit_hash"),
        "result_hash": row.get("result_hash"),
        "created_at": _text(row.get("created_at")),
        "inputs": row.get("inputs"),
        "result": row.get("result"),
        "sources": row.get("sources"),
        "attribution": list(verdict.attribution),
        "notice": verdict.notice,
        "watermark": verdict.watermark,
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _cell(text: str) -> str:
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def to_csv(row: Mapping[str, Any], verdict: Verdict) -> bytes:
    blocks: list[Sequence[Sequence[str]]] = [
        [
            *([label, value] for label, value in header(row)),
            *([["Narrative", text]] if (text := narrative(row)) else []),
        ]
    ]
    table = positions(row)
    if table:
        blocks.append([list(POSITION_COLUMNS), *table])
    named = metrics(row)
    if named:
        blocks.append([["metric", "value"], *([name, value] for name, value in named)])
    licence = [["Attribution", line] for line in verdict.attribution]
    if verdict.notice:
        licence.append(["Notice", verdict.notice])
    if verdict.watermark:
        licence.append(["Watermark", verdict.watermark])
    blocks.append(licence)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for number, block in enumerate(blocks):
        if number:
            writer.writerow([])
        writer.writerows([_cell(cell) for cell in line] for line in block)
    return buffer.getvalue().encode("utf-8")
