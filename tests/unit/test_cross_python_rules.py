"""Receipts, gas and deployment decisions that must not depend on the CPython version a
node runs (3.11, 3.12 and 3.13 may be mixed in one consortium: docs/ops/deploy.md).

Pinned here: the native contracts' argument refusals and accidental failures (CPython's own
TypeError text was in receipts), syntax errors and sources only a later grammar parses
(PEP 701 f-strings, PEP 695 type parameters, later identifier characters: refused on every
version with one fixed text), and Unicode answers frozen at 14.0 (3.11's). The answers
that 3.12 and 3.13 gave differently are pinned as 3.11 gives them: run this file under
those interpreters too (`benchmarks/cross_python.py` compares whole chains).
"""

from __future__ import annotations

import ast
import itertools
import sys
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import pytest

from tianfu import unicode14
from tianfu.execution import grammar, sandbox
from tianfu.execution.contract_api import ContractError
from tianfu.execution.native import arity, arity_text, call_native
from tianfu.execution.sandbox import ContractRejected, compile_contract
from tianfu.testing.appchain import AppChain
from tianfu.unicode14_table import UNASSIGNED_14

PY311 = sys.version_info[:2] == (3, 11)


# -- native contracts ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = AppChain(tmp_path_factory.mktemp("crosspy"))
    c.deploy(
        "uni",
        "def fail(ctx, s):\n    raise ValueError(s)\n\n"
        "def missing(ctx, k):\n    return {}[k]\n\n"
        "def ask(ctx, s):\n"
        "    return [s.isalpha(), s.isprintable(), s.isnumeric(), s.isidentifier(),\n"
        "            s.islower(), s.upper(), s.title(), str([s])]\n\n"
        "def number(ctx, s):\n    return int(s)\n",
    )
    yield c
    c.close()


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("list_orgs", [1], "bad arguments for governance.list_orgs: it takes 0 arguments, 1 given"),
        ("list_orgs", [1, 2], "bad arguments for governance.list_orgs: it takes 0 arguments, 2 given"),
        ("get_identity", [], "bad arguments for governance.get_identity: it takes 1 argument, 0 given"),
        ("vote", [], "bad arguments for governance.vote: it takes 1 to 2 arguments, 0 given"),
        ("vote", ["x", True, 3], "bad arguments for governance.vote: it takes 1 to 2 arguments, 3 given"),
        ("get_evidence", [1], "bad arguments for governance.get_evidence: it takes 4 arguments, 1 given"),
    ],
)  # fmt: skip
def test_a_native_call_with_a_wrong_count_of_arguments_fails_with_fixed_text(
    chain: Any, method: str, args: list[Any], error: str
) -> None:
    """CPython's "Governance.list_orgs() takes 2 positional arguments but 3 were given" was
    the receipt's error: its wording is the interpreter's."""
    r = chain.call(chain.admin("org1"), "governance", method, *args)
    assert not r.ok
    assert r.error == error


class _Native:
    def typed(self, ctx: Any, a: Any) -> Any:
        return a + 1  # TypeError for text: CPython's words

    def keyed(self, ctx: Any, k: Any) -> Any:
        return {}[k]

    def attr(self, ctx: Any, x: Any) -> Any:
        return x.startswith("a")

    def value(self, ctx: Any, s: Any) -> Any:
        return int(s)

    def index(self, ctx: Any, i: Any) -> Any:
        return [][i]

    def host(self, ctx: Any) -> Any:
        raise OSError("disk")

    def several(self, ctx: Any, a: Any, b: Any = 1, *rest: Any) -> Any:
        return [a, b, *rest]


@pytest.mark.parametrize(
    ("method", "arg", "error"),
    [
        ("typed", "x", "n.typed failed: TypeError"),
        ("keyed", "secret", "n.keyed failed: KeyError"),
        ("attr", 5, "n.attr failed: AttributeError"),
        ("value", "x", "n.value failed: ValueError"),
        ("index", 3, "n.index failed: IndexError"),
    ],
)
def test_an_accidental_exception_in_a_native_method_names_its_class_only(
    method: str, arg: Any, error: str
) -> None:
    obj = _Native()
    with pytest.raises(ContractError) as info:
        call_native(obj, "n", method, arity(getattr(obj, method)), None, [arg])
    assert str(info.value) == error


