"""Validation reports and the gate outcomes read back from them."""

from __future__ import annotations

from sqlalchemy import select

from retrainer.clock import wall_now
from retrainer.domain import GateOutcome, ValidationReport
from retrainer.store.base import StoreBase
from retrainer.store.schema import JobRow, ReportRow, VersionRow


class ReportsMixin(StoreBase):
    def save_report(self, job_id: int, report: ValidationReport) -> None:
        with self.session() as session:
            session.merge(
                ReportRow(
                    job_id=job_id,
                    passed=report.passed,
                    report=report.to_dict(),
                    recorded_at=wall_now(),
                )
            )

    def report(self, job_id: int) -> ValidationReport | None:
        with self.session() as session:
            row = session.get(ReportRow, job_id)
            return ValidationReport.from_dict(row.report) if row else None

    def gate_outcomes(self, model: str, limit: int = 500) -> list[GateOutcome]:
        """The newest ``limit`` validations of ``model``, oldest first, each with the time
        its production model was trained (the auto trigger learns what staleness costs)."""
        with self.session() as session:
            rows = session.execute(  # two fields of each report, read inside the database
                select(JobRow.as_of, ReportRow.report["champion_version"].as_string(),
                       ReportRow.report["relative_improvement"].as_float())
                .join(ReportRow, ReportRow.job_id == JobRow.id)
                .where(JobRow.model == model)
                .order_by(JobRow.as_of.desc())
                .limit(limit)
            ).all()
            trained = dict(session.execute(
                select(VersionRow.version, JobRow.as_of)
                .join(JobRow, JobRow.id == VersionRow.job_id)
                .where(VersionRow.model == model)
            ).tuples().all())
        return [GateOutcome(as_of, trained.get(champion), improvement)
                for as_of, champion, improvement in reversed(rows)]
