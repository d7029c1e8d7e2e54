"""`failing_as`: a library's refusal inside the block fails the contract call, worded."""

from __future__ import annotations

import pytest

from tianfu.execution.contract_api import ContractError, failing_as


def test_a_listed_error_becomes_a_contract_error_with_the_prefix_and_nothing_chained() -> None:
    with pytest.raises(ContractError) as caught, failing_as(KeyError, "bad key"):
        raise KeyError("k")
    assert str(caught.value) == "bad key: 'k'"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    with pytest.raises(ContractError, match="^malformed: two$"):
        with failing_as((TypeError, ValueError), "malformed"):
            raise ValueError("two")


def test_other_errors_and_a_quiet_block_pass_through() -> None:
    with pytest.raises(TypeError, match="other"), failing_as(ValueError, "bad"):
        raise TypeError("other")
    with pytest.raises(ContractError, match="^own$"), failing_as(ValueError, "bad"):
        raise ContractError("own")
    with failing_as(ValueError, "bad"):
        value = 1
    assert value == 1
