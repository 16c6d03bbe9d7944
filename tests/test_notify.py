from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrainer.config import ProjectConfig, WebhookTarget
from retrainer.domain import Event, EventKind
from retrainer.notify import FanOut, LogNotifier, WebhookNotifier, build_notifier

EVENT = Event(
    kind=EventKind.PROMOTED,
    model="pm25",
    as_of=datetime(2014, 3, 1, tzinfo=UTC),
    message="version 4 promoted: rmse 21.3 vs 24.0",
    job_id=7,
    details={"version": "4", "rmse": 21.3, "when": datetime(2014, 3, 1, tzinfo=UTC)},
)


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with scripted statuses and records requests."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # consumed one per request; 200 once empty
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body})
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _notifier(url: str, sleeps: list[float] | None = None, **target: object) -> WebhookNotifier:
    record = sleeps.append if sleeps is not None else (lambda _: None)
    return WebhookNotifier(WebhookTarget(url=url, **target), sleep=record)


def test_posts_the_event_as_json_with_the_target_headers(receiver: Receiver) -> None:
    notifier = _notifier(receiver.url, headers={"Authorization": "Bearer abc", "X-Team": "ml"})
    notifier.send(EVENT)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/secret-token"
    assert request["headers"]["Authorization"] == "Bearer abc"
    assert request["headers"]["X-Team"] == "ml"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "event": "promoted",
        "model": "pm25",
        "as_of": "2014-03-01T00:00:00+00:00",
        "message": "version 4 promoted: rmse 21.3 vs 24.0",
        "job_id": 7,
        "details": {"version": "4", "rmse": 21.3, "when": "2014-03-01 00:00:00+00:00"},
    }


def test_retries_after_a_server_error_with_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500, 429]
    sleeps: list[float] = []
    _notifier(receiver.url, sleeps, max_attempts=3).send(EVENT)
    assert len(receiver.requests) == 3
    assert sleeps == [pytest.approx(0.2), pytest.approx(0.4)]
    assert receiver.requests[0]["body"] == receiver.requests[2]["body"]


def test_gives_up_after_max_attempts_without_raising(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503] * 10
    with caplog.at_level(logging.INFO, logger="retrainer.notify"):
        _notifier(receiver.url, max_attempts=4).send(EVENT)
    assert len(receiver.requests) == 4
    final = caplog.records[-1]
    assert final.levelno == logging.ERROR
    assert "giving up on the promoted event after 4 attempts (last: HTTP 503)" in final.message
    assert "secret-token" not in caplog.text  # the URL's path is not logged


def test_client_errors_are_not_retried(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [404]
    _notifier(receiver.url, max_attempts=5).send(EVENT)
    assert len(receiver.requests) == 1
    assert "refused the promoted event (HTTP 404)" in caplog.text


def test_filters_events_by_target(receiver: Receiver) -> None:
    notifier = _notifier(receiver.url, events=["job_failed", "rolled_back"])
    notifier.send(EVENT)
    assert receiver.requests == []
    notifier.send(Event(EventKind.JOB_FAILED, "pm25", EVENT.as_of, "boom", job_id=3))
    assert [json.loads(r["body"])["event"] for r in receiver.requests] == ["job_failed"]


def test_timeouts_are_retried(receiver: Receiver) -> None:
    receiver.delay = 0.5
    sleeps: list[float] = []
    _notifier(receiver.url, sleeps, timeout_seconds=0.1, max_attempts=2).send(EVENT)
    # the receiver answers after 0.5 s: a second attempt means the first one timed out
    assert len(receiver.requests) == 2 and len(sleeps) == 1


def test_connection_refused_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    _notifier(f"http://127.0.0.1:{port}/x", sleeps, max_attempts=3).send(EVENT)
    assert len(sleeps) == 2
    assert "ConnectError" in caplog.text and "giving up" in caplog.text


def test_log_notifier_levels(caplog: pytest.LogCaptureFixture) -> None:
    notifier = LogNotifier()
    with caplog.at_level(logging.INFO, logger="retrainer.notify"):
        for kind in EventKind:
            notifier.send(Event(kind, "pm25", EVENT.as_of, f"{kind.value} happened"))
    levels = {r.message.split("]")[0][1:]: r.levelno for r in caplog.records}
    warnings = {"job_failed", "data_not_ready", "rolled_back"}
    assert levels == {k.value: logging.WARNING if k.value in warnings else logging.INFO
                      for k in EventKind}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="retrainer.notify"):
        notifier.send(EVENT)
    assert caplog.records[0].message == (
        "[promoted] pm25 (job #7): version 4 promoted: rmse 21.3 vs 24.0")


def test_fan_out_isolates_failures(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def send(self, event: Event) -> None:
            raise RuntimeError("smtp is down")

    FanOut([Broken(), _notifier(receiver.url)]).send(EVENT)
    assert len(receiver.requests) == 1
    assert "smtp is down" in caplog.text


def test_build_notifier_logs_and_calls_every_webhook(receiver: Receiver) -> None:
    project = ProjectConfig(notifications=[
        WebhookTarget(url=receiver.url),
        WebhookTarget(url=receiver.url + "/second", events=["promoted"]),
        WebhookTarget(url=receiver.url + "/third", events=["job_failed"]),
    ])
    notifier = build_notifier(project)
    assert isinstance(notifier, FanOut)
    assert isinstance(notifier.notifiers[0], LogNotifier)
    notifier.send(EVENT)
    assert sorted(r["path"] for r in receiver.requests) == [
        "/hooks/secret-token", "/hooks/secret-token/second"]
    assert len(build_notifier(ProjectConfig()).notifiers) == 1
