"""Differential run across CPython versions: the same blocks, the same results, or a split.

Members of a consortium may run different CPython minor versions (pyproject: >= 3.11). A
transaction whose receipt, gas, events or state writes depend on the interpreter would make
nodes compute different receipts or state roots: a chain split. This script prepares one
deterministic corpus of blocks on the interpreter running it, replays it in a fresh process
of every interpreter named, block by block through the real `Ledger` and `Executor` (one
validator, fixed block times), and compares what every node must agree on: each block's
header (state root, receipts root), each receipt's status, error text, gas and events.

    python benchmarks/cross_python.py /tmp/det-312/bin/python /tmp/det-313/bin/python

(each interpreter needs tianfu installed: `pip install -e .`). The interpreter running the
script is the reference; the others are compared with it. Exit status 1 if any differ.

The corpus: native governance calls with bad arguments (too many, too few, wrong types),
proposals of contract sources (valid ones; ones only a newer grammar parses: PEP 701
f-strings, PEP 695 type parameters and `type` statements; syntax errors; deep nesting),
and calls of a deployed contract failing in every way the sandbox knows (ZeroDivisionError,
KeyError, IndexError, TypeError from operators, unbound names, recursion, out of gas, the
memory cap, big integers, text formatting and Unicode tables, bad returns and events).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

ORGS = ("org1", "org2", "org3", "org4")

# A contract every grammar since 3.11 parses: each method fails (or answers) one way.
CORPUS = """
def _down(n):
    return _down(n + 1)


def _fact(n):
    return 1 if n <= 1 else n * _fact(n - 1)


def zero_div(ctx, a):
    return a // 0


def zero_mod(ctx, a):
    return a % (a - a)


def key_missing(ctx, k):
    return {"a": 1}[k]


def index_out(ctx, i):
    return [1, 2, 3][i]


def add_mixed(ctx, a, b):
    return a + b


def compare_mixed(ctx):
    return [1] < ["a"]


def sort_mixed(ctx):
    return sorted([1, "a", None])


def call_int(ctx, a):
    return a()


def len_int(ctx):
    return len(5)


def unbound(ctx, flag):
    if flag:
        x = 1
    return x


def attr_missing(ctx):
    return "abc".nothing()


def recurse(ctx):
    return _down(0)


def fact(ctx, n):
    return str(_fact(n))[-40:]


def spin(ctx):
    n = 0
    while True:
        n += 1


def hog(ctx):
    keep = []
    while True:
        keep.append("x" * 100000 + str(len(keep)))


def big(ctx, bits):
    return (1 << bits) * (1 << bits)


def big_text(ctx, n):
    return str(10 ** n)[:10]


def parse_int(ctx, s):
    return int(s)


def fmt(ctx, v):
    return [str(v), f"{v}-{v}", str([v, (v,), {"k": v}])]


def text(ctx, s):
    return [s.upper(), s.lower(), s.casefold(), s.title(), s.isalpha(), s.isalnum(),
            s.isdigit(), s.isdecimal(), s.isnumeric(), s.isprintable(), s.isidentifier(),
            s.isspace(), s.istitle(), s.split(), s.strip(), str([s]), len(s.upper()),
            s.capitalize(), s.swapcase()]


def encode_ascii(ctx, s):
    return s.encode("ascii")


def from_hex(ctx, s):
    return bytes.fromhex(s)


def caught(ctx, which):
    try:
        if which == 0:
            return 1 // 0
        if which == 1:
            return {}["k"]
        if which == 2:
            return [][1]
        if which == 3:
            return "a" + 1
        if which == 4:
            return int("x")
        if which == 5:
            return "é".encode("ascii")
        if which == 6:
            return ctx.nothing
        return max([])
    except (ArithmeticError, LookupError, TypeError, ValueError, ContractError) as e:
        return [str(e), isinstance(e, ValueError), isinstance(e, LookupError)]


def bad_return(ctx):
    return len


def bad_event(ctx):
    ctx.emit("E", f=len)


def deep_value(ctx, n):
    v = []
    for _ in range(n):
        v = [v]
    return str(v)[:20]


