"""Alembic environment for retrainer's state store (run through retrainer.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from retrainer.store.migrate import VERSION_TABLE, ours
from retrainer.store.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, version_table=VERSION_TABLE, include_name=ours)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True,
                          version_table=VERSION_TABLE, include_name=ours)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, version_table=VERSION_TABLE, include_name=ours)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
