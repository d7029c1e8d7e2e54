"""The grammar of contract sources: CPython 3.11's, on every Python version a node runs.

`ast.parse` accepts what the running interpreter's grammar accepts, and that grows: 3.12
parses PEP 701 f-strings (the enclosing quote, backslashes, comments and line breaks in a
replacement field; nesting with the same quotes) and PEP 695 type parameters and `type`
statements, 3.13 type-parameter defaults, and each version takes the identifier characters
of its own Unicode version (14.0 in 3.11, 15.1 in 3.13). A source one node refuses and
another deploys would split the chain at the proposal. So after `ast.parse`, `check_311`
refuses, as a syntax error like 3.11's parser, on every version:

- a node class or a field 3.11's `ast` does not have (`TypeVar`, `TypeAlias`,
  `FunctionDef.type_params` non-empty, ...);
- an f-string whose text 3.11's tokenizer and f-string parser would not take: every
  f-string literal is read again as 3.11 reads it (the literal ends at its first unescaped
  closing quote; in a replacement field no backslash, no `#`, brackets and nested strings
  balanced, nested f-strings read the same way, format specs nested at most two deep; no
  field that is a starred expression, `{*x}`; no `=` debug text in a format spec's field,
  `{x:{y=}}`, which 3.11 parses but 3.12.0-3.12.4 cannot: a syntax error everywhere);
- in any string literal that is not raw, a `\\N{name}` escape of a character Unicode 14.0
  does not have (3.12 and 3.13 know the names of 15.0's and 15.1's characters);
- outside string literals and comments (identifiers, operators, in f-string fields too), a
  code point Unicode 14.0 leaves unassigned, or one that became an identifier character
  later (U+200C, U+200D, U+30FB, U+FF65).

3.11 itself refuses all of these in `ast.parse` already; the check then finds nothing. A
refusal's text is fixed ("syntax error", no line: CPython's messages and line numbers for
syntax errors differ between versions).
"""

from __future__ import annotations

import ast
import re
import unicodedata

from tianfu.unicode14 import UNASSIGNED_14, _char_class

SYNTAX_ERROR = "syntax error"

# 3.11's node classes and their fields (`ast`, CPython 3.11.7; not the deprecated aliases).
_FIELDS_311_TEXT = """
    Add And AnnAssign:target,annotation,value,simple Assert:test,msg
    Assign:targets,value,type_comment AsyncFor:target,iter,body,orelse,type_comment
    AsyncFunctionDef:name,args,body,decorator_list,returns,type_comment
    AsyncWith:items,body,type_comment Attribute:value,attr,ctx AugAssign:target,op,value
    Await:value BinOp:left,op,right BitAnd BitOr BitXor BoolOp:op,values Break
    Call:func,args,keywords ClassDef:name,bases,keywords,body,decorator_list
    Compare:left,ops,comparators Constant:value,kind Continue Del Delete:targets
    Dict:keys,values DictComp:key,value,generators Div Eq ExceptHandler:type,name,body
    Expr:value Expression:body FloorDiv For:target,iter,body,orelse,type_comment
    FormattedValue:value,conversion,format_spec
    FunctionDef:name,args,body,decorator_list,returns,type_comment
    FunctionType:argtypes,returns GeneratorExp:elt,generators Global:names Gt GtE
    If:test,body,orelse IfExp:test,body,orelse Import:names ImportFrom:module,names,level In
    Interactive:body Invert Is IsNot JoinedStr:values LShift Lambda:args,body List:elts,ctx
    ListComp:elt,generators Load Lt LtE MatMult Match:subject,cases MatchAs:pattern,name
    MatchClass:cls,patterns,kwd_attrs,kwd_patterns MatchMapping:keys,patterns,rest
    MatchOr:patterns MatchSequence:patterns MatchSingleton:value MatchStar:name
    MatchValue:value Mod Module:body,type_ignores Mult Name:id,ctx NamedExpr:target,value
    Nonlocal:names Not NotEq NotIn Or Pass Pow RShift Raise:exc,cause Return:value Set:elts
    SetComp:elt,generators Slice:lower,upper,step Starred:value,ctx Store Sub
    Subscript:value,slice,ctx Try:body,handlers,orelse,finalbody
    TryStar:body,handlers,orelse,finalbody Tuple:elts,ctx TypeIgnore:lineno,tag UAdd USub
    UnaryOp:op,operand While:test,body,orelse With:items,body,type_comment Yield:value
    YieldFrom:value alias:name,asname arg:arg,annotation,type_comment
    arguments:posonlyargs,args,vararg,kwonlyargs,kw_defaults,kwarg,defaults boolop cmpop
    comprehension:target,iter,ifs,is_async excepthandler expr expr_context keyword:arg,value
    match_case:pattern,guard,body mod operator pattern slice stmt type_ignore unaryop
    withitem:context_expr,optional_vars
"""
FIELDS_311: dict[str, frozenset[str]] = {
    name: frozenset(fields.split(",")) if fields else frozenset()
    for name, _, fields in (item.partition(":") for item in _FIELDS_311_TEXT.split())
}
# Outside strings and comments: not a character of 3.11's source text.
_NOT_CODE = re.compile(f"[{_char_class(UNASSIGNED_14)}\u200c\u200d\u30fb\uff65]")
_UNASSIGNED = re.compile(f"[{_char_class(UNASSIGNED_14)}]")
_LINES = re.compile(r"\r\n|\r|\n")
_PREFIXES = frozenset({"", "r", "u", "b", "br", "rb", "f", "fr", "rf"})
_MAX_NESTING = 200  # 3.11's MAXLEVEL of brackets in an f-string field


