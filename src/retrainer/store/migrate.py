"""Alembic migrations shipped in the package: ``retrainer db upgrade`` and the automatic run."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
# our own version table: Optuna's RDB storage, which shares the state database, keeps its
# schema revision in Alembic's default ``alembic_version``
VERSION_TABLE = "retrainer_alembic_version"
# Alembic runs env.py through module-global proxies (alembic.context, alembic.op): two
# upgrades in one process must not overlap, whatever database they target.
_IN_PROCESS = threading.Lock()


def ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic name filter: only retrainer's tables (others, e.g. Optuna's, share the DB)."""
    from retrainer.store.schema import Base

    return type_ != "table" or name in Base.metadata.tables


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _context(conn).get_current_revision()


def _context(conn: Connection) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head. Returns (revision before, revision after).

    Safe when several processes (or threads) open a fresh database at once: the upgrade
    runs in one transaction under a lock (PostgreSQL: an advisory lock per schema; SQLite:
    ``BEGIN IMMEDIATE``), and whoever gets the lock second finds the schema at head.
    """
    head = head_revision()
    before = current_revision(engine)
    if before == head:
        return before, head
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with _IN_PROCESS, engine.connect() as conn:
        _lock_schema(conn)
        before = _context(conn).get_current_revision()
        if before != head:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        conn.commit()
    return before, head


def _lock_schema(conn: Connection) -> None:
    """Open the migration transaction holding a lock other migrators wait for."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('retrainer.migrate:' "
                          "|| coalesce(current_schema(), '')))"))
    elif conn.dialect.name == "sqlite":
        # pysqlite would begin only at the first INSERT; take the write lock up front so
        # the revision check and the DDL happen in one transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE")
