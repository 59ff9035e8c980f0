"""Outbound HTTP: the one way tools and model providers reach the network (docs/security.md).

    http = Outbound(policy).limited(["api.example.com"])
    response = await http.request("GET", "https://api.example.com/rates")

`GuardedTransport` refuses hosts outside the allowlist, resolves each name itself and refuses
private and other non-public addresses (unless `BATONFLOW_ALLOW_PRIVATE_HOSTS` allows them),
connects to the address it checked (so a rebinding DNS answer cannot swap it), checks every
redirect hop the same way and caps the answer's size. Origins the operator configured (a model
provider's base URL) skip the address check but keep the cap and refuse redirects elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import httpx2

from batonflow.errors import OutboundRefused
from batonflow.settings import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """`private`: hosts or networks (`127.0.0.1`, `10.0.0.0/8`, `intranet.example`) allowed
    although private; `*` allows every private address."""

    private: tuple[str, ...] = ()
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    timeout: float = 30.0

    def private_allowed(self, host: str, address: IpAddress) -> bool:
        for entry in self.private:
            if entry in ("*", host.lower()):
                return True
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


def host_allowed(host: str, allowlist: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowlist:
        entry = entry.lower()
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def _not_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise OutboundRefused(f"'{host}' does not resolve: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class _Capped(httpx.AsyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, inner: Any, limit: int, url: httpx.URL) -> None:
        self.inner, self.limit, self.url = inner, limit, url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.inner:
            seen += len(chunk)
            if seen > self.limit:
                raise OutboundRefused(
                    f"the answer from {self.url.host} passed {self.limit} bytes",
                    details={"host": self.url.host, "max_bytes": self.limit},
                )
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request (see the module docstring) before `inner` sends it."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        hosts: Iterable[str] | None = None,
        trusted: Iterable[str] = (),
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.hosts = None if hosts is None else tuple(hosts)
        self.trusted = frozenset(origin_of(url) for url in trusted)
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if origin_of(url) not in self.trusted:
            request = await self._checked(request)
        response = await self.inner.handle_async_request(request)
        await _refuse_oversized(response, url, self.policy.max_bytes)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Capped(response.stream, self.policy.max_bytes, url),
            extensions=response.extensions,
            request=request,
        )

    async def _checked(self, request: httpx.Request) -> httpx.Request:
        url = request.url
        host = url.host
        details = {"host": host, "url": str(url.copy_with(query=None, fragment=None))}
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(f"'{url.scheme}' URLs are not fetched", details=details)
        if self.hosts is not None and not host_allowed(host, self.hosts):
            allowed = ", ".join(self.hosts) or "no hosts"
            raise OutboundRefused(
                f"'{host}' is not among the hosts this call may reach ({allowed})", details=details
            )
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await resolve(host, port)
        for address in addresses:
            if _not_public(address) and not self.policy.private_allowed(host, address):
                raise OutboundRefused(
                    f"'{host}' resolves to {address}, a private, loopback or link-local address "
                    "(BATONFLOW_ALLOW_PRIVATE_HOSTS allows named hosts or networks)",
                    details={**details, "address": str(address)},
                )
        address = addresses[0]
        if str(address) == host:
            return request
        # Connect to the address just checked; the Host header and TLS name stay the host's.
        pinned = url.copy_with(host=str(address))
        extensions = {**request.extensions, "sni_hostname": host}
        return httpx.Request(
            request.method,
            pinned,
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def origin_of(url: str | httpx.URL) -> str:
    url = httpx.URL(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{url.host.lower()}:{port}"


@dataclass(frozen=True, slots=True)
class Outbound:
    """The outbound client's policy, limited to `hosts` (None: any public host)."""

    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    hosts: tuple[str, ...] | None = None

    def limited(self, hosts: Iterable[str]) -> Outbound:
        return replace(self, hosts=tuple(hosts))

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client through the guard; close it (`async with`)."""
        kwargs.setdefault("timeout", self.policy.timeout)
        return httpx.AsyncClient(
            transport=GuardedTransport(self.policy, hosts=self.hosts),
            follow_redirects=True,
            max_redirects=self.policy.max_redirects,
            trust_env=False,
            **kwargs,
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read the whole answer (within the size cap)."""
        scheme = httpx.URL(url).scheme
        if scheme not in ("http", "https"):
            raise OutboundRefused(f"'{scheme}' URLs are not fetched", details={"url": url})
        async with self.client() as client:
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.TooManyRedirects:
                raise OutboundRefused(
                    f"more than {self.policy.max_redirects} redirects from {url}"
                ) from None
            await response.aread()
            return response


def provider_transport(
    policy: OutboundPolicy, base_url: str, inner: httpx.AsyncBaseTransport
) -> GuardedTransport:
    """The transport of a model provider's SDK client: its configured base URL is trusted, any
    other host (a redirect elsewhere) is refused, and answers are capped."""
    return GuardedTransport(policy, hosts=(), trusted=[base_url], inner=inner)


class ProviderTransport2(httpx2.AsyncBaseTransport):
    """`provider_transport` for SDKs built on httpx2 (the Anthropic SDK's fork of httpx): the
    configured base URL only, answers capped."""

    def __init__(
        self, policy: OutboundPolicy, base_url: str, inner: httpx2.AsyncBaseTransport
    ) -> None:
        self.policy, self.trusted, self.inner = policy, origin_of(base_url), inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = httpx.URL(str(request.url))
        if origin_of(url) != self.trusted:
            raise OutboundRefused(
                f"'{url.host}' is not among the hosts this call may reach (no hosts)",
                details={"host": url.host},
            )
        response = await self.inner.handle_async_request(request)
        await _refuse_oversized(response, url, self.policy.max_bytes)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_Capped(response.stream, self.policy.max_bytes, url),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def policy_of(settings: Settings) -> OutboundPolicy:
    private = tuple(h.strip() for h in settings.allow_private_hosts.split(",") if h.strip())
    return OutboundPolicy(private=private, max_bytes=settings.outbound_max_bytes)


async def _refuse_oversized(response: Any, url: httpx.URL, max_bytes: int) -> None:
    """Close and refuse an answer whose declared length is over the cap (a longer one without
    a length is cut by `_Capped` as it streams)."""
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        await response.aclose()
        raise OutboundRefused(
            f"the answer from {url.host} is {length} bytes, over {max_bytes}",
            details={"host": url.host, "max_bytes": max_bytes},
        )
