"""Unit tests: the open profile — genesis, accounts registered by proof of work or sponsor,
open contracts, per-account gas quotas and their governed parameters — through the real
Executor and Ledger (4 organisations, every block re-executed by a replica)."""

import msgspec
import pytest
from test_governance_admission import Chain

from tianfu.codec import CodecError, encode
from tianfu.contracts import accounts
from tianfu.crypto import generate_keypair, sign_tx
from tianfu.crypto.merkle import merkle_root
from tianfu.execution.contract_api import address_of
from tianfu.execution.executor import TxInvalid
from tianfu.execution.refusals import AccessRefused, QuotaExceeded
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.store import Store
from tianfu.types import (
    ConsensusParams,
    Genesis,
    OpenGenesis,
    OpenProfile,
    OrgConfig,
    StakeGrant,
    TxBody,
    Validator,
    decode_genesis,
)

HELLO = (
    "def greet(ctx, name):\n"
    "    n = ctx.get('count', 0) + 1\n"
    "    ctx.put('count', n)\n"
    "    ctx.put('by/' + ctx.sender.address, name)\n"
    "    return 'hello ' + name\n"
    "def loop(ctx, n):\n"
    "    x = 0\n"
    "    while x < n:\n"
    "        x = x + 1\n"
    "    return x\n"
)
CLOSED = "def touch(ctx):\n    ctx.put('x', 1)\n    return 1\n"
POW_BITS = 6


class OpenChain(Chain):
    """`Chain` with an open-profile genesis (same orgs, validators and keys)."""

    def __init__(self, directory, profile: OpenProfile, genesis_class=OpenGenesis) -> None:
        """`genesis_class`: `OpenGenesisV1` with an `OpenProfileV1`, a chain made before the
        proof of possession existed."""
        (directory / "base").mkdir()
        super().__init__(directory / "base")
        super().close()
        g = self.genesis
        self.genesis = genesis_class(
            g.version, g.chain_id, g.time_ms, g.orgs, g.validators, g.params, g.policies,
            g.suite, open_profile=profile,
        )  # fmt: skip
        self.genesis.validate()
        self.ledger = Ledger(Store(directory / "a.db"), self.genesis)
        self.replica = Ledger(Store(directory / "b.db"), self.genesis)

    def deploy(self, name, source):
        pid = self.ok(self.admins["org1"], "propose_contract", name, source)
        for o in ("org1", "org2", "org3"):
            res = self.ok(self.admins[o], "approve", pid)
        assert res["status"] == "activated"

    def account_tx(self, kp, contract, method, *args):
        self.nonce += 1
        body = TxBody(
            1, self.genesis.chain_id, kp.scheme, kp.public_key, self.nonce,
            self.ledger.height + 10, contract, method, list(args),
        )  # fmt: skip
        return sign_tx(kp, body)

    def admit(self, tx):
        """Mempool admission against the latest committed state (raises like a node)."""
        ex = self.ledger.executor
        ex.check_tx(tx, self.ledger.height + 1, self.time_ms, self.ledger.latest.get)

    def register(self, kp):
        address = address_of(kp.scheme, kp.public_key)
        nonce = accounts.solve_pow(self.genesis.chain_id, address, POW_BITS)
        tx = self.account_tx(kp, "accounts", "register", nonce)
        self.admit(tx)
        [r] = self.block([tx])
        assert r.ok, r.error
        return address


PROFILE = OpenProfile(
    open_contracts=["hello"], pow_bits=POW_BITS, quota_gas=60_000, quota_replenish=500
)


@pytest.fixture
def chain(tmp_path):
    c = OpenChain(tmp_path, PROFILE)
    c.block()
    c.deploy("hello", HELLO)
    c.deploy("closed", CLOSED)
    yield c
    c.close()