class NotPython311(Exception):
    """The source is not in CPython 3.11's grammar."""


def check_311(tree: ast.Module, source: str) -> None:
    """Raise `NotPython311` if `tree` (parsed from `source` by this interpreter) holds what
    CPython 3.11 would not have parsed. Iterative: no recursion on the tree's depth."""
    strings: list[tuple[int, int, int, int]] = []  # positions of string literals
    fstrings: list[ast.JoinedStr] = []
    inside: set[int] = set()  # nodes within an f-string
    for node in ast.walk(tree):
        fields = FIELDS_311.get(type(node).__name__)
        if fields is None:
            raise NotPython311(type(node).__name__)
        for name in node._fields:
            if name not in fields and getattr(node, name, None):
                raise NotPython311(f"{type(node).__name__}.{name}")
        if isinstance(node, ast.FormattedValue) and isinstance(node.value, ast.Starred):
            # 3.11: "f-string: cannot use starred expression here" (3.12 parses `{*x}`)
            raise NotPython311("starred f-string field")
        if isinstance(node, ast.JoinedStr) and id(node) not in inside:
            fstrings.append(node)
            inside.update(id(n) for n in ast.walk(node) if n is not node)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (str, bytes))
            and id(node) not in inside
        ):
            strings.append(_position(node))
    lines = _LINES.split(source)
    for pos in strings:  # the string literals: their `\N{...}` escapes (f-strings below)
        text = _segment(lines, pos)
        if "\\N" in text:
            _check_literals(text)
    for node in fstrings:
        strings.append(_position(node))
        _check_literals(_segment(lines, _position(node)))
    _check_code(lines, strings)


def fstring_lines(tree: ast.AST) -> dict[int, int]:
    """For every node inside an f-string, the line of the f-string (by node id): where
    CPython places the parts of an f-string differs between versions, its start does not."""
    lines: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in lines:
            for n in ast.walk(node):
                if n is not node:
                    lines[id(n)] = node.lineno
    return lines


def _position(node: ast.expr) -> tuple[int, int, int, int]:
    end_line, end_col = node.end_lineno, node.end_col_offset
    if end_line is None or end_col is None:  # (never for a parsed node)
        raise NotPython311("position")
    return node.lineno, node.col_offset, end_line, end_col


def _segment(lines: list[str], pos: tuple[int, int, int, int]) -> str:
    """The source text at `pos` (lines 1-based, columns UTF-8 byte offsets)."""
    l0, c0, l1, c1 = pos
    if l0 == l1:
        return lines[l0 - 1].encode()[c0:c1].decode()
    parts = [lines[l0 - 1].encode()[c0:].decode()]
    parts += lines[l0 : l1 - 1]
    parts.append(lines[l1 - 1].encode()[:c1].decode())
    return "\n".join(parts)


