"""Optuna's RDB storage shares the state database: both schemas, both version tables."""

from __future__ import annotations

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from retrainer.store import Store, migrate
from retrainer.store.schema import Base
from retrainer.training.tuning import storage


def _study_round_trip(url: str, name: str) -> None:
    study = optuna.create_study(storage=storage(url), study_name=name, load_if_exists=True)
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.2) ** 2, n_trials=3)
    loaded = optuna.load_study(study_name=name, storage=storage(url))
    assert len(loaded.trials) == 3


def _check(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"studies", "trials", "alembic_version", migrate.VERSION_TABLE} <= tables
    assert set(Base.metadata.tables) <= tables
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    with store.engine.connect() as conn:
        optuna_revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert optuna_revision and optuna_revision != migrate.head_revision()
        context = MigrationContext.configure(conn, opts={"include_name": migrate.ours})
        assert compare_metadata(context, Base.metadata) == []  # Optuna's tables are ignored


@pytest.mark.parametrize("optuna_first", [False, True])
def test_optuna_tables_coexist_with_the_state_store(store_url: str, optuna_first: bool) -> None:
    if optuna_first:
        _study_round_trip(store_url, "first")
    store = Store(store_url)
    try:
        _study_round_trip(store_url, "second")
        again = Store(store_url)  # migrating again is a no-op next to Optuna's tables
        assert migrate.upgrade(again.engine)[0] == migrate.head_revision()
        again.close()
        _check(store)
        job = store.create_job("m", trigger="t", reason="r", as_of=__import__("datetime")
                               .datetime(2024, 1, 1), config={}, max_attempts=1)
        assert store.get_job(job.id).model == "m"
    finally:
        store.close()
