"""Traceability on the in-process chain: contract rules, scenario, verified lookup, CLI."""

from __future__ import annotations

import hashlib
import json

import msgspec
import pytest
from typer.testing import CliRunner

from tianfu.apps import traceability
from tianfu.apps.traceability.demo import cast, create_demo
from tianfu.apps.traceability.scenario import public_client, run_scenario
from tianfu.apps.traceability.sdk import Traceability, event_key
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client, TxFailed, VerificationError
from tianfu.codec import decode, encode
from tianfu.execution.contract_api import state_key
from tianfu.proofs.formats import ProofBundle
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("traceability")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = AppChain(tmp_path_factory.mktemp("trace"))
    c.deploy(traceability.NAME, traceability.source())
    yield c
    c.close()


@pytest.fixture(scope="module")
def people(chain):
    return cast(chain, "-t")


def test_source_compiles_and_names_views():
    from tianfu.execution.sandbox import compile_contract

    c = compile_contract(traceability.source())
    assert {"lookup"}.isdisjoint(c.methods)
    assert {"batch", "events", "provenance", "descendants", "product"} <= set(c.views)


def test_scenario(chain):
    run_scenario(chain)


def test_demo_then_public_lookup(chain):
    summary = create_demo(chain)
    assert summary["contract"] == "traceability"
    anon = Client("http://testserver", None, genesis=chain.genesis, http=chain.http)
    prov = Traceability(anon).lookup("LJ-TIN-001")
    codes = [e["batch"]["code"] for e in prov.lineage]
    assert codes[:2] == ["LJ-TIN-001", "LJ-LOT-0415"]
    assert set(codes[2:]) == {"TEA-2024-001", "TEA-2024-002"}
    assert prov.proofs > len(codes)
    tea = next(e for e in prov.lineage if e["batch"]["code"] == "TEA-2024-001")
    kinds = [e["type"] for e in tea["events"]]
    assert kinds[:4] == ["created", "planting", "input", "harvest"]
    assert all(e["org"] == "org1" for e in tea["events"][:4])
    assert not prov.recalled


def test_split_and_merge_conserve_and_link(chain, people):
    farm = Traceability(chain.client(people["producer"]))
    farm.register_product("apple-t", "Fuji apples", "fruit", "g")
    farm.create_batch("APL-1", "apple-t", 1000, "Yantai")
    with pytest.raises(TxFailed, match="sum to 999"):
        farm.split_batch("APL-1", [("APL-1a", 500), ("APL-1b", 499)])
    with pytest.raises(TxFailed, match="repeated"):
        farm.split_batch("APL-1", [("APL-1a", 500), ("APL-1a", 500)])
    with pytest.raises(TxFailed, match="already exists"):
        farm.split_batch("APL-1", [("APL-1", 500), ("APL-1b", 500)])
    assert farm.split_batch("APL-1", [("APL-1a", 300), ("APL-1b", 700)]) == ["APL-1a", "APL-1b"]
    parent = farm.batch("APL-1")
    assert parent["status"] == "split" and parent["children"] == ["APL-1a", "APL-1b"]
    assert farm.batch("APL-1b")["parents"] == ["APL-1"]
    with pytest.raises(TxFailed, match="is split"):
        farm.record_event("APL-1", "harvest", {})
    merged = farm.merge_batches("APL-M", ["APL-1a", "APL-1b"], "apple-t")
    assert merged["quantity"] == 1000 and merged["parents"] == ["APL-1a", "APL-1b"]
    assert farm.descendants("APL-1") == ["APL-1", "APL-1a", "APL-1b", "APL-M"]
    assert farm.all_descendants("APL-1", limit=1) == ["APL-1", "APL-1a", "APL-1b", "APL-M"]