def test_a_host_failure_in_a_native_method_is_not_an_outcome() -> None:
    obj = _Native()
    with pytest.raises(OSError):
        call_native(obj, "n", "host", arity(obj.host), None, [])


def test_native_arity_is_read_from_the_signature() -> None:
    obj = _Native()
    assert arity(obj.several) == (1, None)
    assert arity_text(1, None) == "at least 1 argument"
    assert call_native(obj, "n", "several", arity(obj.several), None, [1, 2, 3]) == [1, 2, 3]
    with pytest.raises(ContractError, match="^bad arguments for n.several: it takes at least"):
        call_native(obj, "n", "several", arity(obj.several), None, [])


# -- grammar ---------------------------------------------------------------------------------
NEWER_GRAMMAR = {
    "pep701 quotes": 'def f(ctx, d):\n    return f"{d["k"]}"\n',
    "pep701 backslash": "def f(ctx, L):\n    return f\"{'\\n'.join(L)}\"\n",
    "pep701 comment": 'def f(ctx, x):\n    return f"""{x # c\n}"""\n',
    "pep701 nested": 'def f(ctx, x):\n    return f"{f"{x}"}"\n',
    "pep701 line break": 'def f(ctx, x):\n    return f"{x\n}"\n',
    "pep695 def": "def f[T](ctx, x):\n    return x\n",
    "pep695 type": "type A = int\n\ndef f(ctx, x):\n    return x\n",
    "unicode 15 identifier": "def f(ctx, x):\n    \U0001e030a = x\n    return \U0001e030a\n",
    "unicode 15.1 identifier": "def f(ctx, x):\n    a\u30fbb = x\n    return a\u30fbb\n",
    "zwj identifier": "def f(ctx, x):\n    a\u200db = x\n    return a\u200db\n",
    "unicode 15 in a field": 'def f(ctx, x):\n    return f"{x}{\U0001e030}"\n',
    "null byte": "def f(ctx, x):\n    return x\n\x00",
    # 3.11: "f-string: cannot use starred expression here"; 3.12 and 3.13 parse it
    "starred field": 'def f(ctx, x):\n    return f"{*x}"\n',
    "starred field with a debug text": 'def f(ctx, x):\n    return f"{*x=}"\n',
    "starred field in a format spec": 'def f(ctx, x):\n    return f"{x:{*x}}"\n',
    "plain syntax error": "def f(ctx)\n    return 1\n",
    "unclosed": "def f(ctx, x):\n    return (1,\n",
}


@pytest.mark.parametrize("name", sorted(NEWER_GRAMMAR))
def test_a_source_outside_311s_grammar_is_a_syntax_error_with_fixed_text(name: str) -> None:
    """3.12 deployed PEP 701 f-strings and Unicode 15 identifiers that 3.11 refused, and
    CPython's syntax error messages and lines differ between versions."""
    with pytest.raises(ContractRejected) as info:
        compile_contract(NEWER_GRAMMAR[name])
    assert str(info.value) == "syntax error"


@pytest.mark.parametrize(
    "source",
    [
        'def f(ctx, d):\n    return f"{d[\'k\']}-{len(d)}" + f"""{\nd}"""\n',
        'def f(ctx, x):\n    return "\U0001fae8" + "\u0cf3"  # \U0001e030 in a comment\n',
        'def f(ctx, x):\n    return f"\\N{BULLET} {x}" \'\u30fb\' rf"\\d{x}"\n',
        "def f(ctx, x):\r    \u00e9t\u00e9 = x\r    return \u00e9t\u00e9\r",
    ],
)
def test_311_sources_with_later_characters_in_strings_and_comments_compile(source: str) -> None:
    compile_contract(source)


def test_a_process_turning_warnings_into_errors_compiles_the_same_sources() -> None:
    """An invalid escape warns (DeprecationWarning in 3.11, SyntaxWarning in 3.12): under
    `-W error` the node refused a source every other node deployed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_contract('def f(ctx, s):\n    return "\\d" + s  # -W error\n')


def test_a_refusal_inside_an_f_string_names_the_f_strings_line() -> None:
    """CPython places an f-string's parts on different lines in 3.11 and 3.12."""
    with pytest.raises(ContractRejected) as info:
        compile_contract('def f(ctx, x):\n    return f"""a\n{x!r}"""\n')
    assert str(info.value).startswith("line 2: f-string conversions")


