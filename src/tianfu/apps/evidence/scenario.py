"""End-to-end evidence flow: deposit, certificate, offline verification, notary and court.

Tampered files, tampered certificates, a wrong genesis and every forbidden call must be
refused with a clear error and (for calls) no state change.
"""

from __future__ import annotations

import copy
import json
import secrets

import msgspec

from tianfu.apps.common.scenario import Scenario, check, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence import NAME, source
from tianfu.apps.evidence.certificate import EvidenceCertificateError, FileMismatch
from tianfu.apps.evidence.demo import MEMBERS
from tianfu.apps.evidence.sdk import Evidence, file_sha256
from tianfu.types import Genesis


def _refuses(
    cert: object, data: bytes, genesis: Genesis, needle: str, exc: type[Exception]
) -> None:
    try:
        Evidence.verify(cert, data, genesis)  # type: ignore[arg-type]
    except exc as err:
        check(needle in str(err), f"error {err} should mention {needle!r}")
        return
    raise AssertionError(f"a bad certificate verified (expected {needle!r})")


def run_scenario(env: AppEnv) -> None:
    run = Scenario(env, [(NAME, source)], MEMBERS, suffix="-s")
    p, refused = run.people, run.refused
    ev = handles(env, p, Evidence)
    lawyer, notary, court = ev["depositor"], ev["notary"], ev["court"]
    outsider = Evidence(env.client(env.identity(env.orgs[-1], "ev-outsider")))
    data = b"screenshot of infringing page " + secrets.token_bytes(16)

    did = lawyer.deposit(data, "Infringing web page, 2024-06-01", {"url": "https://x.example"})
    record = lawyer.get(did)
    check(record["file_hash"] == file_sha256(data), "the deposited hash is the file's")
    check(record["org"] == p["depositor"].info.org and record["height"] >= 1, "stamped")
    check(did in lawyer.by_hash(file_sha256(data)), "the deposit is found by its hash")

    run.watch(lambda: (lawyer.get(did), lawyer.attestations(did), lawyer.verifications(did)))
    refused(lambda: outsider.deposit(b"x", "t"), "depositor", snapshot=lawyer.count)
    refused(lambda: lawyer.deposit_hash("ab" * 31, "t"), "SHA-256", snapshot=lawyer.count)
    refused(lambda: lawyer.attest(did, "self"), "notary")
    refused(lambda: outsider.record_verification(did, "case"), "court")
    refused(lambda: notary.attest("EV999999", "x"), "unknown deposit")

    notary.attest(did, "Page content witnessed live by the notary")
    refused(lambda: notary.attest(did, "again"), "already attested")
    refused(lambda: court.record_verification(did, "c-1", "maybe"), "result")

    # The certificate verifies offline against the genesis alone.
    genesis = lawyer.client.genesis or lawyer.client.fetch_genesis()
    cert = json.loads(json.dumps(lawyer.certificate(did)))
    proven = Evidence.verify(cert, data, genesis)
    check(proven.deposit_id == did and proven.height == record["height"], "proven deposit")
    check(proven.time_ms == record["time_ms"], "the time stamp is the block's time")

    # Tampering is caught: the file, each part of the certificate, the trust anchor.
    _refuses(cert, data + b" ", genesis, "does not match the deposited hash", FileMismatch)
    for path, why in [
        (("deposit", "time_ms"), "readable part"),
        (("title",), "readable part"),
        (("file_sha256",), "readable part"),
        (("height",), "readable part"),
    ]:
        bad = copy.deepcopy(cert)
        obj = bad
        for k in path[:-1]:
            obj = obj[k]
        last = obj[path[-1]]
        obj[path[-1]] = last + 1 if isinstance(last, int) else "0" * 64
        _refuses(bad, data, genesis, why, EvidenceCertificateError)
    renamed = copy.deepcopy(cert)
    renamed["name"] = renamed.pop("title")
    _refuses(renamed, data, genesis, "readable part", EvidenceCertificateError)
    # Any flipped byte of the proven bundle (header, certificate, proofs, record) is refused.
    raw = bytes.fromhex(cert["raw"])
    for at in (len(raw) // 7, len(raw) // 3, len(raw) // 2, len(raw) - 5):
        bad = copy.deepcopy(cert)
        flipped = bytearray(raw)
        flipped[at] ^= 1
        bad["raw"] = flipped.hex()
        _refuses(bad, data, genesis, "", EvidenceCertificateError)
    other = msgspec.structs.replace(genesis, chain_id=genesis.chain_id + "-other")
    _refuses(cert, data, other, "genesis", EvidenceCertificateError)

    court.record_verification(did, "(2024) Chuan 01 Min Chu 88", "verified", "certificate ok")
    verifications = court.verifications(did)
    check(len(verifications) == 1 and verifications[0]["org"] == p["court"].info.org, "court")
    check(lawyer.get(did) == record, "the deposit record is never changed")
