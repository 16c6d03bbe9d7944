"""Contract suites and small fakes, shipped for plug-in authors."""

from __future__ import annotations

try:  # plain asserts in the shipped suites report their values, as in a test module
    import pytest

    pytest.register_assert_rewrite("retrainer.testing.store_contract")
except ImportError:  # pragma: no cover - pytest is only needed to run the suites
    pass
