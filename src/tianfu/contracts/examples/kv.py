# ruff: noqa: F821  (a sandboxed contract: `view` is provided by the sandbox)
"""KV: the smallest useful contract, one write per call (the `tianfu bench --contract kv` load).

State: "k:<key>" -> value. Anyone may write; a key is a non-empty string of at most 128
characters.
"""

MAX_KEY = 128


def put(ctx, key, value):
    ctx.require(isinstance(key, str), "a key is a string")
    size = len(key)
    ctx.require(0 < size <= MAX_KEY, "a key is 1..128 characters")
    ctx.put("k:" + key, value)


@view
def get(ctx, key):
    return ctx.get("k:" + key)
