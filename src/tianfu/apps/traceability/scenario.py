"""End-to-end traceability flow: farm to shelf, split, merge, recall, public verified lookup.

Members of different organisations play their roles; every forbidden action is tried and
must be refused with a clear error and no state change. Runs on `AppChain` in the tests
and on a real 4-validator network (`tianfu up`).
"""

from __future__ import annotations

import copy
import hashlib
import secrets

from tianfu.apps.common.scenario import Scenario, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.traceability import NAME, source
from tianfu.apps.traceability.demo import MEMBERS
from tianfu.apps.traceability.sdk import Traceability
from tianfu.client import Client


def public_client(client: Client) -> Client:
    """A client with no identity that shares `client`'s connection and trust anchor."""
    anon = copy.copy(client)
    anon.identity = None
    anon.genesis = client.genesis or client.fetch_genesis()
    anon._light = None  # noqa: SLF001  (a fresh light client for the copied trust anchor)
    return anon


def run_scenario(env: AppEnv) -> None:
    s = secrets.token_hex(3).upper()
    run = Scenario(env, [(NAME, source)], MEMBERS, suffix="-s")
    p, check, refused = run.people, run.check, run.refused
    t = handles(env, p, Traceability)
    farm, factory, carrier = t["producer"], t["processor"], t["logistics"]
    lab, shop, reg = t["inspector"], t["retailer"], t["regulator"]
    rice, a, b = f"rice-{s}", f"RICE-{s}-A", f"RICE-{s}-B"

    # Producer: product, two harvest lots with their farm events.
    farm.register_product(rice, "Wuchang rice", "grain", "g")
    farm.create_batch(a, rice, 500_000, "Wuchang, field 3")
    farm.create_batch(b, rice, 300_000, "Wuchang, field 5")
    farm.record_event(a, "planting", {"variety": "Daohuaxiang 2"})
    farm.record_event(a, "input", {"input": "pesticide", "product": "Bt spray", "dose_g": 900})
    farm.record_event(a, "harvest", {"date": "2024-10-01"})
    farm.record_event(b, "harvest", {"date": "2024-10-02"})

    run.watch(lambda: (farm.batch(a), farm.batch(b), len(farm.events(a))))

    refused(lambda: shop.create_batch(f"X-{s}", rice, 1, "x"), "producer")
    other = Traceability(env.client(p["producer"]))
    refused(lambda: farm.create_batch(a, rice, 1, "again"), "already exists")
    refused(lambda: shop.record_event(a, "transport", {}), "logistics")
    refused(lambda: carrier.record_event(a, "harvest", {}), "producer")
    refused(lambda: lab.record_event(a, "inspection", {"result": "pass"}), "report_hash")
    refused(lambda: other.record_event(a, "weather", {}), "unknown event type")
    refused(lambda: farm.split_batch(a, [(f"{a}-1", 100), (f"{a}-2", 100)]), "sum to")
    refused(
        lambda: factory.split_batch(a, [(f"{a}-1", 250_000), (f"{a}-2", 250_000)]),
        "only the holder",
    )

    # Custody goes only to a registered member address; its organisation is read from the
    # address's certificate on chain, so a caller cannot name another organisation.
    refused(lambda: farm.transfer_batch(a, "ab" * 20), "unknown address")
    refused(lambda: farm.transfer_batch(a, "AB" * 20), "unknown address")
    # Custody to the mill, which merges both lots, processes and gets the lot inspected.
    for code in (a, b):
        farm.transfer_batch(code, p["processor"].info.address)
    check(factory.batch(a)["holder_org"] == p["processor"].info.org, "holder org from its cert")
    refused(lambda: farm.record_event(a, "harvest", {}), "only the holder")
    factory.register_product(f"pack-{s}", "Wuchang rice 5 kg bag", "grain", "g")
    lot = f"LOT-{s}"
    factory.merge_batches(lot, [a, b], f"pack-{s}")
    check(factory.batch(lot)["quantity"] == 800_000, "a merge conserves the quantity")
    refused(lambda: factory.record_event(a, "processing", {}), "merged")
    factory.record_event(lot, "processing", {"step": "milling"})
    report = hashlib.sha256(f"report {lot}".encode()).hexdigest()
    lab.record_event(lot, "inspection", {"report_hash": report, "result": "pass"})
    bags = [(f"BAG-{s}-{i}", 5_000) for i in range(1, 4)] + [(f"BULK-{s}", 785_000)]
    factory.split_batch(lot, bags)
    check(
        sum(factory.batch(c)["quantity"] for c, _ in bags) == 800_000,
        "a split conserves the quantity",
    )
    bag = bags[0][0]
    carrier.record_event(bag, "transport", {"from": "Harbin", "to": "Chengdu"})
    factory.transfer_batch(bag, p["retailer"].info.address)
    shop.record_event(bag, "retail", {"store": "Chengdu #12"})

    # Public verified lookup, without an identity: the bag's whole lineage back to the fields.
    public = Traceability(public_client(shop.client))
    prov = public.lookup(bag)
    codes = [e["batch"]["code"] for e in prov.lineage]
    check(codes[:2] == [bag, lot] and set(codes[2:]) == {a, b}, f"lineage {codes}")
    check(not prov.recalled, "the bag is not recalled yet")
    types = [e["type"] for e in prov.lineage[0]["events"]]
    check(types == ["split_from", "transport", "custody", "retail"], f"bag events {types}")
    lot_events = prov.lineage[1]["events"]
    check(
        any(e["type"] == "inspection" and e["org"] == p["inspector"].info.org for e in lot_events),
        "the inspection is in the provenance with the inspector's organisation",
    )
    check(all(e["height"] >= 1 and e["time_ms"] > 0 for e in lot_events), "events are stamped")

    # Recall: only a regulator; the lot and all its descendants are flagged.
    run.watch(lambda: [factory.batch(c) for c in [lot] + [c for c, _ in bags]])

    refused(lambda: factory.recall(lot, "residue"), "regulator")
    flagged = reg.recall(lot, "pesticide residue above GB 2763 limit")
    check(sorted(flagged) == sorted([lot] + [c for c, _ in bags]), f"flagged {flagged}")
    check(factory.batch(a)["recall"] is None, "ancestors are not recalled")
    refused(lambda: reg.recall(bag, "again"), "already recalled")
    refused(lambda: shop.record_event(bag, "retail", {}), "recalled")
    refused(
        lambda: factory.split_batch(f"BULK-{s}", [(f"B1-{s}", 1), (f"B2-{s}", 784_999)]),
        "recalled",
    )
    prov = public.lookup(bag)
    notice = prov.recall or {}
    check(prov.recalled and bool(notice), "the public lookup shows the recall")
    check(notice.get("root") == lot and "residue" in notice.get("reason", ""), "recall notice")
