"""`python -m tests.apps.scoping.serve_model`: the scoping tests' scripted model on a loopback
port (its URL printed first), for the browser tests, until interrupted."""

from __future__ import annotations

import asyncio
import contextlib

from batonflow_testkit.fakeserver import FakeProvider
from tests.apps.scoping.model import Scoping


async def serve() -> None:
    async with FakeProvider(respond=Scoping()) as server:
        print(server.url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