def raise_own(ctx, v):
    raise ValueError(v)


def store(ctx, k, v):
    ctx.put(k, v)
    ctx.emit("Stored", k=k, v=v)
    return ctx.get(k)
"""

# Sources proposed for deployment: each must be accepted or refused alike on every node.
SOURCES = {
    "ok_plain": "def f(ctx, x):\n    return x\n",
    "pep701_quotes": 'def f(ctx, d):\n    return f"{d["k"]}"\n',
    "pep701_backslash": "def f(ctx, L):\n    return f\"{'\\n'.join(L)}\"\n",
    "pep701_comment": 'def f(ctx, x):\n    return f"""{x # comment\n}"""\n',
    "pep701_nested": 'def f(ctx, x):\n    return f"{f"{f"{x}"}"}"\n',
    "pep695_def": "def f[T](ctx, x):\n    return x\n",
    "pep695_type": "type Alias = int\n\ndef f(ctx, x):\n    return x\n",
    "syntax_colon": "def f(ctx, x)\n    return x\n",
    "syntax_comma": "def f(ctx, x):\n    return [1 2]\n",
    "syntax_paren": "def f(ctx, x):\n    return (1,\n",
    "syntax_indent": "def f(ctx, x):\nreturn x\n",
    "syntax_walrus": "def f(ctx, x):\n    return (x := 1) = 2\n",
    "bad_name": "def f(ctx, x):\n    return __import__\n",
    "unicode_15_name": "def f(ctx, x):\n    \U0001e030a = x\n    return \U0001e030a\n",
    "unicode_14_name": "def f(ctx, x):\n    \u00e9t\u00e9 = x\n    return \u00e9t\u00e9\n",
    "fstring_311": "def f(ctx, d):\n    return f\"{d['k']}-{len(d)}\"\n",
    "fstring_multiline": 'def f(ctx, x):\n    return f"""{\nx\n}"""\n',
    "fstring_split_field": 'def f(ctx, x):\n    return f"{x\n}"\n',
    "fstring_conversion": 'def f(ctx, x):\n    y = 1\n    return f"""{\nx!r}"""\n',
    "fstring_spec": 'def f(ctx, x):\n    return f"{x:>{3}}"\n',
    "fstring_debug": 'def f(ctx, x):\n    return f"{x=}"\n',
    "fstring_named_escape": 'def f(ctx, x):\n    return f"\\N{BULLET}{len(x)}"\n',
    "fstring_bad_in_field": 'def f(ctx, x):\n    return f"""{\n__import__}"""\n',
    "null_byte": "def f(ctx, x):\n    return x\n\x00",
    "lone_cr": "def f(ctx, x):\r    return x\r",
    "id_katakana_dot": "def f(ctx, x):\n    a\u30fbb = x\n    return a\u30fbb\n",
    "id_zwj": "def f(ctx, x):\n    a\u200db = x\n    return a\u200db\n",
    "new_char_in_string": 'def f(ctx, x):\n    return "\U0001fae8" + "\u0cf3"  # \U0001e030\n',
    "new_char_in_fstring_field": 'def f(ctx, x):\n    return f"{x}{\U0001e030}"\n',
    "fstring_starred": 'def f(ctx, x):\n    return f"{*x}"\n',
    "fstring_starred_debug": 'def f(ctx, x):\n    return f"{*x=}"\n',
    "fstring_starred_in_spec": 'def f(ctx, x):\n    return f"{x:{ *x }}"\n',
    "fstring_starred_tuple": 'def f(ctx, x):\n    return f"{*x,}"\n',
    "fstring_debug_in_spec": 'def f(ctx, x):\n    return f"{x:{x=}}"\n',
    "fstring_conversion_space": 'def f(ctx, x):\n    return f"{x!r :}"\n',
    "named_escape_15": 'def f(ctx, x):\n    return "\\N{MODIFIER LETTER CYRILLIC SMALL A}"\n',
    "named_escape_15_1": 'def f(ctx, x):\n    return f"{x}\\N{CJK UNIFIED IDEOGRAPH-2EBF0}"\n',
    "named_escape_14": 'def f(ctx, x):\n    return "\\N{BULLET}" + r"\\N{NO SUCH}"\n',
}
for _n in (50, 95, 190, 250, 400, 900, 1500):
    SOURCES[f"deep_neg_{_n}"] = "def f(ctx, x):\n    return " + "-" * _n + "x\n"
    SOURCES[f"deep_paren_{_n}"] = "def f(ctx, x):\n    return " + "(" * _n + "x" + ")" * _n + "\n"
    SOURCES[f"deep_list_{_n}"] = "def f(ctx, x):\n    return " + "[" * _n + "x" + "]" * _n + "\n"
    SOURCES[f"deep_add_{_n}"] = "def f(ctx, x):\n    return x" + " + x" * _n * 4 + "\n"
    SOURCES[f"deep_if_{_n}"] = (
        "def f(ctx, x):\n"
        + "".join("    " * (i + 1) + "if x:\n" for i in range(min(_n, 100)))
        + "    " * (min(_n, 100) + 1)
        + "return x\n"
    )