def _check_code(lines: list[str], strings: list[tuple[int, int, int, int]]) -> None:
    """No character outside 3.11's source text in the code: every line with its string
    literals blanked and its comment cut."""
    cut: dict[int, list[tuple[int, int | None]]] = {}
    for l0, c0, l1, c1 in strings:
        if l0 == l1:
            cut.setdefault(l0, []).append((c0, c1))
            continue
        cut.setdefault(l0, []).append((c0, None))
        for line in range(l0 + 1, l1):
            cut.setdefault(line, []).append((0, None))
        cut.setdefault(l1, []).append((0, c1))
    for number, text in enumerate(lines, 1):
        if text.isascii():
            continue
        raw = text.encode()
        spans = sorted(cut.get(number, []), key=lambda s: s[0])
        code, at = [], 0
        for start, end in spans:
            code.append(raw[at:start])
            at = len(raw) if end is None else max(at, end)
        code.append(raw[at:])
        rest = b" ".join(code).decode(errors="replace").split("#", 1)[0]
        if _NOT_CODE.search(rest):
            raise NotPython311("character")


# -- f-strings as 3.11 reads them -----------------------------------------------------------


def _check_literals(text: str) -> None:
    """`text`, the source of one string expression (implicitly concatenated literals, with
    whitespace, line continuations and comments between them), read as 3.11's tokenizer
    and f-string parser read it."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\f\r\n":
            i += 1
        elif c == "\\" and text[i + 1 : i + 2] in ("\n", "\r"):
            i += 2
        elif c == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
        else:
            i = _literal(text, i)


def _literal(text: str, i: int) -> int:
    """Read the string literal at `text[i]`; its end. An f-string's body is checked."""
    j = i
    while j < len(text) and text[j] in "rRbBuUfF":
        j += 1
    prefix = text[i:j].lower()
    if prefix not in _PREFIXES or j >= len(text) or text[j] not in "'\"":
        raise NotPython311("literal")
    body, end = _string_body(text, j)
    if "r" not in prefix and "b" not in prefix:
        _named_escapes(body)
    if "f" in prefix:
        _fstring_body(body, raw="r" in prefix, level=0)
    return end


def _named_escapes(body: str) -> None:
    """Each `\\N{name}` escape of a (not raw) string's body names a character Unicode 14.0
    has: 3.12 and 3.13 also know the names of the characters of Unicode 15.0 and 15.1
    (`"\\N{MODIFIER LETTER CYRILLIC SMALL A}"`, U+1E030), which 3.11 refuses."""
    k = body.find("\\")
    while k >= 0:
        if body.startswith("N{", k + 1):
            close = body.find("}", k + 3)
            if close < 0:
                raise NotPython311("malformed \\N escape")
            try:
                char = unicodedata.lookup(body[k + 3 : close])
            except KeyError:
                raise NotPython311("unknown \\N name") from None
            if _UNASSIGNED.match(char):
                raise NotPython311("\\N names a character Unicode 14.0 does not have")
            k = body.find("\\", close + 1)
        else:
            k = body.find("\\", k + 2)  # after the escaped character


def _string_body(text: str, j: int) -> tuple[str, int]:
    """The body of the string whose opening quote is at `text[j]`, and the index after its
    closing quote, as 3.11's tokenizer ends it: the first unescaped closing quote."""
    quote = text[j : j + 3] if text[j : j + 3] in ('"""', "'''") else text[j]
    k = j + len(quote)
    while True:
        if k >= len(text):
            raise NotPython311("unterminated string")
        ch = text[k]
        if ch == "\\":
            k += 2
            continue
        if len(quote) == 1 and ch in "\r\n":
            raise NotPython311("line break in a string")
        if text.startswith(quote, k):
            return text[j + len(quote) : k], k + len(quote)
        k += 1


