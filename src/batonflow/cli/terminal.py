"""What every command shares at the terminal: consoles, common options, exit on errors, JSON.

Light to import (typer, rich and the error tree): settings, logging and the event loop are
loaded when a command runs, so `--help` and argument errors come back at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from batonflow.cli.display import when
from batonflow.errors import BatonflowError, InvalidInput, UserError

if TYPE_CHECKING:
    from batonflow.settings import Settings

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TenantOpt = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant slug (default: BATONFLOW_TENANT, else 'default')."),
]


def settings_for(tenant: str | None = None, *, command: str = "cli") -> Settings:
    """The command's settings, read once; the process's logging is set up from them."""
    from batonflow.settings import Settings
    from batonflow.telemetry import logs

    settings = Settings()
    try:
        logs.configure(settings, command=command)
    except BatonflowError as exc:
        fail(exc)
    return settings.model_copy(update={"tenant": tenant}) if tenant else settings


def run(coro: Awaitable[T], *, serving: bool = False) -> T:
    """Run a command's coroutine. The long-running ones (`serve`, `worker`: `serving`) get
    uvloop's event loop, which spends about half of asyncio's time per socket event and per
    thread hand-off; one-shot commands keep the standard loop."""
    try:
        if serving:
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coro)  # type: ignore[arg-type]
        return asyncio.run(coro)  # type: ignore[arg-type]
    except BatonflowError as exc:
        fail(exc)


def fail(exc: BatonflowError) -> NoReturn:
    errors.print(
        f"[red]error[/red] ({exc.code}): {escape(exc.message)}", markup=True, highlight=False
    )
    raise typer.Exit(2 if isinstance(exc, UserError) else 1)


def dump(value: Any) -> None:
    """`value` as JSON; times in the CLI's one convention (`display.when`)."""
    sys.stdout.write(json.dumps(value, indent=2, default=_plain, sort_keys=True) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return when(value)
    return str(value)


def input_pairs(pairs: list[str]) -> dict[str, Any]:
    """`--input key=value` pairs; a value that reads as JSON (true, 3, [1]) is taken as JSON,
    anything else as text."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--input takes key=value, got '{pair}'")
        try:
            inputs[key] = json.loads(raw)
        except ValueError:
            inputs[key] = raw
    return inputs