def test_forbidden_actions_change_nothing(chain, people):
    farm = Traceability(chain.client(people["producer"]))
    shop = Traceability(chain.client(people["retailer"]))
    farm.register_product("pear-t", "Pears", "fruit", "g")
    farm.create_batch("PEAR-1", "pear-t", 10, "Korla")
    farm_address = people["producer"].info.address
    root = chain.contract_state()
    cases = [
        (shop, "register_product", ("pear-x", "x", "fruit", "g"), "producer or a processor"),
        (shop, "create_batch", ("PEAR-2", "pear-t", 1, "x"), "producer"),
        (farm, "create_batch", ("PEAR-2", "pear-t", 0, "x"), "positive integer"),
        (farm, "create_batch", ("bad code!", "pear-t", 1, "x"), "letters, digits"),
        (farm, "create_batch", ("PEAR-2", "nope", 1, "x"), "unknown product"),
        (farm, "record_event", ("PEAR-1", "retail", {}), "retailer"),
        (farm, "record_event", ("PEAR-1", "input", {"input": "magic"}), "names its input"),
        (farm, "record_event", ("PEAR-1", "harvest", {"x": [1]}), "string, integer or boolean"),
        (shop, "transfer_batch", ("PEAR-1", farm_address), "only the holder"),
        (shop, "recall", ("PEAR-1", "x"), "regulator"),
        (farm, "record_event", ("NOPE", "harvest", {}), "unknown batch"),
    ]
    for who, method, args, needle in cases:
        r = who.client.invoke("traceability", method, *args, check=False)
        assert not r.ok and needle in r.error, (method, r.error)
    assert chain.contract_state() == root
    other = chain.identity("org2", "trace-other-producer")
    from tianfu.apps.common.scenario import enrol

    enrol(chain, other, "producer")
    r = chain.client(other).invoke(
        "traceability", "create_batch", "P3", "pear-t", 1, "x", check=False
    )
    assert not r.ok and "only its owner" in r.error


def test_recall_flags_all_descendants_and_lookup_shows_it(chain, people):
    farm = Traceability(chain.client(people["producer"]))
    reg = Traceability(chain.client(people["regulator"]))
    farm.register_product("egg-t", "Eggs", "egg", "piece")
    farm.create_batch("EGG-1", "egg-t", 60, "Farm A")
    farm.create_batch("EGG-2", "egg-t", 40, "Farm B")
    farm.split_batch("EGG-1", [("EGG-1a", 30), ("EGG-1b", 30)])
    farm.merge_batches("EGG-BOX", ["EGG-1b", "EGG-2"], "egg-t")
    flagged = reg.recall("EGG-1", "salmonella")
    assert sorted(flagged) == ["EGG-1", "EGG-1a", "EGG-1b", "EGG-BOX"]
    assert farm.batch("EGG-2")["recall"] is None  # a co-parent is not a descendant
    prov = Traceability(public_client(farm.client)).lookup("EGG-BOX")
    assert prov.recalled and prov.recall["root"] == "EGG-1"
    assert prov.lineage[0]["events"][-1]["type"] == "recall"


def test_a_holder_cannot_make_its_batch_too_big_to_recall(chain, people):
    """A producer who splits a lot into more batches than one transaction's gas can flag
    cannot stop the regulator recalling it: the recall goes on call by call, each within
    the gas of a transaction, until every descendant is flagged."""
    farm, reg = people["producer"], people["regulator"]
    name = traceability.NAME
    Traceability(chain.client(farm)).register_product("rice-big", "Rice", "grain", "kg")
    assert chain.call(farm, name, "create_batch", "BIG", "rice-big", 100_000, "farm").ok
    parts = [{"code": f"BIG{i}", "quantity": 1000} for i in range(100)]
    assert chain.call(farm, name, "split_batch", "BIG", parts).ok
    for i in range(8):  # 901 batches in all: more than one transaction could flag
        parts = [{"code": f"BIG{i}-{j}", "quantity": 10} for j in range(100)]
        assert chain.call(farm, name, "split_batch", f"BIG{i}", parts).ok
    limit = chain.genesis.params.max_gas_per_tx
    r = chain.call(reg, name, "recall", "BIG", "aflatoxin")
    assert r.ok, r.error
    reached, calls = list(r.result), 1
    with pytest.raises(TxFailed, match="already"):
        Traceability(chain.client(reg)).recall("BIG", "again")
    while not chain.query(name, "recall_progress", "BIG")["done"]:
        r = chain.call(reg, name, "continue_recall", "BIG")
        assert r.ok and r.gas_used < limit, r.error
        reached, calls = reached + list(r.result), calls + 1
    assert calls > 2 and sorted(reached) == sorted(chain.query(name, "descendants", "BIG"))
    for code in ("BIG", "BIG7", "BIG7-99", "BIG99"):
        assert chain.query(name, "batch", code)["recall"]["root"] == "BIG"
    assert not chain.call(farm, name, "transfer_batch", "BIG7-99", reg.info.address).ok


