"""Schemathesis over the node's whole OpenAPI schema: generated valid and invalid requests
(path and query parameters, bodies, boundary values) against the API of a real in-process
chain (`AppChain`: the real `NodeService`, executor and SQLite store), none answered 5xx.

Bounded for `make test`: a fixed number of examples per operation, derandomized so that
every run sends the same requests. Searching wider is a matter of raising `EXAMPLES` and
dropping `derandomize`.
"""

from __future__ import annotations

import collections
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tianfu.api.app import create_app
from tianfu.testing.appchain import AppChain

EXAMPLES = 50

_home = tempfile.TemporaryDirectory(prefix="tianfu-schema-")
_chain = AppChain(Path(_home.name))
_admin = _chain.admin("org1")
_chain.call(_admin, "governance", "get_identity", _admin.info.address)  # block 2, one tx
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_chain.service))
SEEN: collections.Counter[str] = collections.Counter()
SERVER_ERRORS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _close_chain() -> Iterator[None]:
    yield
    _chain.close()
    _home.cleanup()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    SEEN[case.operation.label] += 1
    if response.status_code >= 500:
        SERVER_ERRORS.append(f"{case.operation.label}: {response.status_code} {response.text}")
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:  # every refusal is the API's JSON error document
        assert response.json()["error"], response.text[:300]


def test_every_operation_was_exercised() -> None:
    if not SEEN:
        pytest.skip("runs after test_no_request_gets_a_server_error, in the same session")
    documented = {
        f"{method.upper()} {path}"
        for path, ops in schema.raw_schema["paths"].items()
        for method in ops
    }
    print(
        f"\nschemathesis: {sum(SEEN.values())} requests, {len(SEEN)} operations, "
        f"{len(SERVER_ERRORS)} answered 5xx"
    )
    assert set(SEEN) == documented
    assert not SERVER_ERRORS