# Calls of the deployed corpus: (method, args).
NEW_CHARS = "\U0001e030\U0001e031\U00011f00\U0001f6dc\u0cf3\U0001e4d0\U00031350"
CALLS: list[tuple[str, list[Any]]] = [
    ("zero_div", [5]), ("zero_mod", [7]), ("key_missing", ["zz"]), ("key_missing", [12345]),
    ("key_missing", [[1, 2]]), ("index_out", [10]), ("index_out", ["x"]),
    ("add_mixed", [1, "a"]), ("add_mixed", ["a", 1]), ("add_mixed", [[1], (1,)]),
    ("add_mixed", [None, None]), ("add_mixed", [{"a": 1}, {"b": 2}]), ("compare_mixed", []),
    ("sort_mixed", []), ("call_int", [3]), ("len_int", []), ("unbound", [False]),
    ("attr_missing", []), ("recurse", []), ("fact", [300]), ("spin", []), ("hog", []),
    ("big", [2000]), ("big", [2100]), ("big", [5000]), ("big_text", [1200]),
    ("big_text", [1400]), ("parse_int", ["12x"]), ("parse_int", ["\uff11\uff12\uff13"]),
    ("parse_int", ["1" * 1200]), ("parse_int", ["1" * 1400]), ("parse_int", [" 1_000 "]),
    ("fmt", [2**64 - 1]), ("fmt", [-(2**63)]), ("fmt", ["\u00e9\n\t\x00" + NEW_CHARS]),
    ("fmt", [b"\x00\xff'\""]), ("fmt", [[None, True, {"a": [1]}]]),
    ("text", ["abc D\u00e9f"]), ("text", [NEW_CHARS]), ("text", ["\u1c89\u1c8a" + NEW_CHARS]),
    ("text", ["\U0001e030A \u2028\u1680x"]), ("encode_ascii", ["caf\u00e9"]),
    ("from_hex", ["zz"]), ("from_hex", ["0g"]), ("caught", [0]), ("caught", [1]),
    ("caught", [2]), ("caught", [3]), ("caught", [4]), ("caught", [5]), ("caught", [6]),
    ("caught", [7]), ("bad_return", []), ("bad_event", []), ("deep_value", [20]),
    ("deep_value", [40]), ("raise_own", ["boom"]), ("raise_own", [[1, "x"]]),
    ("store", ["k" + NEW_CHARS, {"v": NEW_CHARS}]), ("zero_div", []), ("zero_div", [1, 2]),
    ("no_such_method", []),
    ("parse_int", ["\U00011f50\U00011f51"]), ("parse_int", ["\U0001e4f1"]),
    ("text", ["\u4e24\u4eac"]), ("text", ["\u10fc\ua7f2 \u03a3\U0001e030\u03a3 ab"]),
    ("text", ["a\u30fbb"]), ("text", ["x\u200dy"]), ("key_missing", ["\U0001e030"]),
    ("raise_own", ["\U0001e030"]), ("fmt", [["\U0001e030", {"\U0001fae8": 1}]]),
    ("text", ["A\u03a3\U0001e030 x\u03a3\u10fc b\u10fc\u03a3 \U0001e030\u03a3a"]),
    ("text", ["\U0001e030ab CD\ua7f2ef \u03a3\u03a3\U0001e4d0\u03a3"]),
    ("text", ["\U0001e030\u03a3A\u03a3 \U0001e06d\u03a3 \U00011f00\u03a3"]),
]  # fmt: skip