def test_too_deep_a_source_is_refused_without_a_line() -> None:
    """A parser with a lower limit fails to parse it; another parses it and `check_depth`
    refuses it: the same text either way."""
    for source in ("x = " + "-" * 400 + "1\n", "def f(ctx):\n    return 1" + " + 1" * 4000 + "\n"):
        with pytest.raises(ContractRejected) as info:
            compile_contract(source)
        assert str(info.value) == "code nested more than 200 levels deep"


def test_a_node_class_or_field_311_does_not_have_is_a_syntax_error() -> None:
    class TypeVar(ast.expr):  # as 3.12's ast has it
        _fields = ("name",)

    tree = ast.parse("def f(ctx):\n    return 1\n")
    tree.body[0].returns = TypeVar(name="T")  # type: ignore[attr-defined]
    with pytest.raises(grammar.NotPython311):
        grammar.check_311(tree, "def f(ctx):\n    return 1\n")

    class FunctionDef(ast.FunctionDef):  # as 3.12's: type parameters
        _fields = (*(f for f in ast.FunctionDef._fields if f != "type_params"), "type_params")

    source = "def f(ctx):\n    return 1\n"
    tree = ast.parse(source)
    plain = tree.body[0]
    kept = {f: getattr(plain, f) for f in plain._fields if f != "type_params"}
    tree.body[0] = FunctionDef(**kept, type_params=[])
    ast.copy_location(tree.body[0], plain)
    grammar.check_311(tree, source)  # none: as 3.11's
    tree.body[0].type_params = [ast.Name("T")]  # type: ignore[attr-defined]
    with pytest.raises(grammar.NotPython311):
        grammar.check_311(tree, source)


@pytest.mark.parametrize("spec", [False, True])
def test_a_starred_f_string_field_is_a_syntax_error(spec: bool) -> None:
    """3.11 refuses `f"{*x}"` ("f-string: cannot use starred expression here"); 3.12 and
    3.13 parse it as a `Starred` field, and the contract deployed there only. The tree is
    made here as 3.12 makes it, from a source of the same length 3.11 parses."""
    field = "{x:{(x)}}" if spec else "{(x)}"
    plain = f"def f(ctx, x):\n    return f'{field}'\n"
    starred = plain.replace("{(x)}", "{*x }")
    tree = ast.parse(plain)
    grammar.check_311(tree, starred)  # none without the star
    value = [n for n in ast.walk(tree) if isinstance(n, ast.FormattedValue)][-1]
    value.value = ast.copy_location(ast.Starred(value.value, ast.Load()), value.value)
    with pytest.raises(grammar.NotPython311):
        grammar.check_311(tree, starred)


# The f-string literals 3.11's tokenizer and parser take, read again by `grammar`: every
# combination of these prefixes, quotes and up to two body fragments.
_PREFIXES = ["f", "rf", "Fr", "f'' f"]
_QUOTES = ['"', "'", '"""', "'''"]
_FRAGMENTS = [
    "a", "{x}", "{{", "}}", "}", "{", "{}", "{ }", "{x!r}", "{x!z}", "{x!}", "{x:>4}",
    "{x:{w}}", "{x:{w:{v}}}", "{x=}", "{ x = }", "{x!=y}", "{x<y}", "{x>=y}", "{(a:=1)}",
    "{d['k']}", '{d["k"]}', "{'\\n'}", "{x#}", "\\N{BULLET}", "\\{x}", "\\", "{x\n}", "\n",
    "{f'{x}'}", '{f"{x}"}', "{[1, {2: (3)}][0]}", "{(1,\n2)}", "{x[}", "{x)}", "{'''a'''}",
    "{x:{'a'}}", "{'}'}", "'", '"', "{x!r:>{w}}",
]  # fmt: skip


