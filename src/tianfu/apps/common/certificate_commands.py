"""The `certificate` and `verify` commands of applications with record certificates: write a
record's certificate to a file, and verify a file against a certificate offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tianfu.apps.common import readable
from tianfu.apps.common.certificate import ProvenRecord, RecordSpec, export_record_certificate
from tianfu.apps.common.certificate import load_record_certificate as load
from tianfu.apps.common.commands import TRUSTED_GENESIS, Command, Param, Session, arg, custom, opt
from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.params import local_file
from tianfu.proofs.documents import dump_document, read_document
from tianfu.proofs.errors import VerificationError
from tianfu.types import Genesis

P = TypeVar("P", bound=ProvenRecord)


def certificate_commands(
    spec: RecordSpec,
    record_id: Param,
    read: Callable[[Path], bytes],
    verify: Callable[[dict[str, Any], bytes, Genesis], P],
    proven_as: Callable[[P], str],
) -> tuple[Command, Command]:
    """`certificate RECORD_ID --out FILE [--genesis]` and `verify FILE CERTIFICATE_FILE
    --genesis`, worded from `spec`. `read` reads the file to verify, `verify` checks it against
    a certificate, `proven_as` says what was proven: "(SHA-256 ...) was deposited as D0001"."""
    id_name = record_id.name

    def write_certificate(session: Session, v: dict[str, Any]) -> Output:
        client = session.client()
        client.genesis = session.genesis(v["genesis"])
        cert = export_record_certificate(client, spec, v[id_name])
        v["out"].write_text(dump_document(cert), encoding="utf-8")
        summary = {
            id_name: v[id_name],
            **{name: cert[name] for name in spec.summary},
            "certificate": str(v["out"]),
        }
        return Output(summary, (Fields(f"{spec.title} written", summary),))

    def verify_file(session: Session, v: dict[str, Any]) -> Output:
        if v["genesis"] is None:
            raise BadInput("pass --genesis FILE: the validator keys to verify against")
        trust = session.load_genesis(v["genesis"])
        try:
            data = read_document(v["certificate_file"])
        except VerificationError as exc:
            raise spec.error(str(exc)) from None
        cert = load(data, spec)
        proven = verify(cert, read(v["file"]), trust)
        found = proven.as_dict()
        sentence = (
            f"verified: {v['file']} {proven_as(proven)} in block {proven.height} at "
            f"{readable.date(proven.time_ms)} (time_ms {proven.time_ms}), committed by the "
            f"validators of chain {proven.chain_id} (proven from the genesis through "
            f"{readable.counted(proven.validator_changes, 'validator-set change')})"
        )
        return Output(
            {"verified": True, **found}, (Fields(f"verified {spec.proves}", found), Text(sentence))
        )

    return (
        custom(
            "certificate",
            f"Export a {spec.record}'s {spec.title} (proofs, header, commit certificate).",
            write_certificate,
            record_id,
            opt("out", Path, "Where to write the certificate JSON."),
            TRUSTED_GENESIS,
        ),
        custom(
            "verify",
            f"Verify {spec.content.upper()} against "
            f"{spec.certificate.replace('certificate', 'CERTIFICATE')} offline, trusting only "
            "the genesis.",
            verify_file,
            local_file(f"The {spec.content} whose {spec.transaction} is to be proven."),
            arg("certificate_file", Path, f"The {spec.title} JSON."),
            opt(
                "genesis",
                Path | None,
                f"The {spec.chain}'s genesis (genesis.bin or the JSON of GET /v1/genesis). "
                "Verification is offline: no node is contacted.",
                default=None,
            ),
            uses=("json",),
        ),
    )
