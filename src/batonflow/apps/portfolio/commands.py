"""The portfolio app's commands: `batonflow portfolio import FILE.csv`, `reconcile`, `packs
build|list`, `execute PATTERN --input ...` and the listings (each with `--json`)."""

from __future__ import annotations

import typer

from batonflow.apps.portfolio import ledger_commands, pack_commands, pattern_commands

commands = typer.Typer(no_args_is_help=True, help="The portfolio app: ledger, packs, analytics.")
for part in (ledger_commands, pack_commands, pattern_commands):
    part.register(commands)