def _fstring_sources() -> list[str]:
    bodies = [a + b for a, b in itertools.product(_FRAGMENTS, ["", *_FRAGMENTS])]
    return [
        f"x = {p}{q}{body}{q}\n" for p, q, body in itertools.product(_PREFIXES, _QUOTES, bodies)
    ]


FIXTURE = Path(__file__).with_name("fstrings_311.txt")


def _accepts(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    try:
        grammar.check_311(tree, source)
    except grammar.NotPython311:
        return False
    return True


def test_f_strings_are_read_as_311_reads_them() -> None:
    """On every version, `ast.parse` plus `check_311` accept exactly the f-strings 3.11's
    parser accepts (recorded by 3.11 in `fstrings_311.txt`; under 3.11 the recording is
    checked against its parser, so it cannot go stale)."""
    sources = _fstring_sources()
    answers = "".join("1" if _accepts(s) else "0" for s in sources)
    if PY311:
        parsed = "".join("1" if _parses(s) else "0" for s in sources)
        assert answers == parsed  # the check never refuses what 3.11 parses
    # (the recording: `python -c` this function's `parsed` under 3.11, one 0/1 a source)
    assert FIXTURE.read_text().strip() == answers


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


# -- Unicode ---------------------------------------------------------------------------------
def test_the_table_is_unicode_14s_unassigned_code_points() -> None:
    if not PY311:
        pytest.skip("3.11's unicodedata is Unicode 14.0")
    assert unicodedata.unidata_version == "14.0.0"
    table = {cp for a, b in UNASSIGNED_14 for cp in range(a, b + 1)}
    assert table == {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cn"}


def test_the_interpreters_unicode_version_is_one_the_rules_were_measured_on() -> None:
    """The characters whose answers moved (`unicode14`) were measured between Unicode 14.0,
    15.0 and 15.1 (CPython 3.11-3.13). A later version must be measured first."""
    assert unicodedata.unidata_version in {"14.0.0", "15.0.0", "15.1.0"}


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        # unassigned in 14.0: no letter, not printable, uncased, escaped by repr
        ("\U0001e030", [False, False, False, False, False, "\U0001e030", "\U0001e030",
                        "['\\U0001e030']"]),
        # U+4E24 两: numeric since 15.1
        ("\u4e24", [True, True, False, True, False, "\u4e24", "\u4e24", "['\u4e24']"]),
        # U+30FB: an identifier character since 15.1
        ("a\u30fbb", [False, True, False, False, True, "A\u30fbB", "A\u30fbB", "['a\u30fbb']"]),
        # U+10FC: lowercase since 15.0
        ("\u10fc", [True, True, False, True, False, "\u10fc", "\u10fc", "['\u10fc']"]),
        ("\u03a3\U0001e030\u03a3 ab", [False, False, False, False, False,
                                       "\u03a3\U0001e030\u03a3 AB", "\u03a3\U0001e030\u03a3 Ab",
                                       "['\u03a3\\U0001e030\u03a3 ab']"]),
        ("Caf\u00e9", [True, True, False, True, False, "CAF\u00c9", "Caf\u00e9", "['Caf\u00e9']"]),
    ],
)  # fmt: skip
def test_text_answers_are_unicode_14s(chain: Any, text: str, answer: list[Any]) -> None:
    """3.12 and 3.13 answered these from Unicode 15.0 / 15.1."""
    r = chain.call(chain.identity("org2", "u"), "uni", "ask", text)
    assert r.ok, r.error
    assert r.result == answer


def test_int_takes_no_digit_14_leaves_unassigned(chain: Any) -> None:
    user = chain.identity("org2", "u")
    for digits in ("\U00011f50\U00011f51", "\U0001e4f1"):  # Kawi, Nag Mundari (15.0)
        r = chain.call(user, "uni", "number", digits)
        assert r.error == "ValueError: invalid literal for int()"
    assert chain.call(user, "uni", "number", "\uff11\uff12").result == 12