# Governance (native) calls with good and bad arguments.
GOV_CALLS: list[tuple[str, list[Any]]] = [
    ("list_orgs", []), ("list_orgs", [1]), ("list_orgs", [1, 2]), ("get_identity", []),
    ("get_identity", [1, 2, 3]), ("get_identity", [5]), ("get_identity", [[1]]),
    ("get_identity", [{"a": 1}]), ("get_contract", [None]), ("get_contract", [7]),
    ("get_proposal", [b"x"]), ("vote", []), ("vote", ["x", True, 3]), ("vote", [1]),
    ("grant_role", [1, 2]), ("grant_role", ["x"]), ("revoke_certificate", [5]),
    ("revoke_serial", [[1]]), ("propose_set_params", [5]), ("propose_set_params", [{"x": 1}]),
    ("propose_set_params", [{"max_gas_per_tx": "a"}]), ("propose_add_validator", [1]),
    ("propose_set_power", ["n", "p"]), ("submit_evidence", [1, 2]),
    ("submit_evidence", [b"", b""]), ("propose_contract", ["x"]),
    ("propose_contract", [5, "def f(ctx):\n    return 1\n"]), ("get_params", [1]),
    ("validators_from", [None]), ("get_evidence", []), ("get_evidence", [1, 2, 3, 4, 5]),
    ("is_revoked", [5]), ("is_revoked", [b"\x30\x03"]), ("propose_add_org", ["o", 5]),
    ("propose_add_org", ["o", b"\x30\x82"]), ("nothing", []),
    ("revoke_role", ["x", "\U0001e030"]), ("propose_remove_org", ["\U0001e030"]),
    ("propose_add_org", ["o\U0001e030", b"\x30\x82"]), ("propose_set_params", [{"\U0001e030": 1}]),
    ("get_contract", ["\U0001e030"]),
]  # fmt: skip


# Text for the Unicode check: every text method on random strings of characters whose
# answers moved between Unicode 14.0, 15.0 and 15.1, and their neighbours (sigma, ligatures).
UNICODE_POOL = list("aAbZ \u017f\u00df\u03a3\u03c3\u03c2'.-1") + [
    "\u10fc", "\ua7f2", "\uab69", "\u4e24", "\u30fb", "\u200d", "\U0001e030", "\U0001e06d",
    "\U0001e4d0", "\U00011f50", "\u0cf3", "\U0001fae8", "\U0001f600", "\u0345", "\u0130",
    "\u01c5", "\u1f88", "\ufb03", "\u0301", "\U00031350", "\u2ffc", "\u02b9",
]  # fmt: skip


def unicode_answers(n: int = 20_000) -> list[list[Any]]:
    """Each text method (`tianfu.unicode14`: as the sandbox answers it) on `n` strings."""
    import random

    try:
        from tianfu import unicode14
    except ImportError:  # a tianfu from before ADR 0042: the interpreter's own answers
        unicode14 = None  # type: ignore[assignment]
    rng = random.Random(7)
    names = sorted(
        "isalpha isalnum isdigit isdecimal isnumeric isspace isprintable isidentifier "
        "islower isupper istitle upper lower casefold swapcase title capitalize".split()
    )
    rows = []
    for _ in range(n):
        s = "".join(rng.choice(UNICODE_POOL) for _ in range(rng.randint(0, 8)))
        row: list[Any] = [s]
        for name in names:
            method = unicode14.text_method(s, name) if unicode14 else None
            row.append(method() if method else getattr(s, name)())
        row.append(unicode14.fix_repr(repr([s])) if unicode14 else repr([s]))
        rows.append(row)
    return rows


