"""The backoff and log cadence shared by the driver's retry loops (store, signer file)."""

from __future__ import annotations

import logging

from tianfu.consensus.retry import Retry


def test_waits_double_from_half_a_second_up_to_five():
    retry = Retry("store decided block 7")
    assert [retry.wait() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_the_first_failure_and_every_twelfth_are_logged(caplog):
    retry = Retry("write signer state /x/privval.json")
    with caplog.at_level(logging.WARNING, logger="tianfu.consensus.driver"):
        for i in range(25):
            retry.failed(OSError(28, f"No space left on device {i}"))
    lines = [r.getMessage() for r in caplog.records]
    assert retry.failures == 25
    assert lines == [
        "still cannot write signer state /x/privval.json (1 attempts): "
        "[Errno 28] No space left on device 0",
        "still cannot write signer state /x/privval.json (12 attempts): "
        "[Errno 28] No space left on device 11",
        "still cannot write signer state /x/privval.json (24 attempts): "
        "[Errno 28] No space left on device 23",
    ]
