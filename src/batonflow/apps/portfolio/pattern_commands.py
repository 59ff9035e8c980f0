"""(being written)"""

import typer


def register(commands: typer.Typer) -> None:
    pass
