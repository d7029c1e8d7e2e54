"""A real single-validator node: deploy, invoke, prove, and refuse bad input."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from tianfu.client import Client, VerificationError
from tianfu.client.errors import ApiError, TxFailed
from tianfu.client.verify import verify_state_read
from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_tx, verify_commit
from tianfu.identity import OrgCA
from tianfu.types import BlockHeader, CommitCertificate, Transaction, TxBody

pytestmark = pytest.mark.timeout(180)


def test_deploy_invoke_and_prove(dev_chain):
    admin = dev_chain.deploy_asset()
    user_addr = dev_chain.user.info.address
    r = admin.invoke("asset", "mint", user_addr, 1_000)
    assert r.ok and r.committed and r.height >= 1
    user = dev_chain.client(dev_chain.user)
    r2 = user.invoke("asset", "transfer", dev_chain.admin.info.address, 250)
    assert r2.ok
    assert user.query("asset", "balance", user_addr) == 750

    # Verified read: the proof checks against the header's state root, and the header's
    # certificate against the validator key in the genesis.
    v = user.read_state("asset", "bal:" + user_addr)
    assert v.value == 750 and v.present

    doc = user.state_raw("asset", "bal:" + user_addr, prove=True)
    args = dict(
        trust=dev_chain.genesis,
        chain_id=dev_chain.genesis.chain_id,
        contract="asset",
        key="bal:" + user_addr,
        value_bytes=bytes.fromhex(doc["value_raw"]),
        proof_bytes=bytes.fromhex(doc["proof"]),
        header_bytes=bytes.fromhex(doc["header"]["raw"]),
        cert_bytes=bytes.fromhex(doc["certificate"]["raw"]),
    )
    assert verify_state_read(**args).value == 750
    with pytest.raises(VerificationError):  # tampered value
        verify_state_read(**{**args, "value_bytes": encode(751)})
    with pytest.raises(VerificationError):  # different key
        verify_state_read(**{**args, "key": "bal:" + dev_chain.admin.info.address})
    header = msgspec.msgpack.decode(args["header_bytes"], type=BlockHeader)
    tampered = msgspec.structs.replace(header, state_root=b"\x01" * 32)
    with pytest.raises(VerificationError):  # tampered root (and so the header's certificate)
        verify_state_read(**{**args, "header_bytes": encode(tampered)})

    # An absent key gets a valid exclusion proof.
    absent = user.read_state("asset", "bal:nobody")
    assert absent.value is None and not absent.present

    # The block's commit certificate verifies against the validator key in the genesis.
    cert_doc = httpx.get(f"{dev_chain.node.url}/v1/blocks/{r2.height}/commit").json()
    cert = msgspec.msgpack.decode(
        bytes.fromhex(cert_doc["certificate"]["raw"]), type=CommitCertificate
    )
    block = user.block(r2.height)
    verify_commit(
        cert, block.hash, r2.height, dev_chain.genesis.validator_set, dev_chain.genesis.vote_domain
    )

    # The transaction's inclusion proof verifies too.
    assert user.verify_tx_inclusion(r2.tx_hash).height == r2.height


def _post(url: str, data: bytes) -> httpx.Response:
    return httpx.post(
        url + "/v1/txs", content=data, headers={"content-type": "application/octet-stream"}
    )


def test_bad_input_is_refused_and_changes_nothing(dev_chain):
    url = dev_chain.node.url
    admin = dev_chain.client(dev_chain.admin)
    before = admin.status()
    good = admin.build_tx("governance", "list_orgs")
    raw = encode(good)

    assert _post(url, raw[:-5]).status_code == 400  # truncated
    assert _post(url, b"\x93garbage").status_code == 400  # malformed
    assert _post(url, raw + b"\x00").status_code == 400  # trailing bytes
    big = httpx.post(url + "/v1/txs", content=b"\x00" * (2 << 20))
    assert big.status_code == 413

    kp = dev_chain.admin.keypair
    b = good.body
    wrong_chain = sign_tx(kp, msgspec.structs.replace(b, chain_id="other-chain"))
    resp = _post(url, encode(wrong_chain))
    assert resp.status_code == 400 and "chain" in resp.json()["error"]

    bad_sig = Transaction(b, b"\x00" * 64)
    resp = _post(url, encode(bad_sig))
    assert resp.status_code == 400 and "signature" in resp.json()["error"]

    # A signer whose certificate comes from an organisation that is not a member.
    outsider_ca = OrgCA.create("outsider")
    outsider = outsider_ca.issue("mallory", "admin")
    ob = TxBody(
        1,
        b.chain_id,
        outsider.keypair.scheme,
        outsider.keypair.public_key,
        1,
        b.expiry,
        "governance",
        "list_orgs",
        [],
        outsider.cert_der,
    )
    resp = _post(url, encode(sign_tx(outsider.keypair, ob)))
    assert resp.status_code == 400 and "not a member" in resp.json()["error"]

    # A signer with no certificate at all.
    stranger = generate_keypair()
    sb = TxBody(
        1,
        b.chain_id,
        stranger.scheme,
        stranger.public_key,
        1,
        b.expiry,
        "governance",
        "list_orgs",
        [],
    )
    resp = _post(url, encode(sign_tx(stranger, sb)))
    assert resp.status_code == 400 and "unknown signer" in resp.json()["error"]

    # Unknown contract / method.
    for contract, method in (("nosuch", "x"), ("governance", "nosuch")):
        t = admin.build_tx(contract, method)
        resp = _post(url, encode(t))
        assert resp.status_code in (400, 404), resp.text

    after = admin.status()
    assert after["height"] == before["height"]  # nothing was committed
    assert httpx.get(url + "/v1/status").status_code == 200  # and the node runs


def test_replay_and_failed_calls(dev_chain):
    admin = (
        dev_chain.deploy_asset() if not _has_asset(dev_chain) else dev_chain.client(dev_chain.admin)
    )
    tx = admin.build_tx("asset", "mint", dev_chain.admin.info.address, 5)
    result = admin.send(tx)
    assert result.ok
    resp = _post(dev_chain.node.url, encode(tx))
    assert resp.status_code == 409  # replayed

    # Wrong argument types: a failed receipt, no state change.
    supply = admin.query("asset", "total_supply")
    with pytest.raises(TxFailed):
        admin.invoke("asset", "mint", dev_chain.admin.info.address, "lots")
    r = admin.invoke("asset", "mint", dev_chain.admin.info.address, "lots", check=False)
    assert not r.ok and r.error
    assert admin.query("asset", "total_supply") == supply

    # A contract that loops forever is deployable but every call runs out of gas.
    pid = admin.propose_contract(
        "spin", "def run(ctx):\n    while True:\n        ctx.put('x', 1)\n"
    )
    admin.approve_contract(pid)
    r = admin.invoke("spin", "run", check=False)
    assert not r.ok and "gas" in r.error.lower()
    assert admin.read_state("spin", "x").value is None

    # Forbidden code is refused at deployment.
    for source in (
        "import os\ndef f(ctx):\n    return 1\n",
        "def f(ctx):\n    return open('/etc/passwd').read()\n",
        "def f(ctx):\n    return __import__('os')\n",
        "def f(ctx):\n    return eval('1+1')\n",
        "def f(ctx):\n    return ().__class__.__base__.__subclasses__()\n",
    ):
        with pytest.raises(TxFailed, match="rejected"):
            admin.propose_contract("evil", source)
    assert all(c["name"] != "evil" for c in admin.contracts())


def test_revoked_signer_is_refused(dev_chain):
    ca = OrgCA.load(dev_chain.home / "ca")
    temp = ca.issue("temp", "member")
    c = dev_chain.client(temp)
    assert c.invoke("governance", "get_identity", temp.info.address).ok  # registers on first use
    admin = dev_chain.client(dev_chain.admin)
    admin.revoke_cert(temp.info.address)
    with pytest.raises(ApiError) as err:
        c.invoke("governance", "get_identity", temp.info.address)
    assert err.value.status == 400 and "revoked" in str(err.value)


def test_api_surface(dev_chain):
    url = dev_chain.node.url
    for path in (
        "/openapi.json",
        "/v1/validators",
        "/v1/orgs",
        "/v1/contracts",
        "/metrics",
        "/v1/blocks?from=1&limit=5",
    ):
        assert httpx.get(url + path).status_code == 200, path
    assert httpx.get(url + "/v1/blocks/999999").status_code == 404
    assert httpx.get(url + "/v1/txs/zz").status_code == 400
    assert httpx.get(url + "/v1/txs/" + "00" * 32).status_code == 404
    assert "tianfu_height" in httpx.get(url + "/metrics").text


def _has_asset(dev_chain) -> bool:
    return any(c["name"] == "asset" for c in Client(dev_chain.node.url).contracts())


def test_event_stream_over_websocket(dev_chain):
    import json

    from websockets.sync.client import connect

    admin = (
        dev_chain.deploy_asset() if not _has_asset(dev_chain) else dev_chain.client(dev_chain.admin)
    )
    ws_url = (
        dev_chain.node.url.replace("http://", "ws://") + "/v1/events?contract=asset&name=Minted"
    )
    with connect(ws_url, open_timeout=60) as ws:
        admin.invoke(
            "governance", "get_identity", "x"
        )  # an event of another contract: filtered out
        r = admin.invoke("asset", "mint", dev_chain.user.info.address, 7)
        msg = json.loads(ws.recv(timeout=60))
    assert msg["contract"] == "asset" and msg["name"] == "Minted"
    assert msg["height"] == r.height and msg["data"]["amount"] == 7
