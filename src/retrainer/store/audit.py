"""The audit log: who did what to which model or job, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retrainer.clock import wall_now
from retrainer.store.base import StoreBase
from retrainer.store.schema import AuditRow


def write_audit(
    session: Session,
    action: str,
    *,
    model: str | None = None,
    job_id: int | None = None,
    as_of: datetime | None = None,
    actor: str = "retrainer",
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to ``session``: it commits (or not) with the change it records."""
    session.add(
        AuditRow(
            recorded_at=wall_now(),
            as_of=as_of,
            actor=actor,
            action=action,
            model=model,
            job_id=job_id,
            details=details or {},
        )
    )


class AuditMixin(StoreBase):
    def audit(self, action: str, **kwargs: Any) -> None:
        with self.session() as session:
            write_audit(session, action, **kwargs)

    def audit_log(self, model: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if model:
                query = query.where(AuditRow.model == model)
            return [
                {
                    "id": r.id,
                    "recorded_at": r.recorded_at.isoformat(),
                    "as_of": r.as_of.isoformat() if r.as_of else None,
                    "actor": r.actor,
                    "action": r.action,
                    "model": r.model,
                    "job_id": r.job_id,
                    "details": r.details,
                }
                for r in session.scalars(query)
            ]