# -- prepare -------------------------------------------------------------------------------
def prepare(job_path: Path) -> None:
    """Genesis, the validator's key and the blocks (signed transactions), written to
    `job_path`. Keys are fresh each run; every interpreter then replays the same bytes."""
    import time

    from tianfu.codec import encode
    from tianfu.crypto import ED25519, sign_tx, suite_for_scheme
    from tianfu.identity import OrgCA
    from tianfu.types import Genesis, OrgConfig, TxBody, Validator

    cas = {o: OrgCA.create(o, ED25519) for o in ORGS}
    admins = {o: ca.issue(f"{o}-admin", "admin", ED25519) for o, ca in cas.items()}
    user = cas["org2"].issue("user", "member", ED25519)
    node = cas["org1"].issue("node0", "node", ED25519)
    genesis = Genesis(
        version=1,
        chain_id="tianfu-crosspy",
        time_ms=int(time.time() * 1000),
        orgs=[OrgConfig(o, ca.cert_der) for o, ca in cas.items()],
        validators=[Validator("node0", "org1", ED25519, node.keypair.public_key, 1)],
        suite=suite_for_scheme(ED25519).name,
    )
    registered: set[str] = set()
    nonce = [0]
    blocks: list[list[tuple[str, bytes]]] = []

    def sign(who: Any, contract: str, method: str, args: list[Any], label: str) -> Any:
        nonce[0] += 1
        cert = b"" if who.info.address in registered else who.cert_der
        registered.add(who.info.address)
        body = TxBody(
            1, genesis.chain_id, ED25519, who.keypair.public_key, nonce[0],
            len(blocks) + 200, contract, method, args, cert,
        )  # fmt: skip
        tx = sign_tx(who.keypair, body)
        blocks[-1].append((label, tx.encoded()))
        return tx

    # Block 1: propose the corpus and every candidate source; block 2-3: approvals.
    blocks.append([])
    pids = {}
    for name, source in [("corpus", CORPUS), *SOURCES.items()]:
        tx = sign(
            admins["org1"], "governance", "propose_contract", [name, source], f"propose {name}"
        )
        pids[name] = tx.hash.hex()[:16]
    for org in ORGS[:3]:
        blocks.append([])
        for name, pid in pids.items():
            sign(admins[org], "governance", "approve", [pid], f"approve {name} by {org}")
    # Governance calls with bad arguments, by a member (registering it) and an admin.
    blocks.append([])
    for method, args in GOV_CALLS:
        sign(user, "governance", method, args, f"governance.{method}{tuple(args)!r}"[:120])
    blocks.append([])
    for method, args in GOV_CALLS:
        sign(admins["org2"], "governance", method, args, f"admin governance.{method}"[:120])
    # The corpus, one block per few calls (out-of-gas calls fill a block's gas budget).
    for i in range(0, len(CALLS), 2):
        blocks.append([])
        for method, args in CALLS[i : i + 2]:
            sign(user, "corpus", method, args, f"corpus.{method}{tuple(args)!r}"[:120])
    # The candidate sources that were deployed, called.
    blocks.append([])
    for name in SOURCES:
        sign(user, name, "f", [{"k": 1}], f"{name}.f")
    seed = node.keypair.private.private_bytes_raw()
    job = {"genesis": encode(genesis), "seed": seed, "blocks": blocks}
    job_path.write_bytes(msgspec.msgpack.encode(job))