def _fstring_body(body: str, raw: bool, level: int) -> int:
    """3.11's `fstring_find_literal_and_expr` loop over an f-string's body (level 0) or a
    format spec (level 1, 2: ends at a single '}'); the index where it ended."""
    k, n = 0, len(body)
    while k < n:
        ch = body[k]
        k += 1
        if not raw and ch == "\\" and k < n:
            ch = body[k]
            k += 1
            if ch == "N":  # "\N{name}": its braces are no field (the next character is
                if k < n:  # taken, a brace or not, as 3.11 takes it)
                    k += 1
                    if body[k - 1] == "{":
                        while k < n and body[k] != "}":
                            k += 1
                        k += 1
                continue
        if ch in "{}":
            if level == 0 and k < n and body[k] == ch:
                k += 1  # a doubled brace
                continue
            if ch == "}":
                if level == 0:
                    raise NotPython311("single '}'")
                return k - 1  # the end of a format spec
            k = _field(body, k, raw, level)
    if level:
        raise NotPython311("expecting '}'")
    return k


def _field(body: str, k: int, raw: bool, level: int) -> int:
    """3.11's `fstring_find_expr` from after a field's '{': the index after its '}'."""
    if level >= 2:
        raise NotPython311("f-string: expressions nested too deeply")
    start, n = k, len(body)
    quote, triple = "", False
    depth: list[str] = []
    while k < n:
        ch = body[k]
        if ch == "\\":
            raise NotPython311("backslash in an f-string field")
        if quote:
            if ch == quote and (not triple or body[k : k + 3] == quote * 3):
                k += 3 if triple else 1
                quote = ""
                continue
        elif ch in "'\"":
            triple = body[k : k + 3] == ch * 3
            quote = ch
            k += 3 if triple else 1
            continue
        elif ch in "[{(":
            if len(depth) >= _MAX_NESTING:
                raise NotPython311("f-string: too many nested parenthesis")
            depth.append(ch)
        elif ch == "#":
            raise NotPython311("'#' in an f-string field")
        elif not depth and ch in "!:}=<>":
            if body[k + 1 : k + 2] == "=" and ch in "!=<>":
                k += 2
                continue
            if ch not in "<>":
                break
        elif ch in "]})":
            if not depth or "([{".index(depth.pop()) != ")]}".index(ch):
                raise NotPython311("f-string: unmatched bracket")
        k += 1
    if quote or depth or k >= n:
        raise NotPython311("f-string: unterminated field")
    _field_expression(body[start:k])
    if body[k] == "=":
        if level:
            # 3.11 parses `f"{x:{y=}}"`, 3.12.0-3.12.4 cannot (gh-121130: ValueError in
            # `ast.parse`): refused on every version, as that parser's failure is
            raise NotPython311("f-string: '=' in a format spec's field")
        k += 1
        while k < n and body[k] in " \t\n\r\f\v":
            k += 1
        if k >= n:
            raise NotPython311("f-string: expecting '}'")
    if body[k] == "!":
        if k + 1 >= n or body[k + 1] not in "sra":
            raise NotPython311("f-string: invalid conversion character")
        k += 2
    if k < n and body[k] == ":":
        k = _fstring_body(body[k + 1 :], raw, level + 1) + k + 1
    if k >= n or body[k] != "}":
        raise NotPython311("f-string: expecting '}'")
    return k + 1


def _field_expression(expr: str) -> None:
    """A field's expression, as 3.11 compiles it: not empty; its code characters 3.11's;
    the string literals in it read as 3.11 reads them (nested f-strings included)."""
    if not expr.strip(" \t\n\r\f\v"):
        raise NotPython311("f-string: empty expression not allowed")
    code: list[str] = []
    k, n = 0, len(expr)
    while k < n:
        ch = expr[k]
        if ch in "'\"":
            j = k
            while j > 0 and expr[j - 1] in "rRbBuUfF":
                j -= 1
            if j > 0 and (expr[j - 1].isalnum() or expr[j - 1] == "_"):
                j = k  # letters of a name, not a prefix (3.11 then fails to parse it)
            del code[len(code) - (k - j) :]
            k = _literal(expr, j)
            code.append(" ")
            continue
        code.append(ch)
        k += 1
    if _NOT_CODE.search("".join(code)):
        raise NotPython311("character")
