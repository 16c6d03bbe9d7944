"""Model versions, the champion pointer, promotions and rollbacks, and their mirroring."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from retrainer.clock import wall_now
from retrainer.domain import JobState, ModelVersion, Promotion
from retrainer.exceptions import IllegalTransitionError, NotFoundError, UsageError
from retrainer.store.audit import write_audit
from retrainer.store.base import StoreBase
from retrainer.store.jobs import transition_in
from retrainer.store.records import FROM_ROW, to_promotion, to_version
from retrainer.store.schema import ChampionRow, JobRow, PromotionRow, VersionRow


def _swap_champion(
    session: Session,
    model: str,
    expected: str | None,
    version: str,
    previous: str | None,
    promotion_id: int,
    as_of: datetime,
) -> None:
    """Point ``model``'s champion at ``version`` if it still is ``expected`` (None: there is
    no champion yet). Raises IllegalTransitionError if it is not."""
    if expected is None:
        if session.get(ChampionRow, model) is not None:
            raise IllegalTransitionError(f"model {model!r} already has a champion")
        session.add(ChampionRow(model=model, version=version, previous_version=previous,
                                promotion_id=promotion_id, as_of=as_of))
        try:
            session.flush()
        except IntegrityError:
            raise IllegalTransitionError(f"model {model!r} already has a champion") from None
        return
    result = session.execute(
        update(ChampionRow)
        .where(ChampionRow.model == model, ChampionRow.version == expected)
        .values(version=version, previous_version=previous, promotion_id=promotion_id,
                as_of=as_of)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise IllegalTransitionError(
            f"the champion of {model!r} is no longer version {expected}"
        )


def _set_status(session: Session, model: str, version: str, status: str) -> None:
    session.execute(
        update(VersionRow)
        .where(VersionRow.model == model, VersionRow.version == version)
        .values(status=status)
    )


_PROFILES_LOCK = threading.Lock()


class VersionsMixin(StoreBase):
    #: profiles by (model, version, row id): written once at registration and never changed,
    #: and with a sample sketch per column they run to megabytes, which every tick read
    #: several times over (30 ms a read for 200 columns)
    _profiles: dict[tuple[str, str, int], Any]

    def _version(self, session: Session, row: VersionRow | None) -> ModelVersion | None:
        """``row`` (loaded without its profile) as a version, its profile from the cache."""
        if row is None:
            return None
        cache = self.__dict__.setdefault("_profiles", {})
        key = (row.model, row.version, row.id)
        with _PROFILES_LOCK:
            profile = cache.get(key, FROM_ROW)
        if profile is FROM_ROW:
            profile = session.scalar(select(VersionRow.profile).where(VersionRow.id == row.id))
            with _PROFILES_LOCK:
                if len(cache) >= 16:
                    cache.pop(next(iter(cache)))
                cache[key] = profile
        return to_version(row, profile=profile)

    def add_version(self, version: ModelVersion) -> None:
        with self.session() as session:
            session.add(
                VersionRow(
                    model=version.model,
                    version=version.version,
                    job_id=version.job_id,
                    run_id=version.run_id,
                    artifact_uri=version.artifact_uri,
                    artifact_sha256=version.artifact_sha256,
                    status=version.status,
                    metrics=version.metrics,
                    lineage=version.lineage,
                    profile=version.profile,
                    created_at=version.created_at,
                    semver=version.semver,
                )
            )

    def get_version(self, model: str, version: str) -> ModelVersion:
        with self.session() as session:
            row = session.scalar(
                select(VersionRow).options(defer(VersionRow.profile))
                .where(VersionRow.model == model, VersionRow.version == version)
            )
            found = self._version(session, row)
            if found is None:
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")
            return found

    def versions(self, model: str) -> list[ModelVersion]:
        with self.session() as session:
            query = select(VersionRow).where(VersionRow.model == model).order_by(VersionRow.id)
            return [to_version(r) for r in session.scalars(query)]

    def latest_version(self, model: str) -> ModelVersion | None:
        """The most recently registered version, or None."""
        with self.session() as session:
            query = (select(VersionRow).options(defer(VersionRow.profile))
                     .where(VersionRow.model == model).order_by(VersionRow.id.desc()).limit(1))
            return self._version(session, session.scalars(query).first())

    def semvers(self, model: str) -> list[str | None]:
        """Every version's semantic version, oldest first. Reads one column: each job numbers
        its candidate with these, and loading every version's lineage and profile for that
        made a long-running model's jobs slower with each version."""
        with self.session() as session:
            query = (select(VersionRow.semver).where(VersionRow.model == model)
                     .order_by(VersionRow.id))
            return list(session.scalars(query))

    def set_version_semver(self, model: str, version: str, semver: str) -> None:
        """Record ``version``'s semantic version. Raises NotFoundError for an unknown version."""
        with self.session() as session:
            result = session.execute(
                update(VersionRow)
                .where(VersionRow.model == model, VersionRow.version == version)
                .values(semver=semver)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")

    def set_version_status(self, model: str, version: str, status: str) -> None:
        with self.session() as session:
            _set_status(session, model, version, status)

    def champion(self, model: str) -> ModelVersion | None:
        with self.session() as session:
            row = session.get(ChampionRow, model)
            if row is None:
                return None
            version = session.scalar(
                select(VersionRow).options(defer(VersionRow.profile)).where(
                    VersionRow.model == model, VersionRow.version == row.version
                )
            )
            return self._version(session, version)

    def champion_pointer(self, model: str) -> tuple[str, str | None] | None:
        """(champion version, previous version) or None."""
        with self.session() as session:
            row = session.get(ChampionRow, model)
            return (row.version, row.previous_version) if row else None

    def promote(
        self,
        model: str,
        version: str,
        *,
        expected_current: str | None,
        job_id: int | None,
        reason: str,
        as_of: datetime,
        actor: str = "retrainer",
        semver: str | None = None,
    ) -> Promotion:
        """Make ``version`` the champion if the champion is still ``expected_current``.

        The job (if any) goes succeeded -> promoted in the same transaction, and ``semver``
        (when given) becomes the version's semantic version in it too. Raises
        NotFoundError for a version the store does not know, IllegalTransitionError if the
        champion is no longer ``expected_current``, ``version`` already is the champion or
        the job is not awaiting its decision; nothing changes then.
        """
        if version == expected_current:
            raise IllegalTransitionError(f"version {version} already is the champion of {model!r}")
        with self.session() as session:
            known = session.scalar(
                select(VersionRow.id).where(
                    VersionRow.model == model, VersionRow.version == version
                )
            )
            if known is None:
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")
            promotion = PromotionRow(
                model=model,
                kind="promote",
                from_version=expected_current,
                to_version=version,
                job_id=job_id,
                reason=reason,
                as_of=as_of,
                recorded_at=wall_now(),
            )
            session.add(promotion)
            session.flush()
            _swap_champion(session, model, expected_current, version, expected_current,
                           promotion.id, as_of)
            if expected_current:
                _set_status(session, model, expected_current, "retired")
            _set_status(session, model, version, "champion")
            if semver is not None:
                session.execute(
                    update(VersionRow)
                    .where(VersionRow.model == model, VersionRow.version == version)
                    .values(semver=semver)
                )
            if job_id is not None:
                transition_in(session, job_id, JobState.PROMOTED, reason=reason,
                              actor=actor, as_of=as_of)
            write_audit(
                session,
                "model.promoted",
                model=model,
                job_id=job_id,
                as_of=as_of,
                actor=actor,
                details={"from": expected_current, "to": version, "reason": reason},
            )
            return to_promotion(promotion)

    def rollback(self, model: str, *, reason: str, as_of: datetime, actor: str) -> Promotion:
        """Restore the version the current champion replaced. Walks back on repeated calls."""
        with self.session() as session:
            pointer = session.get(ChampionRow, model)
            if pointer is None:
                raise UsageError(f"model {model!r} has no champion to roll back")
            if pointer.previous_version is None:
                raise UsageError(
                    f"model {model!r} has no previous champion to roll back to "
                    f"(champion is version {pointer.version})"
                )
            bad, target = pointer.version, pointer.previous_version
            # the champion before `target` is the one `target` replaced when it was installed
            installed = session.scalar(
                select(PromotionRow)
                .where(PromotionRow.model == model, PromotionRow.to_version == target,
                       PromotionRow.kind == "promote")
                .order_by(PromotionRow.id.desc())
                .limit(1)
            )
            new_previous = installed.from_version if installed else None
            if new_previous == bad:
                new_previous = None
            promotion = PromotionRow(
                model=model,
                kind="rollback",
                from_version=bad,
                to_version=target,
                job_id=None,
                reason=reason,
                as_of=as_of,
                recorded_at=wall_now(),
            )
            session.add(promotion)
            session.flush()
            _swap_champion(session, model, bad, target, new_previous, promotion.id, as_of)
            _set_status(session, model, bad, "rolled_back")
            _set_status(session, model, target, "champion")
            bad_row = session.scalar(
                select(VersionRow).where(VersionRow.model == model, VersionRow.version == bad)
            )
            bad_job = session.get(JobRow, bad_row.job_id) if bad_row and bad_row.job_id else None
            if bad_job is not None and bad_job.state == JobState.PROMOTED.value:
                transition_in(session, bad_job.id, JobState.ROLLED_BACK, reason=reason,
                              actor=actor, as_of=as_of)
            write_audit(
                session,
                "model.rolled_back",
                model=model,
                job_id=bad_job.id if bad_job else None,
                as_of=as_of,
                actor=actor,
                details={"from": bad, "to": target, "previous": new_previous, "reason": reason},
            )
            return to_promotion(promotion)

    def promotions(self, model: str, limit: int = 50) -> list[Promotion]:
        with self.session() as session:
            query = (
                select(PromotionRow)
                .where(PromotionRow.model == model)
                .order_by(PromotionRow.id.desc())
                .limit(limit)
            )
            return [to_promotion(r) for r in session.scalars(query)]

    def unmirrored_models(self) -> list[str]:
        with self.session() as session:
            query = select(PromotionRow.model).where(PromotionRow.mirrored_at.is_(None)).distinct()
            return list(session.scalars(query))

    def mark_mirrored(self, model: str, version: str | None = None) -> None:
        """Record that the registry's aliases now show ``model``'s champion.

        Pass the champion ``version`` the mirror read and wrote: promotions recorded after
        the one that installed it stay unmirrored, so a promotion that lands while the
        mirror runs is mirrored on the next pass. Without ``version``, marks every one.
        """
        with self.session() as session:
            query = update(PromotionRow).where(
                PromotionRow.model == model, PromotionRow.mirrored_at.is_(None)
            )
            if version is not None:
                installed = session.scalar(
                    select(func.max(PromotionRow.id)).where(
                        PromotionRow.model == model, PromotionRow.to_version == version
                    )
                )
                if installed is None:
                    return
                query = query.where(PromotionRow.id <= installed)
            session.execute(query.values(mirrored_at=wall_now()))