def test_consortium_genesis_bytes_and_hash_are_unchanged():
    """A consortium genesis encodes as before the open profile existed (8 fields), so its
    hash and every chain built on it stay the same; the open profile adds one field."""
    g = Genesis(
        1, "pinned", 1_700_000_000_000, [OrgConfig("org1", b"ca")],
        [Validator("v1", "org1", 1, b"\x07" * 32, 1)], ConsensusParams(),
    )  # fmt: skip
    assert g.profile == "consortium" and g.open is None
    assert encode(g)[0] == 0x98  # an array of 8 fields, as before
    assert g.hash.hex() == "b7bf10892a88a1d634ad0fa4a6e5ce454dfe7349569d5f26c8fb00017efab6fd"
    assert type(decode_genesis(encode(g))) is Genesis
    o = OpenGenesis(*msgspec.structs.astuple(g), open_profile=OpenProfile(open_contracts=["x"]))
    assert encode(o)[0] == 0x99 and encode(o)[1:].startswith(encode(g)[1:])
    back = decode_genesis(encode(o))
    assert type(back) is OpenGenesis and back.profile == "open" and back.hash == o.hash
    assert o.hash != g.hash


def test_open_genesis_refuses_bad_settings():
    bad = [
        OpenProfile(open_contracts=["governance"]),
        OpenProfile(pow_bits=99),
        OpenProfile(quota_gas=1),
        OpenProfile(slash_fraction_bps=10_001),
    ]
    g = Genesis(1, "c", 0, [OrgConfig("o", b"ca")], [Validator("v", "o", 1, b"\x01" * 32, 1)])
    for profile in bad:
        raw = encode(OpenGenesis(*msgspec.structs.astuple(g), open_profile=profile))
        with pytest.raises(CodecError):
            decode_genesis(raw)


def test_a_line_feed_after_an_open_contract_name_or_a_stake_address_is_refused(chain):
    """blocks.md#the-open-profile: an open contract name and a stake grant's address are the
    whole text. The patterns ended in `$`, which also matches before a final line feed, so
    the code took a genesis (and a `set_params`) the spec verifier and the console refuse."""
    g = Genesis(1, "c", 0, [OrgConfig("o", b"ca")], [Validator("v", "o", 1, b"\x01" * 32, 1)])
    for profile in (OpenProfile(open_contracts=["kv\n"]),
                    OpenProfile(stake=[StakeGrant("a" * 40 + "\n", 1)])):  # fmt: skip
        raw = encode(OpenGenesis(*msgspec.structs.astuple(g), open_profile=profile))
        with pytest.raises(CodecError):
            decode_genesis(raw)
    r = chain.call(chain.admins["org1"], "propose_set_params", {"open_contracts": ["hello\n"]})
    assert not r.ok and "open contract name" in r.error


def test_open_params_are_in_state_and_governed(chain):
    p = chain.query("get_params")
    assert p["open_contracts"] == ["hello"] and p["pow_bits"] == POW_BITS
    assert p["quota_gas"] == 60_000 and p["quota_replenish"] == 500
    pid = chain.ok(chain.admins["org1"], "propose_set_params", {"open_contracts": ["closed"]})
    chain.pass_proposal(pid)
    assert chain.query("get_params")["open_contracts"] == ["closed"]
    r = chain.call(chain.admins["org1"], "propose_set_params", {"pow_bits": 99})
    assert not r.ok and "pow_bits" in r.error


def test_consortium_chain_refuses_open_params(tmp_path):
    c = Chain(tmp_path)
    try:
        c.block()
        r = c.call(c.admins["org1"], "propose_set_params", {"quota_gas": 100_000})
        assert not r.ok and "open-profile chains only" in r.error
        assert "quota_gas" not in c.query("get_params")
    finally:
        c.close()


def test_unregistered_key_is_refused_and_never_in_a_block(chain):
    kp = generate_keypair()
    tx = chain.account_tx(kp, "hello", "greet", "eve")
    with pytest.raises(AccessRefused, match="register an account first"):
        chain.admit(tx)
    # A proposer drops it: the block is built without it.
    assert chain.block([tx]) == []
    # A registration whose nonce is no proof of work is refused too.
    address = address_of(kp.scheme, kp.public_key)
    bad = next(
        n for n in range(1000) if not accounts.pow_ok(chain.genesis.chain_id, address, n, POW_BITS)
    )
    with pytest.raises(AccessRefused, match="proof of work"):
        chain.admit(chain.account_tx(kp, "accounts", "register", bad))


