"""The gas cost table: every charge a transaction pays, defined once, as a function of sizes.

Everything that decides how much gas an operation costs or how many bytes it is counted as
allocating lives here, and nowhere else: the meter (`tianfu.execution.meter`), the
instrumenter's static charges (`tianfu.execution.instrument`), the checked operators,
builtins and methods (`runtime`, `operators`, `checked`, `methods`), the boundary walks
(`walk`), the context's state access (`context`) and the executor (`executor`) all take
their numbers from these constants and functions. Two copies of a charge that drift apart would fork the chain.

The figures come from `benchmarks/gas_calibration.py`, which runs every allowed operation
on adversarial inputs and compares its CPU time per gas with a plain `while` loop's (one
`LOOP_GAS` per iteration). The aim is that no operation costs more than 10x the loop's CPU
per gas; the table it prints is in docs/contracts.md.

Three kinds of charge:

- **static**: the instrumenter weighs every node of a function body, loop body, lambda and
  comprehension item (`NODE_UNITS`) and charges the region's weight once per entry or
  iteration, together with `CALL_GAS`/`LOOP_GAS` (so straight-line code is never free);
- **dynamic**: helpers charge work that grows with operand sizes (lengths, element counts,
  bit lengths, nodes walked) *before* doing it;
- **memory**: bytes a transaction's objects may take, by the model below (an upper bound of
  CPython's own sizes, not a measurement of the host): counted against `MAX_TX_MEMORY`,
  cumulatively (freed objects are not given back), and charged `MEM_BYTES_PER_GAS`.
"""

from __future__ import annotations

# -- base units ------------------------------------------------------------------------------
LOOP_GAS = 1  # every loop iteration / iterated item
CALL_GAS = 1  # every contract function or lambda entry
EXC_GAS = 20  # every exception caught: raising, unwinding and entering the handler
# per character of an exception's message made by walking a container (`bounded_repr`,
# Python code: ~3-6 plain-loop gas of CPU per character made)
REPR_CHAR_GAS = 2
BUILTIN_GAS = 4  # every call of a checked builtin (`int`, `str`, `sorted`, ...), from anywhere
METHOD_GAS = 6  # every call of a value's method (`s.upper()`, `L.append(x)`, ...)
CTX_GAS = 1  # every ctx method call (state access is charged by the context, below)
UNITS_PER_GAS = 8  # static weight units (`NODE_UNITS`) per gas
BYTES_PER_GAS = 64  # C-level byte work: copying, scanning, comparing, hashing bytes
ITEMS_PER_GAS = 16  # C-level element work: copying references, looking up cached hashes
# A search's comparisons (`in`, `index`, `count`, `remove`): a needle and an item of different
# types answer through two refused rich comparisons and the identity fallback (`L.count(None)`
# over integers at 1/16 gas an item: ~4.5-5.2x a plain loop's CPU per gas).
COMPARES_PER_GAS = 4
NODES_PER_GAS = 2  # elements visited by a Python-level walk (compare, hash, copy, repr)
MEM_BYTES_PER_GAS = 256  # tracked allocation, charged on top of the work that allocates

# -- memory model (bytes; an upper bound of CPython 3.11's sizes, allocator slack included) --
MAX_TX_MEMORY = 64 << 20  # cumulative tracked allocation of one transaction or query
OBJ_BYTES = 64  # the header of an object (GC header, refcount, type, size)
SLOT_BYTES = 16  # one reference in a list or tuple (with its share of growth and reallocation)
DICT_ENTRY_BYTES = 96  # one dict entry (hash, key, value, index; with growth and resizing)
SMALL_BYTES = 128  # any object made without being counted: a small int, a short str, a pair
FUNC_BYTES = 512  # a function or lambda object with its closure and the sandbox wrapper
GEN_BYTES = 1024  # a generator expression: the generator and its frame
ITER_BYTES = 256  # an iterator, view, range or bound method (and what it refers to)
EXC_BYTES = 256  # an exception object, without its message


def str_bytes(n: int, wide: bool = True) -> int:
    """A str of `n` characters: one byte each if ASCII, else up to four."""
    return OBJ_BYTES + (n << 2 if wide else n)


def bytes_bytes(n: int) -> int:
    return OBJ_BYTES + n


def seq_bytes(n: int) -> int:
    """A list or tuple of `n` references (the elements themselves are counted apart)."""
    return OBJ_BYTES + n * SLOT_BYTES


