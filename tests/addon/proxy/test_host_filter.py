"""HostFilter: intercept LLM API hosts, tunnel every other TLS connection untouched."""

from __future__ import annotations

import ssl

import pytest
from mitmproxy import tls
from mitmproxy.proxy import context
from mitmproxy.proxy.layers.tls import parse_client_hello
from mitmproxy.test import taddons, tflow

from addon.proxy.host_filter import DEFAULT_HOSTS, HostFilter, host_matches


@pytest.mark.parametrize(
    "host, port, patterns",
    [
        ("api.anthropic.com", 443, ["api.anthropic.com"]),
        ("API.Anthropic.COM", 443, ["api.anthropic.com"]),
        ("api.anthropic.com.", 443, ["api.anthropic.com"]),  # fully qualified form
        ("api.anthropic.com", 443, [" API.ANTHROPIC.COM "]),
        ("api.anthropic.com", None, ["api.anthropic.com"]),
        ("eu.api.example.com", 443, ["*.example.com"]),
        ("a.example.com", 443, ["*.example.com"]),
        ("localhost", 8080, ["localhost:8080"]),
        ("llm.internal", 8443, ["*.internal:8443"]),
        ("::1", 11434, ["::1"]),  # an IPv6 address is a name, not name:port
        ("api.openai.com", 443, ["other.com", "api.openai.com"]),
    ],
)
def test_host_matches(host: str, port: int | None, patterns: list[str]) -> None:
    assert host_matches(host, port, patterns)


@pytest.mark.parametrize(
    "host, port, patterns",
    [
        ("api.anthropic.com", 443, []),
        ("evil-api.anthropic.com", 443, ["api.anthropic.com"]),
        ("api.anthropic.com.evil.com", 443, ["api.anthropic.com"]),
        ("anthropic.com", 443, ["api.anthropic.com"]),
        ("example.com", 443, ["*.example.com"]),  # the wildcard needs a subdomain
        ("example.com.evil.net", 443, ["*.example.com"]),
        ("localhost", 8081, ["localhost:8080"]),
        ("localhost", None, ["localhost:8080"]),
        ("llm.internal", 443, ["*.internal:8443"]),
    ],
)
def test_host_does_not_match(host: str, port: int | None, patterns: list[str]) -> None:
    assert not host_matches(host, port, patterns)


def client_hello(sni: str | None) -> tls.ClientHello:
    """A real ClientHello, as OpenSSL would send it for this server name."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    hello = parse_client_hello(outgoing.read())
    assert hello is not None and hello.sni == sni
    return hello


def hello_data(tctx: taddons.context, sni: str | None, address: tuple[str, int] | None = None) -> tls.ClientHelloData:
    ctx = context.Context(tflow.tclient_conn(), tctx.options)
    ctx.server.address = address
    return tls.ClientHelloData(ctx, client_hello(sni))


@pytest.mark.parametrize("host", [h.replace("*", "europe-west4") for h in DEFAULT_HOSTS])
def test_llm_hosts_are_intercepted(host: str) -> None:
    with taddons.context(HostFilter()) as tctx:
        data = hello_data(tctx, host, (host, 443))
        tctx.master.addons.get("hostfilter").tls_clienthello(data)
        assert not data.ignore_connection


@pytest.mark.parametrize("host", ["github.com", "pypi.org", "anthropic.com", "statsig.anthropic.com", "oauth2.googleapis.com", "play.googleapis.com"])
def test_other_hosts_are_tunnelled(host: str) -> None:
    with taddons.context(HostFilter()) as tctx:
        data = hello_data(tctx, host, (host, 443))
        tctx.master.addons.get("hostfilter").tls_clienthello(data)
        assert data.ignore_connection


def test_sni_wins_over_the_server_address() -> None:
    # A client connecting by IP still names the API in SNI, and vice versa.
    with taddons.context(HostFilter()) as tctx:
        addon = tctx.master.addons.get("hostfilter")
        by_sni = hello_data(tctx, "api.openai.com", ("104.18.6.192", 443))
        addon.tls_clienthello(by_sni)
        assert not by_sni.ignore_connection
        other_sni = hello_data(tctx, "example.org", ("api.openai.com", 443))
        addon.tls_clienthello(other_sni)
        assert other_sni.ignore_connection


def test_without_sni_the_server_address_decides() -> None:
    with taddons.context(HostFilter()) as tctx:
        addon = tctx.master.addons.get("hostfilter")
        known = hello_data(tctx, None, ("api.anthropic.com", 443))
        addon.tls_clienthello(known)
        assert not known.ignore_connection
        unknown = hello_data(tctx, None, ("10.0.0.1", 443))
        addon.tls_clienthello(unknown)
        assert unknown.ignore_connection
        nothing = hello_data(tctx, None, None)
        addon.tls_clienthello(nothing)
        assert nothing.ignore_connection


def test_headroom_hosts_option_adds_hosts() -> None:
    host_filter = HostFilter()
    with taddons.context(host_filter) as tctx:
        deepseek = hello_data(tctx, "api.deepseek.com", ("api.deepseek.com", 443))
        host_filter.tls_clienthello(deepseek)
        assert deepseek.ignore_connection

        tctx.configure(host_filter, headroom_hosts=["api.deepseek.com", "*.groq.com", "localhost:11434"])
        for sni, address in [
            ("api.deepseek.com", ("api.deepseek.com", 443)),
            ("api.groq.com", ("api.groq.com", 443)),
            (None, ("localhost", 11434)),
            ("api.anthropic.com", ("api.anthropic.com", 443)),  # the built-in hosts stay
        ]:
            data = hello_data(tctx, sni, address)
            host_filter.tls_clienthello(data)
            assert not data.ignore_connection, sni or address

        wrong_port = hello_data(tctx, None, ("localhost", 8080))
        host_filter.tls_clienthello(wrong_port)
        assert wrong_port.ignore_connection
        assert host_filter.wants("api.groq.com", 443) and not host_filter.wants("groq.com", 443)