def test_registered_account_calls_open_contracts_only(chain):
    kp = generate_keypair()
    address = chain.register(kp)
    info = chain.ledger.executor.query(
        "accounts", "get_account", [address], chain.ledger.latest.get, chain.ledger.height, 0
    )
    assert info["via"] == "pow" and info["available"] == 60_000
    tx = chain.account_tx(kp, "hello", "greet", "alice")
    chain.admit(tx)
    [r] = chain.block([tx])
    assert r.ok and r.result == "hello alice"
    with pytest.raises(AccessRefused, match="not open to accounts"):
        chain.admit(chain.account_tx(kp, "closed", "touch"))
    with pytest.raises(AccessRefused, match="not open"):
        chain.admit(chain.account_tx(kp, "governance", "propose_set_params", {}))
    # Registering twice fails in the contract (the key is an account already).
    nonce = accounts.solve_pow(chain.genesis.chain_id, address, POW_BITS)
    [r] = chain.block([chain.account_tx(kp, "accounts", "register", nonce)])
    assert not r.ok and "already" in r.error
    # Members keep calling every contract, the open ones included.
    assert chain.call(chain.admins["org2"], "greet", "bob", contract="hello").ok


def test_sponsored_account(chain):
    sponsor, newcomer = generate_keypair(), generate_keypair()
    chain.register(sponsor)
    address = address_of(newcomer.scheme, newcomer.public_key)
    [r] = chain.block([chain.account_tx(sponsor, "accounts", "sponsor", address)])
    assert r.ok and r.result["via"] == "sponsor"
    tx = chain.account_tx(newcomer, "hello", "greet", "new")
    chain.admit(tx)
    [r] = chain.block([tx])
    assert r.ok


def _gas(chain, address):
    info = chain.ledger.executor.query(
        "accounts", "get_account", [address], chain.ledger.latest.get, chain.ledger.height, 0
    )
    return info["available"]


def test_a_sponsorship_costs_the_sponsor_what_it_gives(chain):
    """The sponsor's bucket pays the new account's starting gas (half a bucket) and a
    sponsored account cannot sponsor: one proof of work does not buy accounts without end."""
    sponsor = generate_keypair()
    me = chain.register(sponsor)
    first, second, third = (generate_keypair() for _ in range(3))
    a1, a2, a3 = (address_of(k.scheme, k.public_key) for k in (first, second, third))
    [r] = chain.block([chain.account_tx(sponsor, "accounts", "sponsor", a1)])
    assert r.ok, r.error
    grant = accounts.sponsor_grant(PROFILE.quota_gas)
    assert _gas(chain, a1) == grant == 30_000
    assert _gas(chain, me) == 60_000 - grant - r.gas_used
    # Its bucket no longer holds a grant and the reserve: a second sponsorship fails.
    [r] = chain.block([chain.account_tx(sponsor, "accounts", "sponsor", a2)])
    assert not r.ok and "pays the new account's" in r.error
    assert (
        chain.ledger.executor.query(
            "accounts", "get_account", [a2], chain.ledger.latest.get, chain.ledger.height, 0
        )
        is None
    )
    # The sponsored account cannot sponsor in turn, however full its bucket.
    [r] = chain.block([chain.account_tx(first, "accounts", "sponsor", a3)])
    assert not r.ok and "only members and accounts registered by proof of work" in r.error
    # A member's sponsorship costs no bucket; the account starts with the same grant.
    r = chain.call(chain.admins["org1"], "sponsor", a3, contract="accounts")
    assert r.ok and _gas(chain, a3) == grant


