"""Private-data refusals carry the HTTP status their class names."""

from __future__ import annotations

from tianfu.privdata.access import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PrivateDataError,
    TooLarge,
    Unauthorized,
)


def test_each_refusal_kind_answers_its_status() -> None:
    kinds = [BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Gone, TooLarge]
    assert [k.status for k in kinds] == [400, 401, 403, 404, 409, 410, 413]
    exc = NotFound("no such record")
    assert isinstance(exc, PrivateDataError)
    assert (exc.status, exc.message, str(exc)) == (404, "no such record", "no such record")
    assert PrivateDataError("x").status == 400


def test_a_refusal_kind_without_a_status_of_its_own_keeps_its_parents() -> None:
    class Tampered(Conflict): ...

    class Teapot(PrivateDataError, status=418): ...

    assert (Tampered.status, Teapot.status, Conflict.status) == (409, 418, 409)