# -- run (in each interpreter) ---------------------------------------------------------------
def run(job_path: Path, out_path: Path) -> None:
    """Replay the job's blocks on a fresh store; write per block the header, receipts,
    gas, errors and events."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from tianfu.codec import decode, encode
    from tianfu.crypto import KeyPair, sign_vote
    from tianfu.ledger import Ledger
    from tianfu.store import Store
    from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, Genesis
    from tianfu.types.tx import decode_tx

    job = msgspec.msgpack.decode(job_path.read_bytes())
    genesis = decode(job["genesis"], Genesis)
    key = KeyPair.from_private(ed25519.Ed25519PrivateKey.from_private_bytes(job["seed"]))
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tianfu-crosspy-") as tmp:
        ledger = Ledger(Store(Path(tmp) / "chain.db"), genesis)
        for block in [[], *job["blocks"]]:
            labels = [label for label, _ in block]
            txs = [decode_tx(raw) for _, raw in block]
            executed = ledger.build_block(txs, key.public_key)
            header = executed.block.header
            vote = sign_vote(
                key, genesis.chain_id, header.height, 0, PRECOMMIT, header.hash,
                header.time_ms + 1000,
            )  # fmt: skip
            cert = CommitCertificate(
                1, genesis.chain_id, header.height, 0, header.hash,
                [CommitSig(vote.validator, vote.time_ms, vote.signature)],
            )  # fmt: skip
            ledger.commit(executed, cert)
            by_hash = {t.hash: lb for t, lb in zip(txs, labels, strict=True)}
            included = [by_hash[t.hash] for t in executed.block.txs]
            receipts = executed.result.receipts
            out.append(
                {
                    "height": header.height,
                    "state_root": header.state_root.hex(),
                    "receipts_root": header.receipts_root.hex(),
                    "labels": included,
                    "dropped": [by_hash.get(h, h.hex()) for h, _ in executed.result.dropped],
                    "status": [r.status for r in receipts],
                    "errors": [r.error for r in receipts],
                    "gas": [r.gas_used for r in receipts],
                    "results": [encode(r.result).hex() for r in receipts],
                    "events": [encode(r.events).hex() for r in receipts],
                }
            )
        ledger.store.close()
    result = {"version": sys.version, "blocks": out, "unicode": unicode_answers()}
    out_path.write_bytes(msgspec.msgpack.encode(result))


# -- compare ---------------------------------------------------------------------------------
def _replay(python: str, job: Path, out: Path) -> dict[str, Any]:
    subprocess.run(
        [python, os.path.abspath(__file__), "--run", str(job), str(out)],
        check=True,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    result: dict[str, Any] = msgspec.msgpack.decode(out.read_bytes())
    return result


def compare(ref: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Every difference, block by block and receipt by receipt (labels of the txs)."""
    diffs = []
    for a, b in zip(ref["blocks"], other["blocks"], strict=True):
        h = a["height"]
        for field in ("state_root", "receipts_root"):
            if a[field] != b[field]:
                diffs.append(f"block {h}: {field} differs")
        if a["labels"] != b["labels"] or a["dropped"] != b["dropped"]:
            diffs.append(f"block {h}: included {a['labels']} / {b['labels']}")
            continue
        for i, label in enumerate(a["labels"]):
            for field in ("status", "errors", "gas", "results", "events"):
                if a[field][i] != b[field][i]:
                    diffs.append(
                        f"block {h} {label}: {field}: {a[field][i]!r} / {b[field][i]!r}"[:400]
                    )
    for a, b in zip(ref["unicode"], other["unicode"], strict=True):
        if a != b:
            diffs.append(f"unicode: {a!r} / {b!r}"[:400])
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pythons", nargs="*", help="interpreters to compare with this one")
    ap.add_argument("--run", nargs=2, metavar=("JOB", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--show", action="store_true", help="print every receipt's error")
    args = ap.parse_args()
    if args.run:
        run(Path(args.run[0]), Path(args.run[1]))
        return
    with tempfile.TemporaryDirectory(prefix="tianfu-crosspy-") as tmp:
        job = Path(tmp) / "job"
        prepare(job)
        ref = _replay(sys.executable, job, Path(tmp) / "ref")
        print(f"reference: {ref['version'].split()[0]}: {len(ref['blocks'])} blocks, "
              f"{sum(len(b['labels']) for b in ref['blocks'])} transactions")  # fmt: skip
        if args.show:
            for b in ref["blocks"]:
                for label, err, gas in zip(b["labels"], b["errors"], b["gas"], strict=True):
                    print(f"  {b['height']:3} {label[:70]:70} {gas:8} {err[:110]}")
        failed = False
        for i, python in enumerate(args.pythons):
            other = _replay(python, job, Path(tmp) / f"out{i}")
            diffs = compare(ref, other)
            print(f"{other['version'].split()[0]} ({python}): {len(diffs)} differences")
            for d in diffs:
                print("  " + d)
            failed = failed or bool(diffs)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
