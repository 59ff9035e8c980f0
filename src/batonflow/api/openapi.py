"""The API's OpenAPI document as a file, the source of the dashboard's generated types
(`make web-types`): `python -m batonflow.api.openapi web/openapi.json` (no path: stdout).

`app.openapi()` reads only the routes, so no database is needed; the settings are fixed and
every installed app is enabled, so the same code always writes the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from batonflow.api.app import create_app
from batonflow.apps.app import load_apps
from batonflow.settings import DEV_SECRET, Settings
from batonflow.telemetry.process import Telemetry


def document() -> dict[str, Any]:
    """The OpenAPI document of the app `create_app` builds."""
    settings = Settings(dev=True, secret_key=DEV_SECRET, executor="none")
    apps = load_apps(None)
    return create_app(settings, executor=False, telemetry=Telemetry(), apps=apps).openapi()


def render(openapi: dict[str, Any]) -> str:
    """`openapi` as stable JSON text: sorted keys, two-space indent, a final newline."""
    return json.dumps(openapi, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the document to the path given, or to stdout."""
    args = sys.argv[1:] if argv is None else argv
    text = render(document())
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
