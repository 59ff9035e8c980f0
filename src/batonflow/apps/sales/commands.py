"""The sales app's commands: `batonflow sales ...` (each listing with `--json`)."""

from __future__ import annotations

from types import ModuleType

import typer

from batonflow.apps.sales import (
    agent_commands,
    crm_commands,
    email_commands,
    finance_commands,
    negotiation_commands,
    pipeline_commands,
    timeline_commands,
)

# each part's module has `register(commands)`
PARTS: tuple[ModuleType, ...] = (
    crm_commands,
    agent_commands,
    negotiation_commands,
    email_commands,
    finance_commands,
    pipeline_commands,
    timeline_commands,
)

commands = typer.Typer(no_args_is_help=True, help="The sales app: leads to cash.")
for part in PARTS:
    part.register(commands)