def test_lookup_detects_a_lying_node(chain, people):
    """A node that alters a record's bytes cannot make the lookup accept them."""
    farm = Traceability(chain.client(people["producer"]))
    farm.register_product("milk-t", "Milk", "dairy", "ml")
    farm.create_batch("MILK-1", "milk-t", 1000, "Hohhot")
    anon = Client("http://testserver", None, genesis=chain.genesis, http=chain.http)
    real = anon.state_proofs_raw
    target = state_key("traceability", event_key("MILK-1", 1))

    def lying(reads, height=None):
        doc = real(reads, height)
        bundle = decode(bytes.fromhex(doc["raw"]), ProofBundle)
        entries = []
        for e in bundle.blocks[0].entries:
            if e.key == target:
                value = {**msgspec.msgpack.decode(e.value), "org": "org9"}
                e = msgspec.structs.replace(e, value=encode(value))
            entries.append(e)
        block = msgspec.structs.replace(bundle.blocks[0], entries=entries)
        return {**doc, "raw": encode(msgspec.structs.replace(bundle, blocks=[block])).hex()}

    anon.state_proofs_raw = lying  # type: ignore[method-assign]
    with pytest.raises(VerificationError):
        Traceability(anon).lookup("MILK-1")
    anon.state_proofs_raw = real  # type: ignore[method-assign]
    with pytest.raises(LookupError):
        Traceability(anon).lookup("NO-SUCH-BATCH")


