"""The cases of the gas calibration (`benchmarks/gas_calibration.py`): one contract per
operation a contract may use, with adversarial operands (large, deep, shared, wide Unicode).

A `Case` is a setup that builds the operands and one statement repeated in a `while` loop;
`covers` names what it exercises (builtins "b:len", value methods "m:str.upper", operators
"op:+", AST nodes "n:For", the context "ctx:get"), so that the calibration can check that
every allowed operation is covered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    covers: tuple[
        str, ...
    ]  # builtins "b:len", methods "m:str.upper", operators "op:+", nodes "n:For"
    setup: str  # statements building the operands (run with 0 and with N iterations)
    op: str  # one statement, repeated `reps` times per iteration
    reps: int = 4
    n: int = 200  # iterations when timed


def _c(name: str, covers: str, setup: str, op: str, reps: int = 4, n: int = 200) -> Case:
    return Case(name, tuple(covers.split()), setup, op, reps, n)


BIG_STR = "s = 'a' * 999_999"
BIG_INT = "x = (1 << 4095) - 12345\ny = (1 << 4000) - 999"
DEEP_SHARED = (
    "a = [1]\nfor _ in range(17):\n    a = [a, a]\nb = [1]\nfor _ in range(17):\n    b = [b, b]"
)
DEEP_DICTS = (
    "a = {}\nfor _ in range(17):\n    a = {'x': a, 'y': a}\n"
    "b = {}\nfor _ in range(17):\n    b = {'x': b, 'y': b}"
)
TUPLE_SHARED = "t = (1,)\nfor _ in range(18):\n    t = (t, t)"
WIDE = "w = '\\U0001f600' * 200_000"
CASES: list[Case] = [
    # -- the reference and plain statements ------------------------------------------------
    _c("while loop with a counter", "n:While n:Pass", "", "pass", 1, 20_000),
    _c("assignments", "n:Assign n:Name n:Constant n:Expr", "y = 1", "x = y", 200, 2_000),
    _c("tuple display", "n:Tuple", "y = 1", "x = (y, y, y, y, y, y, y, y)", 50, 2_000),
    _c("list display", "n:List", "y = 1", "x = [y, y, y, y, y, y, y, y]", 50, 2_000),
    _c("dict display", "n:Dict", "y = 1", "x = {'a': y, 'b': y, 'c': y, 'd': y}", 50, 2_000),
    _c(
        "if/else",
        "n:If n:IfExp n:BoolOp n:UnaryOp",
        "y = 1",
        "x = (y if y and not y else y)",
        50,
        2_000,
    ),
    _c("named expr", "n:NamedExpr", "y = 1", "(x := y)", 50, 2_000),
    _c(
        "function call",
        "n:FunctionDef n:Return n:Call n:arguments n:arg",
        "def h(a):\n    return a",
        "h(1)",
        50,
        2_000,
    ),
    _c("lambda call", "n:Lambda", "h = lambda a: a", "h(1)", 50, 2_000),
    _c("nested def", "n:FunctionDef", "", "def h():\n        return 1", 20, 1_000),
    _c(
        "for loop",
        "n:For n:Break n:Continue",
        "L = [1] * 100",
        "for v in L:\n        if v:\n            continue\n        break",
        1,
        500,
    ),
    _c(
        "list comprehension",
        "n:ListComp n:comprehension",
        "L = list(range(100))",
        "x = [v for v in L if v]",
        1,
        500,
    ),
    _c(
        "dict comprehension",
        "n:DictComp",
        "L = list(range(100))",
        "x = {str(v): v for v in L}",
        1,
        300,
    ),
    _c("generator", "n:GeneratorExp", "L = list(range(100))", "x = sum(v for v in L)", 1, 300),
    _c(
        "try/except KeyError",
        "n:Try n:ExceptHandler n:Raise",
        "d = {}",
        "try:\n        d['k']\n    except KeyError as e:\n        z = e",
        10,
        1_000,
    ),
    _c(
        "raise ValueError",
        "n:Raise",
        "",
        "try:\n        raise ValueError('x')\n    except ValueError:\n        pass",
        10,
        1_000,
    ),
    _c("assert", "n:Assert", "y = 1", "assert y, 'm'", 50, 2_000),
    _c("del", "n:Delete", "", "d = {'a': 1}\n    del d['a']", 20, 1_000),
    _c("del list front", "n:Delete", "L = [0] * 999_999", "L.append(1)\n    del L[0]", 1, 50),
    _c("augmented", "n:AugAssign", "x = 0", "x += 1", 50, 2_000),
    _c("annotated", "n:AnnAssign", "", "x: int = 1", 50, 2_000),
    _c("f-string small", "n:JoinedStr n:FormattedValue", "y = 12345", "x = f'{y}-{y}'", 20, 2_000),
    _c("f-string big", "n:JoinedStr", BIG_STR, "x = f'{s}{s}{s}{s}'", 1, 10),
    _c("attribute ctx", "n:Attribute", "", "x = ctx.height", 50, 2_000),
    _c(
        "subscript",
        "n:Subscript n:Load n:Store n:Del",
        "L = [1, 2]\nd = {'a': 1}",
        "x = L[1] + d['a']",
        50,
        2_000,
    ),
    _c("slice big", "n:Slice", BIG_STR, "x = s[1:]", 1, 20),
    _c("slice list", "n:Slice", "L = [0] * 999_999", "x = L[::-1]", 1, 20),
    _c("star list", "n:Starred", "L = [0] * 999_999", "x = [*L]", 1, 20),
    _c("star call", "n:Starred", "L = [0] * 100_000\ndef h(*a):\n    return 1", "h(*L)", 1, 20),
    _c("star assign", "n:Starred", "L = [0] * 999_999", "a, *b = L", 1, 20),
    _c("dstar", "n:Starred", "d = {str(i): i for i in range(100_000)}", "x = {**d}", 1, 10),
    _c(
        "keyword call", "n:keyword", "def h(**k):\n    return 1", "h(a=1, b=2, c=3, e=4)", 20, 1_000
    ),
    # -- operators ------------------------------------------------------------------------
    _c("int add big", "op:+ n:BinOp", BIG_INT, "z = x + y", 20, 1_000),
    _c("int sub big", "op:-", BIG_INT, "z = x - y", 20, 1_000),
    _c("int mul big", "op:*", "x = (1 << 2047) - 1\ny = (1 << 2047) - 3", "z = x * y", 10, 500),
    _c("int floordiv big", "op://", BIG_INT + "\ny = (1 << 2047) - 7", "z = x // y", 10, 500),
    _c("int mod big", "op:%", BIG_INT + "\ny = (1 << 2047) - 7", "z = x % y", 10, 500),
    _c("int mod small divisor", "op:%", BIG_INT + "\ny = 7", "z = x % y", 10, 500),
    _c("int pow", "op:**", "x = 3", "z = x ** 2580", 10, 300),
    _c("int lshift", "op:<<", "x = 12345", "z = x << 4000", 20, 1_000),
    _c("int rshift", "op:>>", BIG_INT, "z = x >> 3", 20, 1_000),
    _c("int and/or/xor", "op:& op:| op:^", BIG_INT, "z = (x & y) | (x ^ y)", 10, 1_000),
    _c("int neg/inv", "op:neg op:inv", BIG_INT, "z = -x\n    z = ~x", 10, 1_000),
    _c("str add big", "op:+", "s = 'a' * 499_999", "z = s + s", 1, 20),
    _c("str add wide", "op:+", WIDE, "z = w + w", 1, 10),
    _c("list add big", "op:+", "L = [0] * 499_999", "z = L + L", 1, 20),
    _c("bytes add", "op:+", "b = b'a' * 499_999", "z = b + b", 1, 20),
    _c("tuple add", "op:+", "t = (0,) * 499_999", "z = t + t", 1, 20),
    _c("str repeat", "op:*", "", "z = 'ab' * 499_999", 1, 20),
    _c("list repeat", "op:*", "", "z = [0] * 999_999", 1, 20),
    _c("list iadd", "op:+=", "L = [0] * 499_999", "z = []\n    z += L", 1, 20),
    _c("list imul", "op:*=", "", "z = [0]\n    z *= 999_999", 1, 20),
    _c(
        "dict merge",
        "op:| op:|=",
        "d = {str(i): i for i in range(100_000)}",
        "z = d | d\n    z |= d",
        1,
        10,
    ),
    # -- comparisons ----------------------------------------------------------------------
    _c(
        "int compare",
        "op:== op:!= op:< op:<= op:> op:>= n:Compare",
        BIG_INT,
        "z = x == y or x != y or x < y or x <= y or x > y or x >= y",
        10,
        1_000,
    ),
    _c("str equal long", "op:==", "s = 'a' * 999_999\nt = 'a' * 999_999", "z = s == t", 1, 50),
    _c("str less long", "op:<", "s = 'a' * 999_999\nt = 'a' * 999_998 + 'b'", "z = s < t", 1, 50),
    _c("deep shared equal", "op:==", DEEP_SHARED, "z = a == b", 1, 3),
    _c("deep dict equal", "op:==", DEEP_DICTS, "z = a == b", 1, 3),
    _c(
        "dict of small dicts equal",
        "op:==",
        "a = {str(i): {'a': 1} for i in range(50_000)}\nb = {str(i): {'a': 1} for i in range(50_000)}",
        "z = a == b",
        1,
        3,
    ),
    _c(
        "list equal",
        "op:==",
        "L = list(range(999_999))\nM = list(range(999_999))",
        "z = L == M",
        1,
        10,
    ),
    _c(
        "list of big ints equal",
        "op:==",
        "x = (1 << 4095) - 1\nL = [(x + i) - i for i in range(10_000)]\n"
        "M = [(x + i) - i for i in range(10_000)]",
        "z = L == M",
        1,
        20,
    ),
    _c(
        "list of big ints less",
        "op:<",
        "x = (1 << 4095) - 1\nL = [(x + i) - i for i in range(10_000)]\n"
        "M = [(x + i) - i for i in range(10_000)]",
        "z = L < M",
        1,
        20,
    ),
    _c(
        "sorted lists of big ints",
        "b:sorted",
        "x = (1 << 4095) - 1\nL = [[(x + i) - i] * 8 for i in range(5_000)]",
        "z = sorted(L)",
        1,
        5,
    ),
    _c(
        "max lists of big ints",
        "b:max",
        "x = (1 << 4095) - 1\nL = [[(x + i) - i] * 8 for i in range(5_000)]",
        "z = max(L)",
        1,
        10,
    ),
    _c(
        "dict of big ints equal",
        "op:==",
        "x = (1 << 4095) - 1\nd = {str(i): (x + i) - i for i in range(10_000)}\n"
        "e = {str(i): (x + i) - i for i in range(10_000)}",
        "z = d == e",
        1,
        20,
    ),
    _c(
        "list of strs equal",
        "op:==",
        "s = 'a' * 1000\nL = [s + str(i % 2) for i in range(10_000)]\nM = [s + str(i % 2) for i in range(10_000)]",
        "z = L == M",
        1,
        10,
    ),
    _c(
        "dict equal",
        "op:==",
        "d = {str(i): i for i in range(100_000)}\ne = dict(d)",
        "z = d == e",
        1,
        10,
    ),
    _c("is None", "op:is op:is_not", "y = 1", "z = y is None or y is not None", 20, 2_000),
    _c("in str worst", "op:in", "s = 'a' * 29_999\nt = 'a' * 98 + 'b'", "z = t in s", 1, 100),
    _c(
        "in str long needle",
        "op:in",
        "s = 'ab' * 499_999\nt = 'ab' * 1000 + 'c'",
        "z = t in s",
        1,
        20,
    ),
    _c("in bytes", "op:in", "s = b'a' * 29_999\nt = b'a' * 98 + b'b'", "z = t in s", 1, 100),
    _c("in bytes int", "op:in", "s = b'a' * 999_999", "z = 98 in s", 1, 50),
    _c(
        "in list strs",
        "op:in op:not_in",
        "s = 'a' * 10_000\nL = [s + 'x'] * 10_000\nt = s + 'y'",
        "z = t not in L",
        1,
        10,
    ),
    _c("in list ints", "op:in", "L = list(range(999_999))", "z = -1 in L", 1, 20),
    _c(
        "count short bytes",
        "m:list.count",
        "L = [b'a' * 62 + bytes([i % 9]) for i in range(100_000)]\nt = b'a' * 62 + b'x'",
        "z = L.count(t)",
        1,
        20,
    ),
    _c("in range non-int", "op:in", "r = range(999_999)", "z = 'a' in r", 1, 10),
    _c("in range int", "op:in", "r = range(999_999)", "z = 999_998 in r", 20, 1_000),
    _c("in dict tuple key", "op:in", TUPLE_SHARED + "\nd = {}", "z = t in d", 1, 3),
    _c(
        "in dict values",
        "op:in",
        "d = {str(i): 'a' * 100 for i in range(100_000)}\nt = 'b' * 100",
        "z = t in d.values()",
        1,
        10,
    ),
    _c(
        "in dict items",
        "op:in",
        "d = {'k': list(range(100_000))}\nt = ('k', list(range(100_000)))",
        "z = t in d.items()",
        1,
        10,
    ),
    _c(
        "in reversed",
        "op:in",
        "L = ['a' * 100] * 100_000\nt = 'a' * 99 + 'b'",
        "z = t in reversed(L)",
        1,
        5,
    ),
    _c("in generator", "op:in", "L = list(range(10_000))", "z = -1 in (v for v in L)", 1, 5),
    # -- subscripts and keys ----------------------------------------------------------------
    _c("tuple key lookup", "op:key", TUPLE_SHARED + "\nd = {}", "z = d.get(t)", 1, 3),
    _c("tuple key subscript", "op:key", "t = tuple(range(50_000))\nd = {t: 1}", "z = d[t]", 1, 50),
    _c("tuple key store", "op:key", "t = tuple(range(50_000))\nd = {}", "d[t] = 1", 1, 50),
    # -- builtins ---------------------------------------------------------------------------
    _c(
        "len/bool/chr/ord",
        "b:len b:bool b:chr b:ord",
        "L = [1]",
        "z = len(L) + bool(L) + ord(chr(65))",
        20,
        2_000,
    ),
    _c("int(str)", "b:int", "s = '9' * 1233", "z = int(s)", 5, 300),
    _c("int(str, 16)", "b:int", "s = 'f' * 1000", "z = int(s, 16)", 5, 300),
    _c("str(int)", "b:str", BIG_INT, "z = str(x)", 5, 300),
    _c("str(list deep)", "b:str", "L = [['a' * 10] * 100] * 100", "z = str(L)", 1, 20),
    _c(
        "str(list) too big",
        "b:str",
        "L = ['a' * 999_999] * 20",
        "try:\n        z = str(L)\n    except ContractError:\n        z = 0",
        1,
        5,
    ),
    _c("str(bytes)", "b:str", "b = bytes(range(256)) * 970", "z = str(b)", 1, 20),
    _c(
        "str(bytes, enc)", "b:str", "b = '\\u00e9'.encode() * 400_000", "z = str(b, 'utf-8')", 1, 20
    ),
    _c("bytes(n)", "b:bytes", "", "z = bytes(999_999)", 1, 20),
    _c("bytes(str)", "b:bytes", WIDE, "z = bytes(w, 'utf-8')", 1, 20),
    _c("bytes(list)", "b:bytes", "L = [255] * 999_999", "z = bytes(L)", 1, 20),
    _c("list(gen)", "b:list", "", "z = list(v for v in range(10_000))", 1, 20),
    _c("list(str)", "b:list", WIDE, "z = list(w)", 1, 10),
    _c("tuple(list)", "b:tuple", "L = [0] * 999_999", "z = tuple(L)", 1, 20),
    _c(
        "tuple(d.items())",
        "b:tuple",
        "d = {str(i): i for i in range(100_000)}",
        "z = tuple(d.items())",
        1,
        10,
    ),
    _c(
        "list(d.items())",
        "b:list",
        "d = {i: i for i in range(100_000)}",
        "z = list(d.items())",
        1,
        10,
    ),
    _c("dict(pairs)", "b:dict", "P = [(str(i), i) for i in range(100_000)]", "z = dict(P)", 1, 10),
    _c(
        "dict(tuple keys)",
        "b:dict",
        "P = [((i, i, i), i) for i in range(50_000)]",
        "z = dict(P)",
        1,
        10,
    ),
    _c("range", "b:range", "", "z = range(0, 999_999, 1)", 20, 1_000),
    _c("sorted ints", "b:sorted", "L = list(range(999_999, 0, -1))", "z = sorted(L)", 1, 5),
    _c(
        "sorted strs",
        "b:sorted",
        "s = 'a' * 1000\nL = [s + str(i) for i in range(10_000)]",
        "z = sorted(L, reverse=True)",
        1,
        5,
    ),
    _c(
        "sorted key", "b:sorted", "L = list(range(20_000))", "z = sorted(L, key=lambda v: -v)", 1, 5
    ),
    _c(
        "sorted deep",
        "b:sorted",
        "x = [[1] * 100] * 50\nL = [[x, i] for i in range(2_000)]",
        "z = sorted(L)",
        1,
        3,
    ),
    _c("sum", "b:sum", "L = [1 << 60] * 100_000", "z = sum(L)", 1, 10),
    _c(
        "min/max",
        "b:min b:max",
        "s = 'a' * 1000\nL = [s + str(i) for i in range(10_000)]",
        "z = min(L) + max(L)",
        1,
        10,
    ),
    _c("min key", "b:min", "L = list(range(20_000))", "z = min(L, key=lambda v: -v)", 1, 5),
    _c(
        "min 15 long strs",
        "b:min",
        "L = ['a' * 999_990 + str(i) for i in range(15)]",
        "z = min(L)",
        1,
        20,
    ),
    _c(
        "max two long bytes",
        "b:max",
        "s = b'a' * 999_999\nt = b'a' * 999_998 + b'b'",
        "z = max(s, t)",
        1,
        50,
    ),
    _c("any/all", "b:any b:all", "L = [1] * 999_999", "z = any(L) and all(L)", 1, 20),
    _c("abs/divmod", "b:abs b:divmod", BIG_INT, "z = divmod(abs(x), y)", 10, 500),
    _c("hex/bin/oct", "b:hex b:bin b:oct", BIG_INT, "z = hex(x) + bin(x) + oct(x)", 5, 300),
    _c("pow mod", "b:pow", "x = (1 << 4095) - 1\nm = (1 << 4095) - 3", "z = pow(x, x, m)", 1, 3),
    _c(
        "pow mod 256",
        "b:pow",
        "x = (1 << 4095) - 1\nm = (1 << 255) - 19",
        "z = pow(x, x, m)",
        1,
        30,
    ),
    _c("pow mod 64", "b:pow", "x = (1 << 4095) - 1\nm = (1 << 63) - 25", "z = pow(x, x, m)", 1, 50),
    _c("isinstance", "b:isinstance", "y = 1", "z = isinstance(y, (int, str))", 20, 2_000),
    _c(
        "isinstance long tuple",
        "b:isinstance",
        "T = (int,) + tuple(str(i) for i in range(100_000))",
        "z = isinstance(1, T)",
        1,
        20,
    ),
    _c(
        "startswith many affixes",
        "m:str.startswith",
        "s = 'abc'\nT = tuple('b' * (i % 3 + 1) for i in range(100_000))",
        "z = s.startswith(T)",
        1,
        20,
    ),
    _c(
        "enumerate/zip/reversed",
        "b:enumerate b:zip b:reversed",
        "L = [1] * 1000",
        "for i, (a, b) in enumerate(zip(L, reversed(L))):\n        pass",
        1,
        50,
    ),
    _c("zip wide", "b:zip", "L = [[1] * 10] * 1000", "for t in zip(*L):\n        pass", 1, 50),
    # -- str methods ------------------------------------------------------------------------
    _c(
        "str.upper expand",
        "m:str.upper m:str.lower m:str.swapcase m:str.title m:str.capitalize m:str.casefold",
        "s = '\\ufb03' * 333_000",
        "z = s.upper()",
        1,
        10,
    ),
    _c(
        "str.casefold expand",
        "m:str.casefold m:str.lower",
        "s = '\\u00df' * 333_000",
        "z = s.casefold()",
        1,
        10,
    ),
    _c("str.lower ascii", "m:str.lower", BIG_STR, "z = s.lower()", 1, 20),
    _c(
        "str.find worst",
        "m:str.find m:str.index m:str.count",
        "s = 'a' * 29_999\nt = 'a' * 98 + 'b'",
        "z = s.find(t) + s.count(t)",
        1,
        100,
    ),
    _c(
        "str.rfind worst",
        "m:str.rfind m:str.rindex",
        "s = 'a' * 29_999\nt = 'b' + 'a' * 2000",
        "z = s.rfind(t)",
        1,
        20,
    ),
    _c(
        "str.split many", "m:str.split m:str.rsplit", "s = 'a,' * 499_999", "z = s.split(',')", 1, 5
    ),
    _c(
        "str.rsplit long sep",
        "m:str.rsplit",
        "s = 'a' * 29_999\nt = 'b' + 'a' * 500",
        "z = s.rsplit(t)",
        1,
        20,
    ),
    _c("str.split ws", "m:str.split", "s = 'a ' * 499_999", "z = s.split()", 1, 5),
    _c("str.splitlines", "m:str.splitlines", "s = 'a\\n' * 499_999", "z = s.splitlines()", 1, 5),
    _c(
        "str.partition",
        "m:str.partition m:str.rpartition",
        "s = 'a' * 29_999\nt = 'b' + 'a' * 98",
        "z = s.partition(t) + s.rpartition(t)",
        1,
        50,
    ),
    _c(
        "str.strip chars",
        "m:str.strip m:str.lstrip m:str.rstrip",
        "s = 'ab' * 499_999\nc = 'ba' * 500",
        "z = s.strip(c)",
        1,
        10,
    ),
    _c("str.replace", "m:str.replace", "s = 'a' * 999", "z = s.replace('a', 'b' * 1000)", 1, 20),
    _c("str.join", "m:str.join", "L = ['a' * 100] * 9_900", "z = ','.join(L)", 1, 20),
    _c(
        "str.startswith",
        "m:str.startswith m:str.endswith",
        BIG_STR + "\nT = tuple(s[:i] for i in range(0, 1000, 100))",
        "z = s.startswith(T) or s.endswith(T)",
        1,
        20,
    ),
    _c(
        "str.is*",
        "m:str.isdigit m:str.isalpha m:str.isalnum m:str.isspace m:str.islower m:str.isupper "
        "m:str.isascii m:str.istitle m:str.isdecimal m:str.isnumeric m:str.isidentifier m:str.isprintable",
        WIDE,
        "z = w.isdigit() or w.isalpha() or w.isalnum() or w.isspace() or w.islower() or "
        "w.isupper() or w.isascii() or w.istitle() or w.isdecimal() or w.isnumeric() or "
        "w.isidentifier() or w.isprintable()",
        1,
        10,
    ),
    _c(
        "str.removeprefix",
        "m:str.removeprefix m:str.removesuffix",
        BIG_STR,
        "z = s.removeprefix('a').removesuffix('a')",
        1,
        20,
    ),
    _c(
        "str.pad",
        "m:str.zfill m:str.ljust m:str.rjust m:str.center",
        "s = 'a'",
        "z = s.zfill(999_999)\n    z = s.ljust(9) + s.rjust(9) + s.center(9)",
        1,
        20,
    ),
    _c("str.encode wide", "m:str.encode", WIDE, "z = w.encode('utf-8')", 1, 20),
    # -- bytes methods ------------------------------------------------------------------------
    _c(
        "bytes.decode",
        "m:bytes.decode",
        "b = '\\U0001f600'.encode() * 200_000",
        "z = b.decode('utf-8')",
        1,
        10,
    ),
    _c("bytes.hex", "m:bytes.hex", "b = b'a' * 333_000", "z = b.hex()\n    z = b.hex(':')", 1, 10),
    _c("bytes.fromhex", "m:bytes.fromhex", "s = 'ab' * 499_999", "z = b''.fromhex(s)", 1, 10),
    _c(
        "bytes.find",
        "m:bytes.find m:bytes.index m:bytes.count m:bytes.rfind m:bytes.rindex",
        "b = b'a' * 29_999\nt = b'a' * 98 + b'b'",
        "z = b.find(t) + b.count(t) + b.rfind(b'b' + b'a' * 99)",
        1,
        50,
    ),
    _c(
        "bytes.split",
        "m:bytes.split m:bytes.rsplit m:bytes.splitlines m:bytes.partition m:bytes.rpartition",
        "b = b'a,' * 499_999",
        "z = b.split(b',')",
        1,
        5,
    ),
    _c(
        "bytes.case",
        "m:bytes.upper m:bytes.lower m:bytes.swapcase m:bytes.title m:bytes.capitalize",
        "b = b'a' * 999_999",
        "z = b.upper()",
        1,
        20,
    ),
    _c(
        "bytes.strip",
        "m:bytes.strip m:bytes.lstrip m:bytes.rstrip",
        "b = b'ab' * 499_999\nc = b'ba' * 100",
        "z = b.strip(c)",
        1,
        20,
    ),
    _c(
        "bytes.misc",
        "m:bytes.replace m:bytes.join m:bytes.startswith m:bytes.endswith m:bytes.removeprefix "
        "m:bytes.removesuffix m:bytes.zfill m:bytes.ljust m:bytes.rjust m:bytes.center m:bytes.isdigit "
        "m:bytes.isalpha m:bytes.isalnum m:bytes.isspace m:bytes.islower m:bytes.isupper m:bytes.isascii "
        "m:bytes.istitle",
        "b = b'a' * 999",
        "z = b.replace(b'a', b'bb').join([b, b]).removeprefix(b'x').zfill(9).ljust(9).rjust(9)"
        ".center(9).startswith(b'a') or b.endswith(b'a') or b.removesuffix(b'a').isdigit() or "
        "b.isalpha() or b.isalnum() or b.isspace() or b.islower() or b.isupper() or b.isascii() "
        "or b.istitle()",
        1,
        200,
    ),
    # -- list, tuple, dict, int methods ---------------------------------------------------
    _c("list.append", "m:list.append", "L = []", "L.append(1)", 20, 2_000),
    _c(
        "list.insert front",
        "m:list.insert m:list.pop",
        "L = [0] * 999_999",
        "L.insert(0, 1)\n    L.pop(0)",
        1,
        50,
    ),
    _c(
        "list.index strs",
        "m:list.index m:list.count m:list.remove",
        "s = 'a' * 10_000\nL = [s + 'x'] * 10_000 + [s + 'y']\nt = s + 'y'",
        "z = L.index(t) + L.count(t)",
        1,
        10,
    ),
    _c(
        "list.remove",
        "m:list.remove",
        "s = 'a' * 1000\nL = [s + 'x'] * 10_000\nt = s + 'y'",
        "L.append(t)\n    L.remove(t)",
        1,
        10,
    ),
    _c("list.sort", "m:list.sort", "L = list(range(300_000, 0, -1))", "L.sort(reverse=True)", 1, 5),
    _c(
        "list.misc",
        "m:list.extend m:list.reverse m:list.copy m:list.clear",
        "L = [0] * 499_999",
        "z = L.copy()\n    z.extend(L)\n    z.reverse()\n    z.clear()",
        1,
        10,
    ),
    _c(
        "tuple.index",
        "m:tuple.index m:tuple.count",
        "s = 'a' * 10_000\nT = (s + 'x',) * 10_000 + (s + 'y',)\nt = s + 'y'",
        "z = T.index(t) + T.count(t)",
        1,
        10,
    ),
    _c(
        "dict.get/pop/setdefault",
        "m:dict.get m:dict.pop m:dict.setdefault",
        "d = {}",
        "d.setdefault('k', 1)\n    z = d.get('k')\n    d.pop('k')",
        20,
        1_000,
    ),
    _c(
        "dict.update",
        "m:dict.update",
        "P = [(str(i), i) for i in range(100_000)]",
        "z = {}\n    z.update(P)",
        1,
        10,
    ),
    _c(
        "dict.misc",
        "m:dict.keys m:dict.values m:dict.items m:dict.copy m:dict.clear m:dict.popitem",
        "d = {str(i): i for i in range(100_000)}",
        "z = d.copy()\n    z.popitem()\n    k = len(z.keys()) + len(z.values()) + len(z.items())\n    z.clear()",
        1,
        10,
    ),
    _c(
        "int methods",
        "m:int.bit_length m:int.to_bytes m:int.from_bytes m:bool.bit_length m:bool.to_bytes",
        BIG_INT,
        "z = x.bit_length() + x.from_bytes(x.to_bytes(512, 'big'), 'big') + True.bit_length() + "
        "len(True.to_bytes(1, 'big'))",
        5,
        300,
    ),
    # -- the context ---------------------------------------------------------------------------
    _c(
        "ctx get/put/emit",
        "ctx:get ctx:put ctx:emit ctx:has ctx:delete ctx:require",
        "",
        "ctx.put('k', 5)\n    z = ctx.get('k', 0)\n    ctx.emit('E', a=z)\n    z = ctx.has('k')\n"
        "    ctx.delete('k')\n    ctx.require(True, 'x')",
        1,
        250,
    ),
    _c(
        "ctx big values",
        "ctx:get ctx:put",
        "v = ['a' * 1000] * 200",
        "ctx.put('k', v)\n    z = ctx.get('k')",
        1,
        16,
    ),
    _c(
        "ctx sha256/read",
        "ctx:sha256 ctx:read ctx:sender ctx:has_role ctx:require_role",
        "b = b'a' * 100_000",
        "z = ctx.sha256(b)\n    z = ctx.read('other', 'k')\n    z = ctx.sender.address\n"
        "    z = ctx.has_role('x')",
        1,
        200,
    ),
]
