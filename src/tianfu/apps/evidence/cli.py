"""`tianfu evidence ...` (also `tianfu app evidence ...`): deposit, attest, certificates, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tianfu.apps.evidence.certificate import CONTRACT, load_certificate, verify_certificate
from tianfu.apps.evidence.sdk import Evidence, file_sha256
from tianfu.cli.common import (
    CommandFailed,
    GenesisOpt,
    IdentityOpt,
    JsonOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    load_genesis_file,
    make_client,
    parse_arg,
    print_fields,
    print_json,
    print_rows,
    report_result,
    trusted_genesis,
)
from tianfu.client import DEFAULT_URL
from tianfu.proofs.documents import dump_document

app = typer.Typer(
    help="Judicial evidence: deposit file hashes, get evidence certificates, verify offline.",
    no_args_is_help=True,
)
MetaOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--meta", help="KEY=VALUE metadata (repeatable; VALUE parsed as JSON)."),
]


@app.command("deposit")
def deposit(
    file: Annotated[Path, typer.Argument(help="The file; only its SHA-256 is sent.")],
    title: Annotated[str, typer.Option("--title", help="What the file is.")],
    meta: MetaOpt = None,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deposit a file's SHA-256 (role depositor); the result is the deposit id."""
    with handle_errors():
        fields = {}
        for item in meta or []:
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise UsageProblem(f"--meta {item!r} must look like KEY=VALUE")
            fields[k] = parse_arg(v)
        digest = file_sha256(file)
        client = make_client(url, identity, need_identity=True)
        report_result(
            client.invoke(CONTRACT, "deposit", digest, title, fields, check=False), as_json
        )


@app.command("show")
def show(deposit_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a deposit with its attestations and court verification records."""
    with handle_errors():
        ev = Evidence(make_client(url))
        record = ev.get(deposit_id)
        if record is None:
            raise CommandFailed(f"unknown deposit {deposit_id}")
        doc = {
            **record,
            "attestations": ev.attestations(deposit_id),
            "verifications": ev.verifications(deposit_id),
        }
        if as_json:
            print_json(doc)
        else:
            print_fields(f"deposit {deposit_id}", doc)


@app.command("find")
def find(
    file: Annotated[Path, typer.Argument(help="A file; its SHA-256 is looked up.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """List the deposits of a file's hash, oldest first."""
    with handle_errors():
        ids = Evidence(make_client(url)).by_hash(file_sha256(file))
        if as_json:
            print_json(ids)
        else:
            typer.echo("\n".join(ids) if ids else "no deposit of this file")


@app.command("attest")
def attest(
    deposit_id: str,
    statement: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attest a deposit as a notary (role notary)."""
    with handle_errors():
        client = make_client(url, identity, need_identity=True)
        report_result(
            client.invoke(CONTRACT, "attest", deposit_id, statement, check=False), as_json
        )


@app.command("court-verify")
def court_verify(
    deposit_id: str,
    case_no: Annotated[str, typer.Option("--case", help="Case number.")],
    result: Annotated[str, typer.Option("--result", help="verified or rejected.")] = "verified",
    note: Annotated[str, typer.Option("--note")] = "",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that a court verified (or rejected) a deposit (role court)."""
    with handle_errors():
        client = make_client(url, identity, need_identity=True)
        report_result(
            client.invoke(
                CONTRACT, "record_verification", deposit_id, case_no, result, note, check=False
            ),
            as_json,
        )


@app.command("certificate")
def certificate(
    deposit_id: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the certificate JSON.")],
    genesis: GenesisOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Export a deposit's evidence certificate (proofs, header, commit certificate)."""
    with handle_errors():
        client = make_client(url)
        client.genesis = trusted_genesis(client, genesis)
        cert = Evidence(client).certificate(deposit_id)
        out.write_text(dump_document(cert), encoding="utf-8")
        summary = {
            "deposit_id": deposit_id,
            "file_sha256": cert["file_sha256"],
            "height": cert["height"],
            "time_ms": cert["time_ms"],
            "certificate": str(out),
        }
        if as_json:
            print_json(summary)
        else:
            print_fields("evidence certificate written", summary)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The file whose deposit is to be proven.")],
    certificate_file: Annotated[Path, typer.Argument(help="The evidence certificate JSON.")],
    genesis: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--genesis",
            help="The consortium's genesis (genesis.bin or the JSON of GET /v1/genesis). "
            "Verification is offline: no node is contacted.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify FILE against an evidence CERTIFICATE offline, trusting only the genesis."""
    with handle_errors():
        if genesis is None:
            raise UsageProblem("pass --genesis FILE: the validator keys to verify against")
        trust = load_genesis_file(genesis)
        data = file.read_bytes()
        cert = load_certificate(certificate_file.read_bytes())
        proven = verify_certificate(cert, data, trust)
        if as_json:
            print_json({"verified": True, **proven.as_dict()})
            return
        print_fields("verified evidence deposit", proven.as_dict())
        typer.echo(
            f"verified: {file} (SHA-256 {proven.file_sha256}) was deposited as "
            f"{proven.deposit_id} in block {proven.height} at time_ms {proven.time_ms}, "
            f"committed by the validators of chain {proven.chain_id} (proven from the "
            f"genesis through {proven.validator_changes} validator-set changes)"
        )


@app.command("list-attestations")
def list_attestations(deposit_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """List a deposit's notary attestations."""
    with handle_errors():
        items = Evidence(make_client(url)).attestations(deposit_id)
        if as_json:
            print_json(items)
        else:
            rows = [[a["org"], a["name"], a["height"], a["statement"]] for a in items]
            print_rows(
                f"attestations of {deposit_id}", ["org", "notary", "block", "statement"], rows
            )