def test_cli(chain, people, tmp_path, monkeypatch):
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=genesis, http=chain.http
        ),
    )
    for role in ("producer", "regulator", "inspector"):
        people[role].save(tmp_path / role)
    (tmp_path / "genesis.bin").write_bytes(encode(chain.genesis))

    def run(*args, who=None):
        extra = ["--identity", str(tmp_path / who)] if who else []
        return runner.invoke(app, [*map(str, args), *extra])

    assert run("register-product", "tea-c", "Tea", "--unit", "g", who="producer").exit_code == 0
    r = run("create-batch", "C-1", "tea-c", 100, "Anxi", "--json", who="producer")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"]
    r = run("event", "C-1", "harvest", "date=2024-05-01", "pickers=3", who="producer")
    assert r.exit_code == 0, r.output
    report = hashlib.sha256(b"r").hexdigest()
    r = run("event", "C-1", "inspection", f"report_hash={report}", "result=pass", who="inspector")
    assert r.exit_code == 0, r.output
    r = run("split", "C-1", "C-1a=60", "C-1b=41", who="producer")
    assert r.exit_code == 1 and "sum to 101" in r.stderr
    r = run("split", "C-1", "C-1a=x", who="producer")
    assert r.exit_code == 2
    assert run("split", "C-1", "C-1a=60", "C-1b=40", who="producer").exit_code == 0
    r = run("recall", "C-1", "mould", who="producer")
    assert r.exit_code == 1 and "regulator" in r.stderr
    assert run("recall", "C-1", "mould", who="regulator").exit_code == 0
    r = run("lookup", "C-1b", "--genesis", tmp_path / "genesis.bin", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["recalled"] and [e["batch"]["code"] for e in doc["lineage"]] == ["C-1b", "C-1"]
    events = doc["lineage"][1]["events"]
    assert events[1]["data"] == {"date": "2024-05-01", "pickers": 3}
    r = run("lookup", "C-1b", "--genesis", tmp_path / "genesis.bin", "--out", tmp_path / "l.json")
    assert r.exit_code == 0 and "RECALLED" in r.stdout and "verified" in r.stdout
    r = run("verify", tmp_path / "l.json", "--genesis", tmp_path / "genesis.bin", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["code"] == "C-1b", r.output
    saved = json.loads((tmp_path / "l.json").read_text())
    saved["lineage"][1]["events"][1]["data"]["pickers"] = 4  # a readable copy changed
    (tmp_path / "l.json").write_text(json.dumps(saved))
    r = run("verify", tmp_path / "l.json", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 1 and "verification failed" in r.stderr
    r = run("lookup", "NOPE", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 1 and "unknown batch" in r.stderr
    assert json.loads(run("batch", "C-1", "--json").stdout)["status"] == "split"
    kinds = [e["type"] for e in json.loads(run("events", "C-1", "--json").stdout)]
    assert kinds == ["created", "harvest", "inspection", "split", "recall"]
    assert json.loads(run("descendants", "C-1", "--json").stdout) == ["C-1", "C-1a", "C-1b"]
    r = run("all-descendants", "C-1", "--json")
    assert json.loads(r.stdout) == ["C-1", "C-1a", "C-1b"]
    assert run("all-descendants", "C-1").stdout.split() == ["C-1", "C-1a", "C-1b"]
    assert run("events", "C-1").exit_code == 0


def test_the_receiving_organisation_comes_from_the_certificate_on_chain(chain, people):
    """A holder cannot name the receiving organisation, nor hand a batch to an address that
    is unknown, revoked or of no member organisation (the batch would be stranded)."""
    farm = Traceability(chain.client(people["producer"]))
    farm.register_product("plum-t", "Plums", "fruit", "g")
    farm.create_batch("PLUM-1", "plum-t", 10, "Orchard")
    mill = people["processor"].info
    root = chain.contract_state("traceability")
    # The old call shape, naming an organisation of the caller's choosing, is refused.
    r = farm.client.invoke(
        "traceability", "transfer_batch", "PLUM-1", mill.address, "org9", check=False
    )
    assert not r.ok and "argument" in r.error
    never = chain.identity("org3", "trace-never-transacted").info.address
    for to, needle in [("ab" * 20, "unknown address"), (never, "unknown address")]:
        with pytest.raises(TxFailed, match=needle):
            farm.transfer_batch("PLUM-1", to)
    assert chain.contract_state("traceability") == root
    revoked = chain.identity("org2", "trace-revoked")
    chain.call(revoked, "governance", "get_identity", revoked.info.address)  # registers it
    assert chain.call(chain.admin("org2"), "governance", "revoke_cert", revoked.info.address).ok
    root = chain.contract_state("traceability")
    with pytest.raises(TxFailed, match="revoked"):
        farm.transfer_batch("PLUM-1", revoked.info.address)
    assert chain.contract_state("traceability") == root
    farm.transfer_batch("PLUM-1", mill.address)
    b = farm.batch("PLUM-1")
    assert (b["holder"], b["holder_org"]) == (mill.address, mill.org)
    custody = farm.events("PLUM-1")[-1]
    assert custody["type"] == "custody" and custody["data"]["to_org"] == mill.org


def test_a_merge_makes_only_the_mergers_own_product(chain, people):
    """A holder cannot label its lots as another organisation's product by merging them into
    it: like creating a batch, a merge needs the product's owner."""
    farm = Traceability(chain.client(people["producer"]))
    factory = Traceability(chain.client(people["processor"]))
    farm.register_product("brand-t", "Famous brand tea", "tea", "g")
    factory.register_product("cheap-t", "Cheap tea", "tea", "g")
    farm.create_batch("CHEAP-1", "brand-t", 10, "plot 1")
    farm.create_batch("CHEAP-2", "brand-t", 10, "plot 2")
    for code in ("CHEAP-1", "CHEAP-2"):
        farm.transfer_batch(code, people["processor"].info.address)
    root = chain.contract_state()
    r = factory.client.invoke(
        "traceability",
        "merge_batches",
        "FAKE-BRAND",
        ["CHEAP-1", "CHEAP-2"],
        "brand-t",
        check=False,
    )
    assert not r.ok and "only its owner" in r.error, r.error
    assert chain.contract_state() == root
    assert factory.merge_batches("CHEAP-M", ["CHEAP-1", "CHEAP-2"], "cheap-t")["quantity"] == 20
