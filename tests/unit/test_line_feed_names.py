"""A name, role, address or hash checked by a pattern ends where the text ends: Python's `$`
also matches before a final line feed, so "auditor\\n" passed as a role, an address with a
line feed as an address, and the two looked the same as the real ones in every listing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tianfu.apps.common import inputs
from tianfu.apps.manufacturing import commands as manufacturing_commands
from tianfu.apps.photo_sharing import blobs
from tianfu.contracts import accounts, identity, reviewed_admission
from tianfu.privdata import messages, record
from tianfu.testing.appchain import AppChain

HEX40 = "ab" * 20
HEX64 = "cd" * 32
PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    ("identity.ROLE_RE", identity.ROLE_RE, "auditor"),
    ("identity.FINGERPRINT_RE", identity.FINGERPRINT_RE, HEX64),
    ("identity.SERIAL_RE", identity.SERIAL_RE, "12345"),
    ("accounts.ADDRESS_RE", accounts.ADDRESS_RE, HEX40),
    ("reviewed_admission.VALIDATOR_NAME_RE", reviewed_admission.VALIDATOR_NAME_RE, "org1-v1"),
    ("record.HASH_RE", record.HASH_RE, HEX64),
    ("record.CONTRACT_RE", record.CONTRACT_RE, "health"),
    ("inputs.ADDRESS_RE", inputs.ADDRESS_RE, HEX40),
    ("inputs.SHA256_RE", inputs.SHA256_RE, HEX64),
    ("blobs.SHA256_RE", blobs.SHA256_RE, HEX64),
    ("manufacturing.ITEM_RE", manufacturing_commands.ITEM_RE, "bolt=10@250"),
]


@pytest.mark.parametrize(("name", "pattern", "good"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_a_pattern_refuses_a_final_line_feed(name: str, pattern: re.Pattern[str], good: str):
    assert pattern.match(good)
    assert not pattern.match(good + "\n"), name


def test_a_private_data_name_refuses_a_final_line_feed():
    assert msgspec.convert("health", messages.Name) == "health"
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert("health\n", messages.Name)


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    yield c
    c.close()


def test_a_role_with_a_final_line_feed_is_not_granted(chain: AppChain) -> None:
    admin = chain.admin("org1")
    mallory = chain.identity("org1", "mallory")
    m = mallory.info.address
    assert chain.call(mallory, "governance", "get_identity", m).ok  # registers it
    refused = chain.call(admin, "governance", "grant_role", m, "minter\n")
    assert not refused.ok and "role must match" in (refused.error or "")
    assert chain.call(admin, "governance", "grant_role", m, "minter").ok
