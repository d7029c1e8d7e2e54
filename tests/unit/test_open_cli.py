"""Unit tests: the open profile on the command line — `network init --profile open`,
`account create` — and an account identity on disk."""

import json

from typer.testing import CliRunner

from tianfu.cli.main import app
from tianfu.execution.contract_api import address_of
from tianfu.identity import Identity
from tianfu.types import OpenGenesis, decode_genesis

runner = CliRunner()


def test_network_init_open_profile(tmp_path):
    out = tmp_path / "net"
    r = runner.invoke(
        app,
        ["network", "init", "--out", str(out), "--orgs", "2", "--profile", "open",
         "--open-contract", "hello", "--pow-bits", "8", "--quota-gas", "100000", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["profile"] == "open"
    g = decode_genesis((out / "genesis.bin").read_bytes())
    assert isinstance(g, OpenGenesis) and g.profile == "open"
    assert g.open_profile.open_contracts == ["hello"] and g.open_profile.pow_bits == 8
    assert g.open_profile.quota_gas == 100_000


def test_network_init_default_is_consortium(tmp_path):
    out = tmp_path / "net"
    r = runner.invoke(app, ["network", "init", "--out", str(out), "--orgs", "1"])
    assert r.exit_code == 0, r.output
    g = decode_genesis((out / "genesis.bin").read_bytes())
    assert type(g).__name__ == "Genesis" and g.profile == "consortium"


def test_network_init_refuses_unknown_profile(tmp_path):
    r = runner.invoke(app, ["network", "init", "--out", str(tmp_path / "n"), "--profile", "x"])
    assert r.exit_code == 2 and "unknown profile" in r.output
    r = runner.invoke(
        app, ["network", "init", "--out", str(tmp_path / "m"), "--open-contract", "hello"]
    )
    assert r.exit_code == 2 and "--profile open" in r.output


def test_account_create_makes_a_key_without_certificate(tmp_path):
    d = tmp_path / "me"
    r = runner.invoke(app, ["account", "create", "--out", str(d), "--json"])
    assert r.exit_code == 0, r.output
    address = json.loads(r.output)["address"]
    assert sorted(p.name for p in d.iterdir()) == ["key.pem"]
    ident = Identity.load(d)
    assert ident.is_account and ident.cert_der == b""
    assert address_of(ident.keypair.scheme, ident.keypair.public_key) == address
    r = runner.invoke(app, ["account", "create", "--out", str(d)])
    assert r.exit_code == 1 and "already holds a key" in r.output


def test_quota_refusal_is_a_429_with_a_code():
    from tianfu.api.render import refusal
    from tianfu.api.service import TxQuotaExceeded, TxRejected

    status, body = refusal(TxQuotaExceeded("quota exceeded: account a has 0 gas left"))
    assert status == 429 and body["code"] == "quota_exceeded" and "quota exceeded" in body["error"]
    assert refusal(TxRejected("bad signature"))[0] == 400


def test_set_params_parses_open_profile_parameters():
    import pytest

    from tianfu.cli.common import UsageProblem
    from tianfu.cli.governance_cmds import parse_params

    assert parse_params(["open_contracts=hello,photo_sharing", "pow_bits=12"]) == {
        "open_contracts": ["hello", "photo_sharing"],
        "pow_bits": 12,
    }
    with pytest.raises(UsageProblem):
        parse_params(["quota_gas=lots"])


def test_observer_init_and_start_refusals(tmp_path):
    from tianfu.node.config import NodeConfig

    out = tmp_path / "net"
    assert runner.invoke(app, ["network", "init", "--out", str(out), "--orgs", "1",
                               "--profile", "open"]).exit_code == 0  # fmt: skip
    member = NodeConfig.load(out / "org1" / "node1")
    assert member.observer_port == member.p2p_port + 100
    obs = tmp_path / "obs"
    r = runner.invoke(
        app,
        ["node", "init-observer", "--home", str(obs), "--genesis", str(out / "genesis.bin"),
         "--peer", f"127.0.0.1:{member.observer_port}", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    cfg = NodeConfig.load(obs)
    assert cfg.observer and not cfg.validator and cfg.org == ""
    assert Identity.load(obs / "identity").is_account
    r = runner.invoke(app, ["node", "start", "--home", str(obs)])
    assert r.exit_code == 2 and "--observer" in r.output
    r = runner.invoke(app, ["node", "start", "--observer", "--home", str(member.home)])
    assert r.exit_code == 2 and "member node" in r.output
    # A consortium chain has no observers.
    cons = tmp_path / "cons"
    assert runner.invoke(app, ["network", "init", "--out", str(cons), "--orgs", "1"]).exit_code == 0
    assert NodeConfig.load(cons / "org1" / "node1").observer_port == 0
    r = runner.invoke(
        app,
        ["node", "init-observer", "--home", str(tmp_path / "o2"), "--genesis",
         str(cons / "genesis.bin"), "--peer", "127.0.0.1:1"],
    )  # fmt: skip
    assert r.exit_code == 1 and "open-profile chains only" in r.output


def test_a_validator_by_stake_without_its_signer_file_is_refused(tmp_path):
    """ADR 0021: a validator's lost signer file is refused at start (it may have signed
    what the new one would not remember), unless `--new-signer-state` is given — for a
    validator by stake as for a member's. `init-observer --validator` makes the file."""
    import subprocess
    import sys

    from tianfu.bench.netcheck import free_base_ports
    from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
    from tianfu.node.config import NodeConfig

    out = tmp_path / "net"
    assert runner.invoke(app, ["network", "init", "--out", str(out), "--orgs", "1",
                               "--profile", "open"]).exit_code == 0  # fmt: skip
    member = NodeConfig.load(out / "org1" / "node1")
    home = tmp_path / "staked"
    r = runner.invoke(
        app,
        ["node", "init-observer", "--validator", "--home", str(home), "--genesis",
         str(out / "genesis.bin"), "--peer", f"127.0.0.1:{member.observer_port}",
         "--api", f"127.0.0.1:{free_base_ports(1)[0] + 1}"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    cfg = NodeConfig.load(home)
    signer = cfg.data / SIGNER_FILE
    pv = FilePrivValidator(Identity.load(cfg.identity).keypair, signer)
    assert pv.last_hrs() == (0, 0, 0) and pv.recovery is None  # nothing signed yet
    pv.close()
    signer.unlink()
    start = subprocess.run(
        [sys.executable, "-m", "tianfu", "node", "start", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert start.returncode == 1, start.stderr
    assert "missing" in start.stderr and "--new-signer-state" in start.stderr


def test_account_register_solves_the_proof_of_work_with_the_chains_hash(tmp_path, monkeypatch):
    """The node judges a registration's proof of work with the chain's hash (SM3 on an SM2
    chain); `tianfu account register` solved it with the process's (SHA-256), so on an
    SM2 chain its nonce was refused (all but 1 in 2**bits times)."""
    from types import SimpleNamespace

    import tianfu.cli.common as common
    from tianfu.contracts.accounts import pow_ok
    from tianfu.crypto import SM2_SUITE, STANDARD, KeyPair
    from tianfu.crypto.sm2 import private_key_from_int

    kp = KeyPair.from_private(private_key_from_int(0x5EED))
    Identity.account(kp).save(tmp_path / "me")
    sent = []

    def invoke(contract, method, *args):
        sent.append((contract, method, args))
        return SimpleNamespace(committed=False, tx_hash="00" * 32)

    client = SimpleNamespace(
        chain_id="sm2-open", identity=Identity.account(kp), suite=SM2_SUITE, invoke=invoke,
        query=lambda contract, method, *args: {"pow_bits": 12},
    )  # fmt: skip
    monkeypatch.setattr(common, "make_client", lambda *a, **kw: client)
    r = runner.invoke(app, ["account", "register", "--identity", str(tmp_path / "me")])
    assert r.exit_code == 0, r.output
    [(contract, method, (nonce,))] = sent
    address = address_of(kp.scheme, kp.public_key)
    with SM2_SUITE.use():
        assert pow_ok("sm2-open", address, nonce, 12)
    with STANDARD.use():  # this key's SHA-256 proof of work is another nonce
        assert not pow_ok("sm2-open", address, nonce, 12)


def test_node_prove_key_and_account_bond_carry_the_proof_of_possession(tmp_path, monkeypatch):
    """A new validator's bond needs its consensus key's proof of possession: `tianfu node
    prove-key` makes it where the key is (with the chain's hash: SM3 on an SM2 chain) and
    `tianfu account bond --proof` sends it as `bond`'s last argument."""
    from types import SimpleNamespace

    import tianfu.cli.common as common
    from tianfu.bench.netcheck import free_base_ports
    from tianfu.contracts.staking import possession_message
    from tianfu.crypto import SM2, chain_suite, get_suite
    from tianfu.node.config import NodeConfig

    out = tmp_path / "net"
    assert runner.invoke(app, ["network", "init", "--out", str(out), "--orgs", "1",
                               "--profile", "open", "--scheme", "sm2"]).exit_code == 0  # fmt: skip
    member = NodeConfig.load(out / "org1" / "node1")
    home = tmp_path / "staked"
    r = runner.invoke(
        app,
        ["node", "init-observer", "--validator", "--home", str(home), "--genesis",
         str(out / "genesis.bin"), "--peer", f"127.0.0.1:{member.observer_port}",
         "--api", f"127.0.0.1:{free_base_ports(1)[0] + 1}", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["scheme"] == SM2
    key = bytes.fromhex(made["public_key"])
    owner = "ab" * 20
    r = runner.invoke(app, ["node", "prove-key", "--home", str(home), "--owner", owner, "--json"])
    assert r.exit_code == 0, r.output
    proof = bytes.fromhex(json.loads(r.output)["proof"])
    chain_id = decode_genesis((out / "genesis.bin").read_bytes()).chain_id
    with chain_suite("sm2").use():
        assert get_suite(SM2).verify(key, possession_message(chain_id, owner, SM2, key), proof)
    with chain_suite("standard").use():  # made with SM3, not SHA-256
        assert not get_suite(SM2).verify(key, possession_message(chain_id, owner, SM2, key), proof)
    r = runner.invoke(app, ["node", "prove-key", "--home", str(home), "--owner", "nope"])
    assert r.exit_code == 1 and "40 lowercase hex" in r.output
    # Printed for `--proof PROOF` (`PROOF=$(tianfu node prove-key ...)`): one line, the whole
    # signature; it was folded at the console's 80 columns into two lines.
    r = runner.invoke(app, ["node", "prove-key", "--home", str(home), "--owner", owner])
    assert r.exit_code == 0, r.output
    [line] = r.output.splitlines()
    with chain_suite("sm2").use():
        message = possession_message(chain_id, owner, SM2, key)
        assert get_suite(SM2).verify(key, message, bytes.fromhex(line))
    # `account bond --proof` sends it.
    sent = []
    Identity.account(Identity.load(home / "identity").keypair).save(tmp_path / "me")
    client = SimpleNamespace(
        identity=Identity.load(tmp_path / "me"),
        invoke=lambda *a, **kw: sent.append(a) or SimpleNamespace(committed=False, tx_hash="00"),
    )  # fmt: skip
    monkeypatch.setattr(common, "make_client", lambda *a, **kw: client)
    r = runner.invoke(app, ["account", "bond", "v", key.hex(), "5", "--scheme", "sm2",
                            "--proof", proof.hex(), "--identity", str(tmp_path / "me")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sent == [("staking", "bond", "v", SM2, key, 5, proof)]
