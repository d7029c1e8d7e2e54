"""The parts of private data: sealing, keyrings, the on-chain record shape, the content store,
signed requests."""

from __future__ import annotations

import os
import stat

import pytest

from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import ED25519, SM2, generate_keypair, suite_for_scheme
from tianfu.privdata.keys import KeyringError, OrgKeyring
from tianfu.privdata.messages import (
    PUT,
    READ,
    WRAP,
    AccessRequest,
    FetchResponse,
    sign_access,
)
from tianfu.privdata.record import parse_record, record_key, split_state_key
from tianfu.privdata.sealing import (
    MAX_BLOB_BYTES,
    MAX_PLAINTEXT_BYTES,
    OVERHEAD,
    WRAPPED_KEY_BYTES,
    SealingError,
    content_hash,
    decrypt,
    encrypt,
    new_content_key,
    new_private_key,
    open_sealed,
    public_key_of,
    seal_to,
    unwrap_key,
    wrap_key,
)
from tianfu.privdata.store import PrivateStore, QuotaExceeded, Quotas, Tampered


# -- sealing --------------------------------------------------------------------------------
def test_content_round_trip_and_every_damage_is_refused() -> None:
    key = new_content_key()
    blob = encrypt(b"haemoglobin 141 g/L", key)
    assert len(blob) == len(b"haemoglobin 141 g/L") + OVERHEAD
    assert decrypt(blob, key) == b"haemoglobin 141 g/L"
    assert b"haemoglobin" not in blob
    assert encrypt(b"same", key) != encrypt(b"same", key)  # a fresh nonce each time
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 1
        with pytest.raises(SealingError):
            decrypt(bytes(damaged), key)
    with pytest.raises(SealingError):
        decrypt(blob, new_content_key())
    with pytest.raises(SealingError):
        decrypt(blob[:-1], key)
    with pytest.raises(SealingError, match="exceeds the limit"):
        encrypt(b"x" * (MAX_PLAINTEXT_BYTES + 1), key)
    assert len(encrypt(b"x" * MAX_PLAINTEXT_BYTES, key)) == MAX_BLOB_BYTES


def test_wrapped_keys_open_only_for_their_organisation() -> None:
    key = new_content_key()
    org1, org2 = new_private_key(), new_private_key()
    wrapped = wrap_key(key, public_key_of(org1))
    assert len(wrapped) == WRAPPED_KEY_BYTES
    assert unwrap_key(wrapped, org1) == key
    with pytest.raises(SealingError):
        unwrap_key(wrapped, org2)
    with pytest.raises(SealingError):
        unwrap_key(wrapped[:-1], org1)
    sealed = seal_to(public_key_of(org2), b"reply")
    assert open_sealed(org2, sealed) == b"reply"
    with pytest.raises(SealingError):
        open_sealed(org1, sealed)


