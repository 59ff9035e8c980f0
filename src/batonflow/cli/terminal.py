"""What every command shares at the terminal: consoles, common options, exit on errors, JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import uvloop
from rich.console import Console
from rich.markup import escape

from batonflow.errors import BatonflowError, UserError
from batonflow.settings import Settings
from batonflow.telemetry import logs

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TenantOpt = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant slug (default: BATONFLOW_TENANT or 'default')."),
]


def settings_for(tenant: str | None = None, *, command: str = "cli") -> Settings:
    """The command's settings, read once; the process's logging is set up from them."""
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
    sys.stdout.write(json.dumps(value, indent=2, default=str, sort_keys=True) + "\n")