def test_quota_refuses_until_replenished(chain):
    kp = generate_keypair()
    address = chain.register(kp)
    refused = None
    for _ in range(40):  # each call uses most of what is left; the bucket runs dry
        tx = chain.account_tx(kp, "hello", "loop", 2000)
        try:
            chain.admit(tx)
        except QuotaExceeded as exc:
            refused = exc
            break
        [r] = chain.block([tx])
        assert r.gas_used > 0
    assert refused is not None, "the quota never ran out"
    assert "quota exceeded" in str(refused) and address in str(refused)
    assert refused.needed_blocks >= 1
    # A proposer leaves it out; a block carrying it anyway is invalid on every node.
    ex = chain.ledger.executor
    with pytest.raises(QuotaExceeded):
        ex.execute_block(
            chain.ledger.height + 1, chain.time_ms, [tx], chain.ledger.latest.get, lambda h: False
        )
    assert isinstance(refused, TxInvalid)
    for _ in range(refused.needed_blocks):
        chain.block()
    chain.admit(chain.account_tx(kp, "hello", "greet", "again"))  # admitted again
    for _ in range(20):  # 500 gas per block: enough for a whole call
        chain.block()
    tx = chain.account_tx(kp, "hello", "greet", "again")
    chain.admit(tx)
    [r] = chain.block([tx])
    assert r.ok, r.error


def test_an_account_call_never_spends_more_than_its_bucket(chain):
    kp = generate_keypair()
    address = chain.register(kp)
    tx = chain.account_tx(kp, "hello", "loop", 10**9)  # would burn max_gas_per_tx
    [r] = chain.block([tx])
    assert not r.ok and "out of gas" in r.error and r.gas_used == 60_000
    info = chain.ledger.executor.query(
        "accounts", "get_account", [address], chain.ledger.latest.get, chain.ledger.height, 0
    )
    assert info["available"] == 60_000 - r.gas_used


def test_a_block_with_an_unregistered_signer_is_invalid(chain):
    kp = generate_keypair()
    tx = chain.account_tx(kp, "hello", "greet", "x")
    executed = chain.ledger.build_block([], b"\x01" * 32)
    block = executed.block
    header = msgspec.structs.replace(block.header, tx_count=1, tx_root=merkle_root([tx.encoded()]))
    forged = msgspec.structs.replace(block, header=header, txs=[tx])
    with pytest.raises(InvalidBlock, match="invalid transaction.*register an account"):
        chain.replica.execute(forged)


def test_sponsorship_rate_is_governed_for_accounts_and_members(tmp_path):
    """An account with a bucket refilled every block still sponsors at most once per
    `sponsor_interval` blocks (default 100; before, as often as its bucket refilled); a
    member organisation sponsors at most `member_sponsors_per_block` accounts a block
    (before, without limit); governance changes both."""
    profile = OpenProfile(
        open_contracts=["hello"], pow_bits=POW_BITS, quota_gas=60_000, quota_replenish=60_000
    )
    c = OpenChain(tmp_path, profile)
    try:
        c.block()
        sponsor = generate_keypair()
        c.register(sponsor)
        fresh = [
            address_of(k.scheme, k.public_key) for k in (generate_keypair() for _ in range(40))
        ]
        [r] = c.block([c.account_tx(sponsor, "accounts", "sponsor", fresh[0])])
        assert r.ok, r.error
        c.block()  # the bucket is full again
        [r] = c.block([c.account_tx(sponsor, "accounts", "sponsor", fresh[1])])
        assert not r.ok and "sponsor_interval" in r.error, r.error
        # A member organisation: 16 in one block.
        txs = [
            c.tx(c.admins["org1"], "sponsor", fresh[2 + i], contract="accounts") for i in range(17)
        ]
        results = c.block(txs)
        assert all(r.ok for r in results[:16]), [r.error for r in results]
        assert not results[16].ok and "member_sponsors_per_block" in results[16].error
        [r] = c.block([c.tx(c.admins["org1"], "sponsor", fresh[19], contract="accounts")])
        assert r.ok, r.error  # a new block
        pid = c.ok(
            c.admins["org1"], "propose_set_params",
            {"sponsor_interval": 2, "member_sponsors_per_block": 0},
        )  # fmt: skip
        c.pass_proposal(pid)
        [r] = c.block([c.account_tx(sponsor, "accounts", "sponsor", fresh[20])])
        assert r.ok, r.error
        [r] = c.block([c.tx(c.admins["org2"], "sponsor", fresh[21], contract="accounts")])
        assert not r.ok and "member_sponsors_per_block" in r.error
    finally:
        c.close()