def added_bytes(source: object, n: int) -> int:
    """`n` references a list gains from the items of `source`: a str's or a range's items are
    made as they are taken (a small object each), any other source's exist already."""
    made = SMALL_BYTES if type(source) in (str, range) else 0
    return n * (SLOT_BYTES + made)


def dict_bytes(n: int) -> int:
    return OBJ_BYTES * 3 + n * DICT_ENTRY_BYTES


def int_bytes(bits: int) -> int:
    return OBJ_BYTES + (bits >> 3)


def decoded_bytes(raw: int, containers: int) -> int:
    """Bytes the decoded form of `raw` msgpack bytes may take, `containers` of them (an
    upper bound) being array or map headers: a decoded container costs an object and a
    slot per header byte; any other node at most a small object and a slot per byte."""
    return OBJ_BYTES + containers * (OBJ_BYTES * 3 + SLOT_BYTES) + raw * (SMALL_BYTES // 2)


# -- static weights: units per AST node kind (see `instrument.region_weight`) -----------------
# A name or constant is one unit (a load or store); a node that calls a sandbox helper (an
# operator, a comparison, an attribute, a checked subscript, a call) weighs what the call
# costs. Nodes not listed weigh `DEFAULT_UNITS`.
NODE_UNITS: dict[str, int] = {
    "Name": 1,
    "Constant": 1,
    "Pass": 0,
    "Expr": 1,
    "Assign": 1,
    "AugAssign": 12,
    "Return": 1,
    "If": 1,
    "IfExp": 1,
    "BoolOp": 1,
    "UnaryOp": 2,
    "BinOp": 12,
    "Compare": 12,
    "Attribute": 10,
    "Subscript": 3,
    "Slice": 8,
    "Call": 10,
    "keyword": 1,
    "Starred": 8,
    "List": 3,
    "Tuple": 3,
    "Dict": 4,
    "JoinedStr": 4,
    "FormattedValue": 16,
    "Lambda": 12,
    "FunctionDef": 12,
    "ListComp": 12,
    "DictComp": 12,
    "GeneratorExp": 12,
    "comprehension": 4,
    "For": 8,
    "While": 2,
    "Break": 1,
    "Continue": 1,
    "Raise": 8,
    "Try": 2,
    "ExceptHandler": 2,
    "Assert": 4,
    "Delete": 2,
    "NamedExpr": 2,
}
DEFAULT_UNITS = 2


def static_gas(units: int, mem: int, base: int) -> int:
    """The gas of one execution of a region: its entry charge, its weight and its memory."""
    return base + units // UNITS_PER_GAS + mem // MEM_BYTES_PER_GAS


# -- dynamic costs (gas, charged before the work) ---------------------------------------------
def bytes_gas(n: int) -> int:
    """Copying, scanning or comparing `n` bytes (or characters) at C speed."""
    return n // BYTES_PER_GAS


def items_gas(n: int) -> int:
    """Copying or visiting `n` references at C speed."""
    return n // ITEMS_PER_GAS


def nodes_gas(n: int) -> int:
    """Visiting `n` elements in a Python-level walk (compare, hash, copy, repr)."""
    return n // NODES_PER_GAS


def search_gas(n: int, m: int) -> int:
    """Finding, counting or splitting on a needle of length `m` in `n` characters from the
    left. CPython's search is O(n*m) in the worst case for short needles and small
    haystacks, and linear otherwise (two-way), so the charge covers n*min(m, 100)."""
    return 1 + (n * min(m, 100) + m) // (BYTES_PER_GAS * 8)


def rsearch_gas(n: int, m: int) -> int:
    """Searching from the right (rfind, rindex, rpartition, rsplit with a separator):
    CPython's reverse search has no linear fallback, O(n*m) in the worst case."""
    return 1 + (n * max(m, 1)) // (BYTES_PER_GAS * 8)


def strip_gas(n: int, m: int) -> int:
    """`strip(chars)`: every stripped or tested character is looked up among `m` chars."""
    return 1 + (n * (1 + m // 8)) // BYTES_PER_GAS


LIMB_BITS = 30  # CPython's int digit


def _limbs(bits: int) -> int:
    return 1 + bits // LIMB_BITS


def mul_gas(bits_a: int, bits_b: int) -> int:
    """Multiplying two integers: schoolbook limb products (Karatsuba only helps)."""
    return _limbs(bits_a) * _limbs(bits_b) // 256


def div_gas(bits_a: int, bits_b: int) -> int:
    """`//`, `%` and `divmod`: long division, about (limbs of a) * (limbs of b), with a
    floor per limb of a (a one-limb divisor still walks every limb of a)."""
    return _limbs(bits_a) * (_limbs(bits_b) + 8) // 128


def pow_gas(bits_result: int) -> int:
    """`a ** b` with the result of `bits_result` bits: squarings up to the result's size."""
    n = _limbs(bits_result)
    return n * n // 64


def powmod_gas(bits_exp: int, bits_mod: int) -> int:
    """`pow(a, b, m)`: per exponent bit, a squaring and a share of a multiplication, each
    reduced modulo m (a long division): quadratic in m's limbs, with a linear part (the
    division's per-limb passes) that dominates below ~1,000 bits. Measured per exponent bit
    (`benchmarks/gas_calibration.py`, "pow mod" cases, 64 to 4096-bit moduli): ~3 to 650
    plain-loop gas of CPU; charged 1 + n/4 + n*n/112 gas for n limbs."""
    n = _limbs(bits_mod)
    return 1 + max(bits_exp, 1) * (8 + 2 * n + n * n // 14) // 8


def int_parse_gas(digits: int) -> int:
    """`int(str)`: CPython's conversion from a non-power-of-two base is quadratic."""
    return 1 + digits * digits // 4096


def int_str_gas(bits: int) -> int:
    """`str(int)`: quadratic in the number of limbs."""
    n = _limbs(bits)
    return 1 + n * n // 64


def sort_gas(n: int, compare_units: int) -> int:
    """Sorting `n` items each compared at most `compare_units` work: n*log2(n) compares."""
    return 1 + n * max(n.bit_length(), 1) * compare_units // ITEMS_PER_GAS


# -- state access, events, transactions (the context and the executor) ------------------------
GAS_BASE = 1_000  # every transaction
# A transaction's own bytes past the first TX_FREE_BYTES pay TX_GAS_PER_BYTE each: every
# node decodes, checks, hashes, gossips and stores them. Measured
# (`benchmarks/tx_bytes_gas.py`): a block of one transaction of the worst arguments (many
# small nested values) takes ~9 plain-loop gas of CPU per byte and pays ~4.7, a long string
# ~0.1 and pays 4: within the 10x bound of docs/contracts.md's calibration, and a block's
# gas budget bounds its bytes. The certificate's bytes pay one gas each (its parse and
# check on first use); its first CERT_FREE_BYTES (a member certificate is ~460-700 bytes)
# are not counted as transaction bytes, the rest are: a registered signer's certificate is
# ignored, and at one gas a byte a block's budget bought ~4x more bytes of it.
TX_FREE_BYTES = 1_024
TX_GAS_PER_BYTE = 4
CERT_FREE_BYTES = 1_024
GAS_NATIVE_CALL = 500  # a call of a native (system) contract method
GAS_READ = 20  # every state read
READ_BYTES_PER_GAS = 8  # bytes read and decoded
GAS_WRITE = 100  # every state write or delete
WRITE_GAS_PER_BYTE = 1  # bytes written (key and value)
GAS_EVENT = 50  # every event
EVENT_GAS_PER_BYTE = 1  # bytes of an event (name and encoded fields)
RESULT_BYTES_PER_GAS = 1  # bytes of a return value, as encoded in the receipt
GAS_SHA256 = 30
SHA256_BYTES_PER_GAS = 64


def tx_gas(cert_bytes: int, tx_bytes: int = 0) -> int:
    """What every transaction pays before its call: the base, its certificate's bytes, and
    its encoded bytes (`tx_bytes`, the whole transaction) past `TX_FREE_BYTES` apart from
    the certificate's first `CERT_FREE_BYTES`."""
    extra = tx_bytes - min(cert_bytes, CERT_FREE_BYTES) - TX_FREE_BYTES
    return GAS_BASE + cert_bytes + (TX_GAS_PER_BYTE * extra if extra > 0 else 0)


def read_gas(nbytes: int) -> int:
    """The bytes of one state read (besides `GAS_READ`)."""
    return nbytes // READ_BYTES_PER_GAS


def write_gas(key_bytes: int, value_bytes: int) -> int:
    return GAS_WRITE + (key_bytes + value_bytes) * WRITE_GAS_PER_BYTE


def event_gas(name_bytes: int, data_bytes: int) -> int:
    return GAS_EVENT + (name_bytes + data_bytes) * EVENT_GAS_PER_BYTE


def result_gas(nbytes: int) -> int:
    return nbytes * RESULT_BYTES_PER_GAS


def sha256_gas(nbytes: int) -> int:
    return GAS_SHA256 + nbytes // SHA256_BYTES_PER_GAS
