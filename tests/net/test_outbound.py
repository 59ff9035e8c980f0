"""The outbound HTTP guard against a real HTTP server on loopback: private addresses refused
unless allowed, host allowlists, redirects checked hop by hop, answers capped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from aiohttp import web

from batonflow.errors import OutboundRefused
from batonflow.net.outbound import (
    Outbound,
    OutboundPolicy,
    ProviderTransport2,
    host_allowed,
    policy_of,
    provider_transport,
)
from batonflow.settings import Settings

LOOPBACK = OutboundPolicy(private=("127.0.0.1",))


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "host": request.headers["Host"]})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 200_000)

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to refuse up front
        await response.prepare(request)
        for _ in range(50):
            await response.write(b"y" * 10_000)
        return response

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/big", big)
    app.router.add_get("/stream", stream)
    app.router.add_get("/redirect", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_loopback_is_refused_unless_the_operator_allows_it(server: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        await Outbound().request("GET", f"{server}/ok")
    assert refused.value.message == (
        "'127.0.0.1' resolves to 127.0.0.1, a private, loopback or link-local address "
        "(BATONFLOW_ALLOW_PRIVATE_HOSTS allows named hosts or networks)"
    )

    for allowed in (("127.0.0.1",), ("127.0.0.0/8",), ("*",)):
        response = await Outbound(OutboundPolicy(private=allowed)).request("GET", f"{server}/ok")
        assert (response.status_code, response.json()) == (
            200,
            {"ok": True, "host": server.removeprefix("http://")},
        )


async def test_a_name_is_checked_by_the_address_it_resolves_to(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(OutboundRefused, match=r"'localhost' resolves to .*loopback"):
        await Outbound().request("GET", f"http://localhost:{port}/ok")
    for metadata in ("169.254.169.254", "[::1]", "10.0.0.8", "0.0.0.0"):
        with pytest.raises(OutboundRefused, match="private, loopback or link-local"):
            await Outbound().request("GET", f"http://{metadata}/latest/meta-data/")


async def test_only_the_allowed_hosts_are_reached(server: str) -> None:
    limited = Outbound(LOOPBACK).limited(["api.example.com"])
    with pytest.raises(OutboundRefused) as refused:
        await limited.request("GET", f"{server}/ok")
    assert refused.value.message == (
        "'127.0.0.1' is not among the hosts this call may reach (api.example.com)"
    )
    with pytest.raises(OutboundRefused, match="'file' URLs are not fetched"):
        await Outbound(LOOPBACK).request("GET", "file:///etc/passwd")
    assert host_allowed("eu.api.example.com", ["*.example.com"])
    assert not host_allowed("example.com.evil.net", ["*.example.com", "example.com"])


async def test_redirects_are_followed_only_to_allowed_hosts(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    here = Outbound(LOOPBACK).limited(["127.0.0.1"])
    response = await here.request("GET", f"{server}/redirect?to=/ok")
    assert response.json() == {"ok": True, "host": f"127.0.0.1:{port}"}

    with pytest.raises(OutboundRefused, match="'localhost' is not among the hosts"):
        await here.request("GET", f"{server}/redirect?to=http://localhost:{port}/ok")
    anywhere = Outbound(LOOPBACK)  # no allowlist: still no private address by a redirect
    with pytest.raises(OutboundRefused, match=r"169\.254\.169\.254"):
        await anywhere.request("GET", f"{server}/redirect?to=http://169.254.169.254/")


async def test_answers_over_the_size_cap_are_refused(server: str) -> None:
    small = Outbound(OutboundPolicy(private=("127.0.0.1",), max_bytes=100_000))
    with pytest.raises(OutboundRefused) as refused:
        await small.request("GET", f"{server}/big")
    assert refused.value.message == "the answer from 127.0.0.1 is 200000 bytes, over 100000"
    with pytest.raises(OutboundRefused) as streamed:
        await small.request("GET", f"{server}/stream")
    assert streamed.value.message == "the answer from 127.0.0.1 passed 100000 bytes"
    assert (await small.request("GET", f"{server}/ok")).status_code == 200


def test_the_policy_comes_from_settings() -> None:
    settings = Settings(allow_private_hosts="127.0.0.1, 10.0.0.0/8", outbound_max_bytes=4096)
    assert policy_of(settings) == OutboundPolicy(
        private=("127.0.0.1", "10.0.0.0/8"), max_bytes=4096
    )
    assert policy_of(Settings()).private == ()


async def test_a_providers_configured_url_is_trusted_and_no_other_host(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    transport = provider_transport(OutboundPolicy(), f"{server}/v1", httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        assert (await client.get(f"{server}/ok")).json()["ok"] is True  # loopback, configured
        with pytest.raises(OutboundRefused) as refused:
            await client.get(f"{server}/redirect?to=http://localhost:{port}/ok")
    assert refused.value.message == (
        "'localhost' is not among the hosts this call may reach (no hosts)"
    )


async def test_the_anthropic_sdks_transport_trusts_only_its_url_and_caps_answers(
    server: str,
) -> None:
    port = server.rsplit(":", 1)[1]
    policy = OutboundPolicy(max_bytes=100_000)
    transport = ProviderTransport2(policy, server, httpx2.AsyncHTTPTransport())
    async with httpx2.AsyncClient(transport=transport, follow_redirects=True) as client:
        assert (await client.get(f"{server}/ok")).json()["ok"] is True
        with pytest.raises(OutboundRefused) as refused:
            await client.get(f"{server}/redirect?to=http://localhost:{port}/ok")
        with pytest.raises(OutboundRefused) as capped:
            await client.get(f"{server}/stream")
    assert refused.value.message == (
        "'localhost' is not among the hosts this call may reach (no hosts)"
    )
    assert capped.value.message == "the answer from 127.0.0.1 passed 100000 bytes"
