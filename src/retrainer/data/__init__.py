"""Data: sources that load a model's rows for a time window, and readiness checks."""

from __future__ import annotations

from retrainer.data.readiness import (
    CheckResult,
    ReadinessCheck,
    ReadinessContext,
    check_readiness,
    default_checks,
    schema_of,
)
from retrainer.data.sources import CsvSource, DataSource, ParquetSource, SqlSource, make_source

__all__ = [
    "CheckResult",
    "CsvSource",
    "DataSource",
    "ParquetSource",
    "ReadinessCheck",
    "ReadinessContext",
    "SqlSource",
    "check_readiness",
    "default_checks",
    "make_source",
    "schema_of",
]
