"""The command-line runs shared by applications with record certificates: write a record's
certificate to a file, and verify a file against a certificate offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tianfu.apps.common.commands import Session
from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import BadInput
from tianfu.client import Client
from tianfu.proofs.documents import dump_document
from tianfu.types import Genesis

Run = Callable[[Session, dict[str, Any]], Output]


def write_certificate(
    export: Callable[[Client, str], dict[str, Any]],
    id_name: str,
    shown: tuple[str, ...],
    title: str,
) -> Run:
    """Export the certificate of record `v[id_name]` (through the client trusting --genesis)
    to --out; the summary shows the certificate's fields `shown`."""

    def run(session: Session, v: dict[str, Any]) -> Output:
        client = session.client()
        client.genesis = session.genesis(v["genesis"])
        cert = export(client, v[id_name])
        v["out"].write_text(dump_document(cert), encoding="utf-8")
        summary = {
            id_name: v[id_name],
            **{name: cert[name] for name in shown},
            "certificate": str(v["out"]),
        }
        return Output(summary, (Fields(title, summary),))

    return run


def verify_file(
    load: Callable[[bytes], dict[str, Any]],
    verify: Callable[[dict[str, Any], bytes, Genesis], Any],
    read: Callable[[Path], bytes],
    title: str,
    sentence: Callable[[Any, Path], str],
) -> Run:
    """Verify `v["file"]` (read with `read`) against the certificate `v["certificate_file"]`
    trusting only the --genesis file; `sentence` says what was proven."""

    def run(session: Session, v: dict[str, Any]) -> Output:
        if v["genesis"] is None:
            raise BadInput("pass --genesis FILE: the validator keys to verify against")
        trust = session.load_genesis(v["genesis"])
        cert = load(v["certificate_file"].read_bytes())
        proven = verify(cert, read(v["file"]), trust)
        found = proven.as_dict()
        return Output(
            {"verified": True, **found}, (Fields(title, found), Text(sentence(proven, v["file"])))
        )

    return run
