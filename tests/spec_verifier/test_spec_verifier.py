"""The independent verifier (written from docs/spec only) against every vector: it
reproduces every expected byte and hash, accepts every valid case and rejects every invalid
one. Nothing here imports `tianfu`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import specverify  # noqa: E402
import specwire as w  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def untag(v: Any) -> Any:
    if isinstance(v, dict):
        return (
            bytes.fromhex(v["bin"])
            if set(v) == {"bin"}
            else {k: untag(x) for k, x in v["map"].items()}
        )
    return [untag(x) for x in v] if isinstance(v, list) else v


def test_it_runs_with_tianfu_unimportable(tmp_path):
    """The verifier needs nothing of the project: in a process where importing `tianfu`
    fails, it verifies a document of each suite from the vectors."""
    for name in ("specwire.py", "specbundle.py", "specdocs.py", "specverify.py"):
        source = (Path(__file__).parent / name).read_text()
        assert "import tianfu" not in source and "from tianfu" not in source
    v = load("documents.json")
    for suite in ("standard", "sm2"):
        case = next(c for c in v["cases"] if c["name"] == "history to the genesis"
                    and c["suite"] == suite)  # fmt: skip
        (tmp_path / f"{suite}.bin").write_bytes(bytes.fromhex(v["geneses"][suite]))
        (tmp_path / f"{suite}.json").write_text(json.dumps(case["document"]))
        code = (
            "import sys; sys.modules['tianfu'] = None; "
            f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import specverify; "
            f"sys.exit(specverify.main([{str(tmp_path / f'{suite}.json')!r}, '--genesis', "
            f"{str(tmp_path / f'{suite}.bin')!r}, '--now-ms', '{case['now_ms']}']))"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "VERIFIED: history" in r.stdout


def test_encoding():
    v = load("encoding.json")
    for case in v["valid"]:
        value = untag(case["value"])
        assert w.encode(value).hex() == case["encoding"], case["name"]
        assert w.decode_value(bytes.fromhex(case["encoding"])) == value, case["name"]
    for case in v["invalid"]:
        with pytest.raises(w.Invalid):
            w.decode_value(bytes.fromhex(case["encoding"]))
            pytest.fail(case["name"])


def test_hashing():
    for case in load("hashing.json")["cases"]:
        parts = [bytes.fromhex(p) for p in case["parts"]]
        assert w.hash_domain(case["suite"], case["tag"], *parts).hex() == case["hash"]


def test_signatures_and_addresses():
    v = load("crypto.json")
    for c in v["signatures"]:
        got = w.verify_sig(c["suite"], c["scheme"], bytes.fromhex(c["public_key"]),
                           bytes.fromhex(c["message"]), bytes.fromhex(c["signature"]))  # fmt: skip
        assert got is c["valid"], c["name"]
    for c in v["addresses"]:
        if c["address"] is None:  # crypto.md#addresses: none for a scheme no suite accepts
            with pytest.raises(w.Invalid):
                w.address(c["scheme"], bytes.fromhex(c["public_key"]))
            continue
        assert w.address(c["scheme"], bytes.fromhex(c["public_key"])) == c["address"]


def test_transactions_and_receipts():
    v = load("transactions.json")
    for c in v["transactions"]:
        raw = bytes.fromhex(c["transaction"])
        if not c["valid"]:
            with pytest.raises(w.Invalid):
                w.parse_tx(raw)
                pytest.fail(c["name"])
            continue
        tx = w.parse_tx(raw)
        f = c["fields"]
        assert (tx.chain_id, tx.scheme, tx.signer.hex(), tx.nonce, tx.expiry, tx.contract,
                tx.method, tx.args, tx.cert.hex(), tx.signature.hex()) == (
            f["chain_id"], f["scheme"], f["signer"], f["nonce"], f["expiry"], f["contract"],
            f["method"], untag(f["args"]), f["cert"], f["signature"])  # fmt: skip
        assert tx.body.hex() == c["body"] and tx.id.hex() == c["tx_id"]
        ok = w.verify_sig(c["suite"], tx.scheme, tx.signer, tx.id, tx.signature)
        assert ok is c["signature_valid"], c["name"]
    for c in v["receipts"]:
        raw = bytes.fromhex(c["receipt"])
        if not c["valid"]:
            with pytest.raises(w.Invalid):
                w.parse_receipt(raw)
                pytest.fail(c["name"])
            continue
        r = w.parse_receipt(raw)
        f = c["fields"]
        assert (r.status, r.gas_used, r.result, r.error) == (
            f["status"], f["gas_used"], untag(f["result"]), f["error"])  # fmt: skip
        assert r.events == [(e["contract"], e["name"], untag(e["data"])) for e in f["events"]]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_blocks(suite):
    (s,) = [x for x in load("blocks.json")["suites"] if x["suite"] == suite]
    g = w.parse_genesis(bytes.fromhex(s["genesis"]))
    assert g.suite == suite and g.hash.hex() == s["genesis_hash"]
    gset = w.parse_valset(bytes.fromhex(s["genesis_validator_set"]))
    assert gset == g.validators
    assert w.valset_hash(suite, gset).hex() == s["genesis_validator_set_hash"]
    for h in s["headers"]:
        header = w.parse_header(suite, bytes.fromhex(h["header"]))
        assert header.height == h["height"] and header.hash.hex() == h["hash"]
    for v in s["votes"]:
        got = w.vote_sign_bytes(suite, v["chain_id"], v["height"], v["round"], v["type"],
                                bytes.fromhex(v["block_hash"]), v["time_ms"])  # fmt: skip
        assert got.hex() == v["sign_bytes"]
    for c in s["certificates"]:
        try:
            header = w.parse_header(suite, bytes.fromhex(c["header"]))
            vals = w.parse_valset(bytes.fromhex(c["validator_set"]))
            cert = w.parse_cert(bytes.fromhex(c["certificate"]))
            w.certifies(suite, cert, header, vals, c["chain_id"])
            ok = True
        except w.Invalid:
            ok = False
        assert ok is c["valid"], c["name"]
    for c in s["invalid_geneses"]:
        with pytest.raises(w.Invalid):
            w.parse_genesis(bytes.fromhex(c["genesis"]))
            pytest.fail(c["name"])
    for c in s["invalid_headers"]:
        with pytest.raises(w.Invalid):
            w.parse_header(suite, bytes.fromhex(c["header"]))
            pytest.fail(c["name"])


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_merkle(suite):
    (s,) = [x for x in load("merkle.json")["suites"] if x["suite"] == suite]
    for t in s["binary"]:
        items = [bytes.fromhex(i) for i in t["items"]]
        root = w.merkle_root(suite, items)
        assert root.hex() == t["root"]
        for i, path in enumerate(t["paths"]):
            assert w.verify_path(
                suite, root, items[i], i, len(items), [bytes.fromhex(p) for p in path]
            )
    for c in s["invalid_paths"]:
        assert not w.verify_path(suite, bytes.fromhex(c["root"]), bytes.fromhex(c["item"]),
                                 c["index"], c["size"], [bytes.fromhex(p) for p in c["path"]])  # fmt: skip
    for c in s["state"]:
        try:
            e = w.check_state_proof(suite, bytes.fromhex(c["root"]), bytes.fromhex(c["key"]),
                                    bytes.fromhex(c["proof"]))  # fmt: skip
            got = {"value_hash": None if e.value_hash is None else e.value_hash.hex(),
                   "height": e.height, "prev": e.prev}  # fmt: skip
        except w.Invalid:
            got = None
        assert got == c["entry"], c["name"]


def apply_patch(case: dict[str, Any], base: dict[str, Any]) -> tuple[Any, str, int]:
    """The invalid case's document, as documents.json's description says."""
    p = case["patch"]
    doc = copy.deepcopy(base["document"])
    genesis, now = p.get("genesis", base["genesis"]), p.get("now_ms", base["now_ms"])

    def parent(path: list[Any]) -> Any:
        node = doc
        for k in path[:-1]:
            node = node[k]
        return node

    if "flip_raw_byte" in p:
        raw = bytearray(bytes.fromhex(doc["raw"]))
        raw[p["flip_raw_byte"]] ^= 0xFF
        doc["raw"] = raw.hex()
    if "set" in p:
        parent(p["set"][0])[p["set"][0][-1]] = p["set"][1]
    if "delete" in p:
        del parent(p["delete"])[p["delete"][-1]]
    if "rename" in p:
        node = parent(p["rename"][0])
        node[p["rename"][1]] = node.pop(p["rename"][0][-1])
    if "prepend_member_text" in p:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        return "{" + p["prepend_member_text"] + "," + text[1:], genesis, now
    return doc, genesis, now


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_open_geneses(suite):
    """blocks.md#the-open-profile: the ninth field's rules, the genesis hash and the
    genesis-state entries an open genesis adds."""
    import specdocs

    (s,) = [x for x in load("open.json")["suites"] if x["suite"] == suite]
    g = w.parse_genesis(bytes.fromhex(s["genesis"]))
    assert g.suite == suite and g.hash.hex() == s["genesis_hash"] and g.open is not None
    for name, value in s["genesis_state"].items():
        assert w.encode(specdocs.genesis_value(g, name)).hex() == value, name
    for c in s["valid_geneses"]:
        assert w.parse_genesis(bytes.fromhex(c["genesis"])).open is not None, c["name"]
    for c in s["invalid_geneses"]:
        with pytest.raises(w.Invalid):
            w.parse_genesis(bytes.fromhex(c["genesis"]))
            pytest.fail(c["name"])


@pytest.mark.parametrize("name", ["documents.json", "open.json"])
def test_documents(name):
    v = load(name)
    geneses = {s: bytes.fromhex(g) for s, g in v["geneses"].items()}
    bases = {(c["suite"], c["name"]): c for c in v["cases"] if "document" in c}
    results = {True: 0, False: 0}
    for c in v["cases"]:
        if "document" in c:
            doc, genesis, now, kind = c["document"], c["genesis"], c["now_ms"], c["kind"]
        else:
            base = bases[(c["suite"], c["base"])]
            (doc, genesis, now), kind = apply_patch(c, base), base["kind"]
        try:
            specverify.verify_document(doc, geneses[genesis], now, kind)
            ok = True
        except w.Invalid:
            ok = False
        assert ok is c["valid"], f"{c['suite']}: {c['name']}"
        results[ok] += 1
    assert results[True] >= 16 and results[False] >= 20


def test_command_line(tmp_path, capsys):
    v = load("documents.json")
    case = next(c for c in v["cases"] if c["name"] == "evidence" and c["suite"] == "sm2")
    (tmp_path / "genesis.bin").write_bytes(bytes.fromhex(v["geneses"]["sm2"]))
    (tmp_path / "cert.json").write_text(json.dumps(case["document"]))
    args = [str(tmp_path / "cert.json"), "--genesis", str(tmp_path / "genesis.bin"),
            "--now-ms", str(case["now_ms"])]  # fmt: skip
    assert specverify.main(args) == 0
    assert "VERIFIED: evidence" in capsys.readouterr().out
    (tmp_path / "genesis.bin").write_bytes(bytes.fromhex(v["geneses"]["standard"]))
    assert specverify.main(args) == 1
    assert "REJECTED" in capsys.readouterr().out


def test_the_document_size_limit_is_of_utf8_bytes():
    """documents.md: a document larger than 40 MiB is refused — counted in bytes, also when
    it is handed over as text (14 Mi characters of 3 bytes each)."""
    genesis = bytes.fromhex(load("documents.json")["geneses"]["standard"])
    text = '{"title": "' + "\u4e2d" * (14 << 20) + '"}'
    for doc in (text, text.encode()):
        with pytest.raises(w.Invalid, match="too large"):
            specverify.verify_document(doc, genesis)


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_version_2_genesis_votes_sign_its_hash(suite):
    """blocks.md#votes: a version-2 genesis's votes sign `tianfu/vote/v3` with its hash."""
    v = load("genesis2.json")
    g = w.parse_genesis(bytes.fromhex(v["geneses"][suite]))
    assert g.version == 2 and g.vote_hash == g.hash
    assert g.hash.hex() == v["genesis_hashes"][suite]
    again = w.parse_genesis(bytes.fromhex(v["geneses"][f"{suite}-relaunched"]))
    assert again.chain_id == g.chain_id and again.validators == g.validators
    votes = [x for x in v["votes"] if x["suite"] == suite]
    assert votes
    for x in votes:
        args = (suite, x["chain_id"], x["height"], x["round"], x["type"],
                bytes.fromhex(x["block_hash"]), x["time_ms"])  # fmt: skip
        assert w.vote_sign_bytes(*args, g.vote_hash).hex() == x["sign_bytes"]
        assert w.vote_sign_bytes(*args, again.vote_hash).hex() != x["sign_bytes"]
        assert w.vote_sign_bytes(*args).hex() != x["sign_bytes"]  # a version-1 chain's