def test_a_failed_receipt_escapes_code_points_14_leaves_unassigned(chain: Any) -> None:
    """A message holding a repr (3.11 escapes them) or raw text (no version does)."""
    user = chain.identity("org2", "u")
    assert chain.call(user, "uni", "fail", "x\U0001e030").error == "ValueError: x\\U0001e030"
    assert chain.call(user, "uni", "missing", "\U0001e030").error == "KeyError: '\\U0001e030'"
    r = chain.call(chain.admin("org1"), "governance", "propose_remove_org", "\U0001e030")
    assert r.error == "'\\U0001e030' is not an active member organisation"


def test_the_check_of_non_ascii_text_is_charged_on_every_version() -> None:
    assert unicode14.check_gas("abc" * 100) == 0
    assert unicode14.check_gas("\u00e9" * 64) == 8
    assert unicode14.check_gas("\U0001f600" * 4) == 0 + 4
    assert unicode14.check_gas("\u00e9" * 64, "title") == 8 + 128
    assert unicode14.check_gas("\u00e9" * 64, "lower") == 8
    assert unicode14.check_gas("\u00e9\u03a3" * 32, "lower") == 8 + 128
    assert unicode14.escape_unassigned("\u00e9\U0001e030\u0378") == "\u00e9\\U0001e030\\u0378"


@pytest.mark.parametrize(
    "source",
    [
        'def f(ctx, x):\n    return f"{x:{x=}}"\n',
        'def f(ctx, x):\n    return f"{x:>{x = !r}}"\n',
        'def f(ctx, x):\n    return f"a" f"""{x!r:{\nx=}}"""\n',
    ],
)
def test_a_debug_field_in_a_format_spec_is_a_syntax_error(source: str) -> None:
    """CPython 3.12.0 to 3.12.4 cannot parse `f"{x:{y=}}"` (gh-121130: `ast.parse` raises
    ValueError "field 'value' is required for Constant"), which the node reported as
    "code nested more than 200 levels deep" while 3.11 and 3.13 parsed it and refused its
    format spec with the validator's text: a refused proposal's receipt differed."""
    with pytest.raises(ContractRejected) as info:
        compile_contract(source)
    assert str(info.value) == "syntax error"


def test_a_value_error_of_the_parser_is_a_syntax_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser of 3.12.0-3.12.4 raises ValueError for a debug field in a format spec."""

    class Ast:  # the sandbox's `ast`, whose parser fails as 3.12.1's does
        def __getattr__(self, name: str) -> Any:
            return getattr(ast, name)

        def parse(self, *args: Any, **kwargs: Any) -> Any:
            raise ValueError("field 'value' is required for Constant")

    monkeypatch.setattr(sandbox, "ast", Ast())
    with pytest.raises(ContractRejected) as info:
        compile_contract('def f(ctx, x):\n    return f"{x:{x=}} "\n')
    assert str(info.value) == "syntax error"


@pytest.mark.parametrize("fstring", [False, True])
@pytest.mark.parametrize(
    "name", ["MODIFIER LETTER CYRILLIC SMALL A", "CJK UNIFIED IDEOGRAPH-2EBF0"]
)
def test_a_named_escape_of_a_later_character_is_a_syntax_error(fstring: bool, name: str) -> None:
    """`"\\N{MODIFIER LETTER CYRILLIC SMALL A}"` (U+1E030, Unicode 15.0): 3.11's parser
    does not know the name and refuses the source, 3.12 and 3.13 deployed it. The tree is
    the one 3.12 makes, from a literal of the same length 3.11 parses."""
    escape = "\\N{" + name + "}"
    literal = f"f'a' f'{escape}{{x}}'" if fstring else f"'a' '{escape}' + x"
    source = f"def f(ctx, x):\n    return {literal}\n"
    plain = source.replace(escape, "b" * len(escape))
    tree = ast.parse(plain)
    grammar.check_311(tree, plain)
    with pytest.raises(grammar.NotPython311):
        grammar.check_311(tree, source)


def test_named_escapes_of_14s_characters_compile() -> None:
    compile_contract(
        'def f(ctx, x):\n    return "\\\\N{BULLET}\\N{BULLET}\\N{LATIN SMALL LETTER A}" + '
        "f'\\N{BULLET}{x}\\N{CJK UNIFIED IDEOGRAPH-4E2D}' + r'\\N{NO SUCH NAME}' + "
        "b'\\N{NO SUCH NAME}'.decode()\n"
    )