# -- keyring --------------------------------------------------------------------------------
def test_keyring_is_made_once_kept_private_and_rotates_without_losing_old_keys(tmp_path) -> None:
    path = tmp_path / "private" / "keys"
    ring = OrgKeyring.open(path, {"org1"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pub = ring.public_key("org1")
    again = OrgKeyring.open(path, {"org1"})
    assert again.public_key("org1") == pub, "a restart keeps the organisation's key"
    old = wrap_key(b"k" * 32, pub)
    new_pub = again.rotate("org1")
    again.save(path)
    ring = OrgKeyring.load(path)
    assert ring.public_key("org1") == new_pub != pub
    assert ring.unwrap("org1", old) == b"k" * 32, "content wrapped for the old key still opens"
    assert ring.holds("org1", pub) and ring.holds("org1", new_pub)
    with pytest.raises(KeyringError, match="no data key of organisation 'org2'"):
        ring.public_key("org2")
    with pytest.raises(KeyringError, match="opens the key"):
        ring.unwrap("org1", wrap_key(b"k" * 32, public_key_of(new_private_key())))
    path.write_bytes(b"\x93garbage")
    with pytest.raises(KeyringError, match="not a data keyring"):
        OrgKeyring.load(path)


# -- the on-chain record ----------------------------------------------------------------------
H = "ab" * 32


def _record(**changes: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "hash": H,
        "size": 100,
        "owner": "a" * 40,
        "org": "org1",
        "readers": {"org1": b"w" * 80, "org2": b"v" * 80},
        "purged": False,
        "note": "fields of the application are ignored",
    }
    rec.update(changes)
    return rec


def test_a_well_formed_record_grants_its_readers_until_purged() -> None:
    rec = parse_record("notes", H, _record())
    assert rec is not None and rec.grants("org1") and rec.grants("org2")
    assert not rec.grants("org3")
    assert rec.granted(frozenset({"org3", "org2"})) and not rec.granted(frozenset({"org3"}))
    gone = parse_record("notes", H, _record(purged=True, readers={}))
    assert gone is not None and not gone.grants("org1")
    assert record_key(H) == "pd:" + H


@pytest.mark.parametrize(
    "changes",
    [
        {"hash": "cd" * 32},  # not the key's hash
        {"hash": H.upper()},
        {"size": 0},
        {"size": MAX_BLOB_BYTES + 1},
        {"size": True},
        {"size": "100"},
        {"owner": None},
        {"org": 1},
        {"purged": 0},
        {"readers": []},
        {"readers": {"org1": b"short"}},
        {"readers": {"org1": "w" * 80}},
        {"readers": {f"org{i}": b"w" * 80 for i in range(65)}},
        {"purged": True},  # purged but still naming readers
    ],
)
def test_a_malformed_record_grants_nobody(changes: dict[str, object]) -> None:
    assert parse_record("notes", H, _record(**changes)) is None


def test_record_keys_are_found_in_state_updates() -> None:
    assert split_state_key(b"notes/pd:" + H.encode()) == ("notes", H)
    assert split_state_key(b"notes/x/pd:" + H.encode()) is None
    assert split_state_key(b"Notes/pd:" + H.encode()) is None
    assert split_state_key(b"notes/pd:" + H.encode()[:-1]) is None
    assert split_state_key(b"notes/pd:" + H.encode() + b"/more") is None
    assert split_state_key(b"/pd:" + H.encode()) is None
    assert split_state_key(b"notes/bal:x") is None


# -- the content store ------------------------------------------------------------------------
def test_store_checks_content_and_enforces_every_quota(tmp_path) -> None:
    store = PrivateStore(tmp_path, Quotas(max_bytes_per_org=300, max_bytes=500, max_records=4))
    blobs = [bytes([i]) * 150 for i in range(5)]
    hashes = [content_hash(b) for b in blobs]
    assert store.save("notes", hashes[0], "org1", blobs[0]) is True
    assert store.save("notes", hashes[0], "org1", blobs[0]) is False  # stored already
    assert store.load("notes", hashes[0]) == blobs[0]
    with pytest.raises(Tampered):
        store.save("notes", hashes[1], "org1", blobs[2])  # not that hash's content
    store.save("notes", hashes[1], "org1", blobs[1])
    with pytest.raises(QuotaExceeded, match="written by org1"):
        store.save("notes", hashes[2], "org1", blobs[2])
    store.save("notes", hashes[2], "org2", blobs[2])
    with pytest.raises(QuotaExceeded, match="500 bytes"):
        store.save("notes", hashes[3], "org3", blobs[3])
    assert store.usage() == {"records": 3, "bytes": 450, "by_org": {"org1": 300, "org2": 150}}
    assert store.load("notes", hashes[4]) is None
    assert store.delete("notes", hashes[2]) and not store.delete("notes", hashes[2])
    store.save("notes", hashes[3], "org3", blobs[3])
    few = PrivateStore(tmp_path / "few", Quotas(max_records=1))
    few.save("notes", hashes[0], "org1", blobs[0])
    with pytest.raises(QuotaExceeded, match="1 private records"):
        few.save("other", hashes[4], "org4", blobs[4])
    with pytest.raises(Exception, match="malformed record name"):
        store.path("../x", hashes[0])


def test_store_detects_a_changed_file_and_reindexes_after_restart(tmp_path) -> None:
    store = PrivateStore(tmp_path)
    blob = b"\x01" * 64
    h = content_hash(blob)
    store.save("notes", h, "org1", blob)
    path = store.path("notes", h)
    path.write_bytes(b"\x02" + blob[1:])
    with pytest.raises(Tampered, match="does not match its on-chain hash"):
        store.load("notes", h)
    path.write_bytes(blob)
    (path.parent / (h + ".tmp")).write_bytes(b"half a write")
    again = PrivateStore(tmp_path)
    assert again.entries() == [("notes", h)] and again.load("notes", h) == blob
    assert not (path.parent / (h + ".tmp")).exists()
    assert again.usage()["by_org"] == {"": 64}  # until the record names its organisation
    again.assign("notes", h, "org1")
    assert again.usage()["by_org"] == {"org1": 64}


# -- signed requests --------------------------------------------------------------------------
def _req(action: str, **kw: object) -> AccessRequest:
    args: dict[str, object] = {
        "chain_id": "c",
        "action": action,
        "contract": "notes",
        "content_hash": bytes(32),
        "time_ms": 1,
        "nonce": bytes(16),
    }
    args.update(kw)
    return sign_access(generate_keypair(), **args)  # type: ignore[arg-type]


def test_signed_requests_round_trip_and_are_strict() -> None:
    req = _req(READ, reply_key=bytes(32))
    again = decode(encode(req), AccessRequest)
    assert again == req and again.signature_ok()
    forged = AccessRequest(req.body, bytes(64))
    assert not forged.signature_ok()
    for bad in (
        _req(READ),  # a read without a reply key
        _req(PUT, reply_key=bytes(32)),
        _req(WRAP),  # a wrap without its target
        _req(PUT, target="org2"),
        _req(READ, reply_key=bytes(32), blob=b"x"),  # content on a read
        _req("delete"),
    ):
        with pytest.raises(CodecError):
            decode(encode(bad), AccessRequest)
    with pytest.raises(CodecError):
        decode(encode(FetchResponse(1, 1, "notes", bytes(32), 1, b"x")), FetchResponse)


def test_a_request_signed_with_an_sm2_key_verifies_on_an_sm2_chain() -> None:
    """The client signs with its key's suite (SM3 for SM2) whatever its process hashes
    with; the node checks with its chain's suite."""
    kp = generate_keypair(SM2)
    req = sign_access(
        kp,
        chain_id="c",
        action=READ,
        contract="notes",
        content_hash=bytes(32),
        time_ms=1,
        nonce=bytes(16),
        reply_key=bytes(32),
    )
    with suite_for_scheme(SM2).use():
        assert decode(encode(req), AccessRequest).signature_ok()
    with suite_for_scheme(ED25519).use():
        assert not req.signature_ok()  # another suite's node does not accept it


def test_a_blob_being_written_is_not_yet_held_and_a_delete_meanwhile_wins(
    tmp_path, monkeypatch
) -> None:
    """`has` says True only once the file is complete (a reader in between found no file);
    a delete while the write is under way removes the blob when the write ends."""
    import tianfu.privdata.store as store_module

    store = PrivateStore(tmp_path)
    blob = b"\x07" * 100
    h = content_hash(blob)
    seen = []
    real = store_module.write_private

    def slow_write(path, data):  # type: ignore[no-untyped-def]
        seen.append(store.has("notes", h))
        real(path, data)

    monkeypatch.setattr(store_module, "write_private", slow_write)
    assert store.save("notes", h, "org1", blob) is True
    assert seen == [False] and store.has("notes", h) and store.load("notes", h) == blob
    store.delete("notes", h)

    def write_then_deleted(path, data):  # type: ignore[no-untyped-def]
        real(path, data)
        assert store.delete("notes", h) is True  # a purge arrives during the write

    monkeypatch.setattr(store_module, "write_private", write_then_deleted)
    assert store.save("notes", h, "org1", blob) is False
    assert not store.has("notes", h) and not store.path("notes", h).exists()
    assert store.usage() == {"records": 0, "bytes": 0, "by_org": {}}
