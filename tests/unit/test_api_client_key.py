"""Which client a request's limits count (`tianfu.api.limits.client_address`): an IPv6
address that carries an IPv4 address (6to4, Teredo, NAT64, IPv4-translated and
IPv4-compatible forms) is that IPv4 client, however many /64s its form spans; clients
behind one translator are not one client; a zone id is not a new client."""

from __future__ import annotations

from pathlib import Path

import pytest

from tianfu.api.limits import client_address


def key(host: str) -> str:
    return client_address({"client": (host, 1)})


@pytest.mark.parametrize(
    ("ipv6", "ipv4"),
    [
        # 6to4: 192.0.2.4 owns all of 2002:c000:204::/48, 65,536 /64s
        ("2002:c000:204::1", "192.0.2.4"),
        ("2002:c000:204:1::1", "192.0.2.4"),
        ("2002:c000:204:ffff::1", "192.0.2.4"),
        # Teredo: the client's (obfuscated) public IPv4 address, not the Teredo server's /64
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),
        # NAT64 / SIIT well-known prefix: an IPv4 client translated into IPv6
        ("64:ff9b::c000:22d", "192.0.2.45"),
        # IPv4-translated (::ffff:0:0:0/96) and IPv4-compatible (::/96) forms
        ("::ffff:0:c000:22d", "192.0.2.45"),
        ("::c000:22d", "192.0.2.45"),
        ("::ffff:192.0.2.45", "192.0.2.45"),
    ],
)
def test_an_ipv6_form_of_an_ipv4_client_is_that_client(ipv6: str, ipv4: str) -> None:
    """6to4 gave one IPv4 host 65,536 clients (a /64 each inside its /48); a NAT64 or a
    Teredo server made all the IPv4 clients it carries one client (one /64), each
    penalising the others."""
    assert key(ipv6) == key(ipv4)


def test_clients_behind_one_translator_or_relay_are_different_clients() -> None:
    assert key("64:ff9b::c000:22d") != key("64:ff9b::c000:22e")
    teredo_server = "2001:0:4136:e378"
    one = f"{teredo_server}:8000:63bf:3fff:fdd2"
    other = f"{teredo_server}:8000:63bf:3fff:fdd1"
    assert key(one) != key(other)
    assert key("2002:c000:204::1") != key("2002:c000:205::1")


def test_a_zone_id_is_not_a_new_client() -> None:
    """The zone of a scoped address is the server's interface: the key leaves it out."""
    assert key("fe80::1%eth0") == key("fe80::1%eth1") == key("fe80::2")
    assert "%" not in key("fe80::1%eth0")


@pytest.mark.parametrize("host", ["::1", "::", "2001:db8::1", "1.2.3.4", "testclient"])
def test_other_addresses_keep_their_key(host: str) -> None:
    expected = {
        "::1": "::/56",
        "::": "::/56",
        "2001:db8::1": "2001:db8::/56",
        "1.2.3.4": "1.2.3.4",
        "testclient": "testclient",
    }
    assert key(host) == expected[host]


def _via(app_proxies: tuple[str, ...], peer: str, *forwarded: str) -> str:
    from types import SimpleNamespace

    from tianfu.api.limits import TrustedProxies

    app = SimpleNamespace(state=SimpleNamespace(trusted_proxies=TrustedProxies(app_proxies)))
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return client_address({"client": (peer, 1), "headers": headers, "app": app})


def test_x_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    """Many users behind one reverse proxy were one client (the proxy's address). An
    operator may declare the proxy trusted; its X-Forwarded-For then names the client.
    Never by default, never from another address, and what a client writes in the header
    itself is never reached."""
    proxy = ("10.9.0.0/24", "::1")
    # not declared (the default): the header is never read
    assert _via((), "10.9.0.5", "203.0.113.7") == "10.9.0.5"
    # from the trusted proxy: the address it forwarded for (as a client key: IPv6 is a /56)
    assert _via(proxy, "10.9.0.5", "203.0.113.7") == "203.0.113.7"
    assert _via(proxy, "::1", "2001:db8:1:2::99") == "2001:db8:1::/56"
    assert _via(proxy, "::ffff:10.9.0.5", "203.0.113.7") == "203.0.113.7"
    # not from the proxy: the header is the client's own words
    assert _via(proxy, "198.51.100.1", "203.0.113.7") == "198.51.100.1"
    # a client's forged entries are left of what the trusted proxy appended
    assert _via(proxy, "10.9.0.5", "1.1.1.1, 203.0.113.7") == "203.0.113.7"
    assert _via(proxy, "10.9.0.5", "1.1.1.1", "203.0.113.7") == "203.0.113.7"
    # through two trusted proxies: the first untrusted address from the right
    assert _via(proxy, "10.9.0.5", "1.1.1.1, 203.0.113.7, 10.9.0.6") == "203.0.113.7"
    # no header, or an entry that is not an address: the proxy's own address
    assert _via(proxy, "10.9.0.5") == "10.9.0.5"
    assert _via(proxy, "10.9.0.5", "unknown") == "10.9.0.5"
    assert _via(proxy, "10.9.0.5", "203.0.113.7:443") == "10.9.0.5"
    # a long chain of trusted hops is read at most MAX_FORWARDED_HOPS deep
    assert _via(proxy, "10.9.0.5", ", ".join(["203.0.113.7"] + ["10.9.0.6"] * 100)) == "10.9.0.6"


