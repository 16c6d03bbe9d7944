"""The state store (SQLAlchemy 2, SQLite by default, PostgreSQL for teams)."""

from __future__ import annotations

from retrainer.store.store import ActiveJobExistsError, Store

__all__ = ["ActiveJobExistsError", "Store"]
