"""A small retrainer project on real data, driven through the real `retrainer` command,
and a real HTTP endpoint for webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
FEATURES = ["hour", "month", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir",
            "pm_lag1", "pm_lag24"]


def project_config(**model_overrides: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": "pm25",
        "source": {"kind": "csv", "path": "data/pm25.csv"},
        "time_column": "time",
        "target": "pm",
        "task": "regression",
        "features": FEATURES,
        "categorical": ["cbwd"],
        "training_window": "120d",
        "monitoring_window": "30d",
        "min_rows": 1000,
        "readiness": {"max_null_share": 0.2, "max_label_null_share": 0.3},
        "monitors": {"drift": {"columns": {"month": {"ignore": True}}}},
        # drift alone, so each test knows which trigger fires (auto is on by default)
        "triggers": {"auto": {"enabled": False}, "drift": {"min_drifted_share": 0.3},
                     "cooldown": "0d"},
        "training": {"trainer": "lightgbm", "params": {"n_estimators": 200}},
        "validation": {"metric": "rmse", "min_improvement": "2%", "test": "diebold_mariano",
                       "alpha": 0.05, "gates": {"max_rmse": 80}},
    }
    model.update(model_overrides)
    return {
        "executor": {"max_concurrency": 1, "timeout_seconds": 300, "heartbeat_seconds": 0.5,
                     "stale_after_seconds": 3,
                     "retry": {"max_retries": 2, "base_delay_seconds": 0, "jitter": 0}},
        "models": [model],
    }


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.extra_env: dict[str, str] = {}

    @property
    def config_path(self) -> Path:
        return self.root / "retrainer.yaml"

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETRAINER_")}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        env["COLUMNS"] = "200"
        env.update(self.extra_env)
        return env

    def run(
        self, *args: str, check: int | None = 0, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `retrainer` command in the project directory."""
        result = subprocess.run(
            [sys.executable, "-m", "retrainer.cli.app", *args],
            cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if check is not None and result.returncode != check:
            raise AssertionError(
                f"retrainer {' '.join(args)} exited {result.returncode}, expected {check}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "retrainer.cli.app", *args], cwd=self.root, env=self.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )

    def store(self) -> Any:
        from retrainer.store import Store

        return Store(f"sqlite:///{self.root / '.retrainer' / 'state.db'}", migrate_schema=False)


class Hook:
    """A real HTTP endpoint that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.events.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.events]
