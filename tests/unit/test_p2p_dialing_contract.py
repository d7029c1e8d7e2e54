"""`tianfu.p2p.dialing.Dialing` states what it needs of the transport as abstract methods,
not as bodies that raise `NotImplementedError` when called: a transport that lacks one
cannot be made at all, instead of failing on its first dial."""

import inspect

import pytest

from tianfu.p2p import dialing
from tianfu.p2p.dialing import Dialing
from tianfu.p2p.network import TlsNetwork


def test_the_dialing_base_names_what_it_needs_and_has_no_stub_bodies():
    assert Dialing.__abstractmethods__ == frozenset({"_authenticate", "_register"})
    assert "NotImplementedError" not in inspect.getsource(dialing)
    assert not TlsNetwork.__abstractmethods__

    class Half(Dialing):
        def _register(self, *args, **kwargs):
            pass

    with pytest.raises(TypeError, match="_authenticate"):
        Half()
