"""`batonflow serve` for the browser tests, with the dashboard mounted.

Runs the real CLI command (`python tests/e2e/serve.py serve --demo ...` takes the same arguments
as `batonflow serve`); `mount_dashboard` is applied to the app `create_app` builds. Once
`create_app` mounts the dashboard itself, mounting it again here serves the same bundle.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from batonflow.api import app as app_module
from batonflow.api.web import mount_dashboard
from batonflow.cli.main import app as cli

_create_app = app_module.create_app


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    application = _create_app(*args, **kwargs)
    mount_dashboard(application)
    return application


if __name__ == "__main__":
    app_module.create_app = create_app  # type: ignore[assignment]
    cli()