def test_trusted_proxies_come_from_the_node_config(tmp_path: Path) -> None:
    from tianfu.node.config import ConfigError, NodeConfig

    def config(api: str) -> Path:
        home = tmp_path / str(len(list(tmp_path.iterdir())))
        home.mkdir()
        (home / "node.toml").write_text(f'name = "n"\norg = "o"\n[api]\n{api}\n')
        return home

    loaded = NodeConfig.load(config('trusted_proxies = ["10.9.0.0/24", "::1"]'))
    assert loaded.trusted_proxies == ("10.9.0.0/24", "::1")
    assert NodeConfig.load(config("")).trusted_proxies == ()
    again = tmp_path / "again"
    again.mkdir()
    (again / "node.toml").write_text(loaded.dump())
    assert NodeConfig.load(again).trusted_proxies == ("10.9.0.0/24", "::1")
    for bad in ('trusted_proxies = ["10.9.0.0/33"]', 'trusted_proxies = "10.0.0.1"'):
        with pytest.raises(ConfigError, match="trusted"):
            NodeConfig.load(config(bad))


def test_a_trusted_proxys_clients_are_limited_apart() -> None:
    """Through the application: behind a declared proxy, one client at its per-client
    limit is refused while another client of the same proxy is served."""
    import anyio
    import httpx

    from tianfu.api.app import create_app
    from tianfu.api.readgate import ReadBudget

    class Service:
        max_body_bytes = 1 << 20

    app = create_app(Service(), trusted_proxies=("10.9.0.5",))  # type: ignore[arg-type]
    budget: ReadBudget = app.state.read_budget
    budget.total, budget.per_client = 3, 2
    answers: list[int] = []

    async def main() -> None:
        held = [await budget.acquire("203.0.113.7") for _ in range(budget.per_client)]
        transport = httpx.ASGITransport(app=app, client=("10.9.0.5", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as proxy:
            for user in ("203.0.113.7", "203.0.113.8"):
                # a read a route serves (what no route serves is not counted)
                r = await proxy.get("/openapi.json", headers={"x-forwarded-for": user})
                answers.append(r.status_code)
        for started in held:
            budget.release("203.0.113.7", started)

    anyio.run(main)
    assert answers == [429, 200]
    assert not budget.by_client


def test_a_host_given_a_56_or_a_48_is_not_hundreds_of_clients() -> None:
    """An IPv6 client was its /64: a site given a /56 (what ISPs commonly delegate to a
    home) was 256 clients and one given a /48 65,536, each with its own share of every
    per-client limit and its own stream-open rate. A client is now its /56: a /56 site is
    one client, a /48 site at most 256."""
    site56 = "2001:db8:aa:bb00::"
    keys56 = {key(f"2001:db8:aa:bb{i:02x}::{i + 1:x}") for i in range(256)}
    assert keys56 == {key(site56 + "1")}
    assert len(keys56) == 1
    keys48 = {key(f"2001:db8:aa:{i:04x}::1") for i in range(0, 0x10000, 0x40)}
    assert len(keys48) == 256  # every /56 of the /48 (sampled 4 /64s per /56)
    assert key("2001:db8:aa:bb00::1") != key("2001:db8:aa:bc00::1")


def test_a_trusted_proxy_network_of_every_address_is_refused() -> None:
    """`0.0.0.0/0` (or `::/0`, or `::ffff:0:0/96`, every IPv4 address in its mapped form)
    trusted every connection and every X-Forwarded-For entry: any client named itself the
    client it pleased (here 198.51.100.1 posed as 203.0.113.7). Such a list is refused,
    naming the network, where the node's config is read."""
    from tianfu.api.limits import TrustedProxies
    from tianfu.node.config import _trusted_proxies

    for everything in ("0.0.0.0/0", "::/0", "::ffff:0:0/96", "::ffff:0.0.0.0/96"):
        with pytest.raises(ValueError, match="every address"):
            TrustedProxies(("10.9.0.0/24", everything))
        with pytest.raises(ValueError, match="every address"):
            _trusted_proxies([everything])


def test_a_trusted_proxy_given_in_its_ipv4_mapped_form_is_trusted() -> None:
    """A proxy declared as `::ffff:10.9.0.5` (how a dual-stack socket shows it) was never
    trusted: a connection's IPv4-mapped address is compared as IPv4, and an IPv6 network
    never holds an IPv4 address, so its users stayed one client, silently."""
    for declared in ("::ffff:10.9.0.5", "::ffff:10.9.0.0/120"):
        for peer in ("10.9.0.5", "::ffff:10.9.0.5"):
            assert _via((declared,), peer, "203.0.113.7") == "203.0.113.7", (declared, peer)
    assert _via(("::ffff:10.9.0.5",), "10.9.0.6", "203.0.113.7") == "10.9.0.6"


def test_a_long_x_forwarded_for_is_read_from_its_last_entries_only() -> None:
    """A trusted proxy passing on a header of 10,000 entries: only the last
    `MAX_FORWARDED_HOPS` are looked at (the client is found from the right)."""
    from tianfu.api.limits import MAX_FORWARDED_HOPS

    proxy = ("10.9.0.0/24",)
    forged = ", ".join(f"10.9.0.{i % 250}" for i in range(10_000))
    assert _via(proxy, "10.9.0.5", forged + ", 203.0.113.7") == "203.0.113.7"
    # every one of the last entries a trusted hop: the walk stops after MAX_FORWARDED_HOPS
    hops = [f"10.9.0.{i}" for i in range(MAX_FORWARDED_HOPS + 4)]
    assert _via(proxy, "10.9.0.5", "203.0.113.7, " + ", ".join(hops)) == hops[4]
