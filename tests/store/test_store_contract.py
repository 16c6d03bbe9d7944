"""The shipped store contract, run over SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from retrainer.testing.store_contract import StoreContract


class TestStore(StoreContract):
    """``store_url`` comes from tests/conftest.py: a fresh database or schema per test."""
