"""Handshake slots of credited hosts (`queues.HandshakeSlots`, ADR 0025): a host is
credited by one transaction gossip admitted from it, and a credited host's handshake was
aborted only for another credited host's. Four such hosts, each holding its `per_host`
connections open before TLS (never struck: no handshake got through TLS), held all 16
slots for good: every other connection, a new validator's by stake among them, was
refused. Now one handshake a credited host, and at most half the table, is kept from
strangers; the rest are aborted past their grace like anyone's. Counted in slots."""

from tianfu.p2p.queues import HandshakeSlots


def _fill(slots, hosts, per_host, credited):
    for h in hosts:
        for _ in range(per_host):
            assert slots.take(h, 0.0, credited.__contains__) is not None


def test_four_credited_hosts_cannot_hold_every_handshake_slot():
    slots = HandshakeSlots(total=16, per_host=4, grace=1.0)
    credited = {f"10.0.0.{i}" for i in range(4)}
    _fill(slots, sorted(credited), 4, credited)
    assert len(slots) == 16
    # A stranger past the grace: a credited host's second handshake is aborted for it.
    mine = slots.take("10.9.9.9", 5.0, credited.__contains__)
    assert mine is not None and slots.evicted == 1
    # Each credited host keeps its first handshake through a churn of strangers.
    for i in range(40):
        assert slots.take(f"10.8.{i}.1", 10.0 + 2 * i, credited.__contains__) is not None
    kept = [s for s in slots._pending if s.host in credited]
    assert sorted(s.host for s in kept) == sorted(credited) and all(s.started == 0.0 for s in kept)


def test_credited_hosts_keep_at_most_half_the_slots_from_strangers():
    slots = HandshakeSlots(total=16, per_host=4, grace=1.0)
    credited = {f"10.0.1.{i}" for i in range(16)}
    _fill(slots, sorted(credited), 1, credited)
    for i in range(8):  # the eight oldest are kept, the eight others give way
        assert slots.take(f"10.7.{i}.1", 5.0 + i, credited.__contains__) is not None
    assert slots.take("10.7.99.1", 50.0, credited.__contains__) is not None  # a stranger's
    assert sum(1 for s in slots._pending if s.host in credited) == 8
