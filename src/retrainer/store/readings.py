"""Monitor readings and the trigger decisions taken on them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from retrainer.clock import wall_now
from retrainer.domain import MonitorReading, TriggerDecision
from retrainer.store.base import StoreBase
from retrainer.store.records import to_decision, to_reading
from retrainer.store.schema import DecisionRow, ReadingRow

#: what a verdict reads of each monitor's details (``verdict_readings``)
_VERDICTS = {"drift": ("dataset_drift", "weighted_share"),
             "performance": ("metric", "metrics"), "estimated": ("metric", "metrics")}
_READING_FIELDS = (ReadingRow.model, ReadingRow.monitor, ReadingRow.as_of,
                   ReadingRow.window_start, ReadingRow.window_end, ReadingRow.rows,
                   ReadingRow.score, ReadingRow.severity, ReadingRow.alert, ReadingRow.summary,
                   ReadingRow.champion_version)


class ReadingsMixin(StoreBase):
    def add_reading(self, reading: MonitorReading) -> int:
        with self.session() as session:
            row = ReadingRow(
                model=reading.model,
                monitor=reading.monitor,
                as_of=reading.as_of,
                window_start=reading.window_start,
                window_end=reading.window_end,
                rows=reading.rows,
                # SQLite stores NaN in a REAL column as NULL: do the same everywhere
                score=None if reading.score is not None and math.isnan(reading.score)
                else reading.score,
                severity=reading.severity.value,
                alert=reading.alert,
                summary=reading.summary,
                details=reading.details,
                champion_version=reading.champion_version,
                recorded_at=wall_now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def readings(
        self, model: str, monitor: str | None = None, limit: int = 50
    ) -> list[MonitorReading]:
        with self.session() as session:
            query = select(ReadingRow).where(ReadingRow.model == model)
            if monitor:
                query = query.where(ReadingRow.monitor == monitor)
            query = query.order_by(ReadingRow.as_of.desc(), ReadingRow.id.desc()).limit(limit)
            return [to_reading(r) for r in session.scalars(query)]

    def verdict_readings(self, model: str, monitors: Sequence[str], limit: int = 50,
                         since: datetime | None = None) -> list[MonitorReading]:
        """The newest ``limit`` readings of ``monitors``, newest first, as ``readings`` gives
        them, except that their details hold only what a verdict needs, read inside the
        database: a drift reading's ``dataset_drift`` and ``weighted_share``, a performance or
        estimated reading's ``metric`` and ``metrics`` (other monitors come whole). The auto
        trigger reads its history at every tick: decoding every column's statistics (10 KB a
        drift reading on 11 columns, 170 KB on 200) took a quarter of a replay's time, and
        building whole rows a seventh of the rest. ``since``: only readings after it."""
        order = (ReadingRow.as_of.desc(), ReadingRow.id.desc())
        found: list[tuple[datetime, int, MonitorReading]] = []
        recent = [ReadingRow.as_of > since] if since is not None else []
        with self.session() as session:
            whole = [m for m in monitors if m not in _VERDICTS]
            if whole:
                query = select(ReadingRow).where(ReadingRow.model == model,
                                                 ReadingRow.monitor.in_(whole), *recent)
                found += [(r.as_of, r.id, to_reading(r))
                          for r in session.scalars(query.order_by(*order).limit(limit))]
            slim = [m for m in monitors if m in _VERDICTS]
            if slim:
                details = ReadingRow.details
                columns = (select(*_READING_FIELDS, ReadingRow.id,
                                  details["dataset_drift"].as_boolean().label("dataset_drift"),
                                  details["weighted_share"].as_float().label("weighted_share"),
                                  details["metric"].as_string().label("metric"),
                                  details["metrics"].label("metrics"))
                           .where(ReadingRow.model == model, ReadingRow.monitor.in_(slim),
                                  *recent))
                for row in session.execute(columns.order_by(*order).limit(limit)):
                    verdict = {key: getattr(row, key) for key in _VERDICTS[row.monitor]}
                    found.append((row.as_of, row.id, to_reading(row, details=verdict)))
        found.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [reading for _, _, reading in found[:limit]]

    def add_decision(self, decision: TriggerDecision) -> int:
        with self.session() as session:
            row = DecisionRow(
                model=decision.model,
                trigger=decision.trigger,
                as_of=decision.as_of,
                condition_met=decision.condition_met,
                fired=decision.fired,
                reason=decision.reason,
                evidence=decision.evidence,
                job_id=decision.job_id,
                recorded_at=wall_now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def link_decisions(self, decision_ids: list[int], job_id: int) -> None:
        with self.session() as session:
            session.execute(
                update(DecisionRow).where(DecisionRow.id.in_(decision_ids)).values(job_id=job_id)
            )

    def decisions(
        self,
        model: str,
        trigger: str | None = None,
        limit: int = 50,
        before: datetime | None = None,
    ) -> list[TriggerDecision]:
        """Newest first."""
        with self.session() as session:
            query = select(DecisionRow).where(DecisionRow.model == model)
            if trigger:
                query = query.where(DecisionRow.trigger == trigger)
            if before is not None:
                query = query.where(DecisionRow.as_of < before)
            query = query.order_by(DecisionRow.as_of.desc(), DecisionRow.id.desc()).limit(limit)
            return [to_decision(r) for r in session.scalars(query)]
