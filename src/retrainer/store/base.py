"""The store's plumbing: the engine, the URL and the unit of work every query runs in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from retrainer.exceptions import RetrainerError, StoreError, UsageError
from retrainer.store import migrate
from retrainer.store.engine import make_engine


class StoreBase:
    """An engine on ``url`` and its sessions. ``migrate_schema=True`` brings the schema to head."""

    def __init__(self, url: str, *, migrate_schema: bool = True):
        self.url = url
        try:
            make_url(url)
        except SQLAlchemyError:
            raise UsageError(f"state store URL {url!r} is not a database URL (sqlite:///path "
                             "or postgresql+psycopg://user@host/db)") from None
        try:
            self.engine = make_engine(url)
            if migrate_schema:
                migrate.upgrade(self.engine)
        except SQLAlchemyError as error:
            raise StoreError(f"cannot open state store {self.safe_url}: {error}") from error
        except ModuleNotFoundError as error:  # a URL whose driver is not installed
            raise StoreError(f"cannot open state store {self.safe_url}: its database driver "
                             f"is not installed ({error.name}); install it, or use "
                             "sqlite:/// or postgresql+psycopg://") from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except SQLAlchemyError:  # not a URL: nothing in it can be a password's place
            return repr(self.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error.

        Retrainer's own errors pass through; SQLAlchemy's become StoreError.
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except RetrainerError:
            session.rollback()
            raise
        except SQLAlchemyError as error:
            session.rollback()
            raise StoreError(f"state store error: {error}") from error
        finally:
            session.close()
