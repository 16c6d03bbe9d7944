"""Notifications: tell people what the retraining loop did.

``Notifier.send(event)`` must never raise: a notification that fails is logged and the
loop carries on. ``build_notifier`` gives every project a log notifier plus one webhook
notifier per configured target.

>>> from datetime import datetime, timezone
>>> from retrainer.domain.events import Event, EventKind
>>> event = Event(EventKind.PROMOTED, "pm25", datetime(2014, 1, 1, tzinfo=timezone.utc),
...               "version 3 promoted")
>>> FanOut([LogNotifier()]).send(event)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from retrainer.config import ProjectConfig, WebhookTarget
from retrainer.domain.events import Event, EventKind

__all__ = ["FanOut", "LogNotifier", "Notifier", "WebhookNotifier", "build_notifier"]

log = logging.getLogger(__name__)

#: events that mean something went wrong; logged at WARNING
WARNING_EVENTS = frozenset({EventKind.JOB_FAILED, EventKind.DATA_NOT_READY, EventKind.ROLLED_BACK})
#: first retry waits this long; each later one twice as long
BACKOFF_SECONDS = 0.2
#: HTTP statuses worth retrying; other 4xx are the receiver refusing the request
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@runtime_checkable
class Notifier(Protocol):
    def send(self, event: Event) -> None:
        """Deliver ``event``. Never raises."""
        ...


class LogNotifier:
    """Logs every event (WARNING for failures, data not ready and rollbacks; INFO otherwise)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or log

    def send(self, event: Event) -> None:
        level = logging.WARNING if event.kind in WARNING_EVENTS else logging.INFO
        job = f" (job #{event.job_id})" if event.job_id is not None else ""
        self.logger.log(level, "[%s] %s%s: %s", event.kind.value, event.model, job, event.message)


class WebhookNotifier:
    """POSTs ``event.to_json()`` to ``target.url`` with the target's headers and timeout.

    Connection errors, timeouts, 5xx and 429 are retried up to ``target.max_attempts``
    attempts in all, waiting ``BACKOFF_SECONDS * 2**n`` before retry ``n + 1``. Other
    responses >= 400 are not retried. Events not in ``target.events`` (when set) are
    skipped. Failures are logged with the URL's scheme and host only: webhook paths often
    carry secrets.
    """

    def __init__(
        self,
        target: WebhookTarget,
        *,
        backoff_seconds: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.target = target
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._transport = transport
        parts = urlsplit(target.url)
        self.host = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.host!r})"

    def wants(self, event: Event) -> bool:
        return self.target.events is None or event.kind.value in self.target.events

    def send(self, event: Event) -> None:
        if not self.wants(event):
            return
        try:
            self._deliver(event)
        except Exception:  # a notification must never break the retraining loop
            log.exception("webhook %s: could not send %s event", self.host, event.kind.value)

    def _deliver(self, event: Event) -> bool:
        """True once the receiver accepted the event; False after giving up (logged)."""
        body = json.dumps(event.to_json(), default=str).encode()
        headers = {"Content-Type": "application/json", **self.target.headers}
        attempts = self.target.max_attempts
        problem = ""
        with httpx.Client(timeout=self.target.timeout_seconds, transport=self._transport) as client:
            for attempt in range(1, attempts + 1):
                try:
                    response = client.post(self.target.url, content=body, headers=headers)
                except httpx.TransportError as error:
                    problem = f"{type(error).__name__}: {error}"
                else:
                    if response.status_code < 400:
                        return True
                    problem = f"HTTP {response.status_code}"
                    if response.status_code not in RETRY_STATUSES:
                        log.error("webhook %s refused the %s event (%s); not retrying",
                                  self.host, event.kind.value, problem)
                        return False
                if attempt < attempts:
                    delay = self.backoff_seconds * 2 ** (attempt - 1)
                    log.info("webhook %s: attempt %d/%d failed (%s); retrying in %.1fs",
                             self.host, attempt, attempts, problem, delay)
                    self._sleep(delay)
        log.error("webhook %s: giving up on the %s event after %d attempts (last: %s)",
                  self.host, event.kind.value, attempts, problem)
        return False


class FanOut:
    """Sends each event to every notifier; one failing notifier does not stop the others."""

    def __init__(self, notifiers: Sequence[Notifier]):
        self.notifiers = list(notifiers)

    def send(self, event: Event) -> None:
        for notifier in self.notifiers:
            try:
                notifier.send(event)
            except Exception:
                log.exception("notifier %r failed on a %s event", notifier, event.kind.value)


def build_notifier(project: ProjectConfig) -> Notifier:
    """A log notifier plus one webhook notifier per ``project.notifications`` target."""
    webhooks: list[Notifier] = [WebhookNotifier(target) for target in project.notifications]
    return FanOut([LogNotifier(), *webhooks])
