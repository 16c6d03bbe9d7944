"""Drift on the same data: retrainer against Evidently 0.7 and NannyML, each in its own process.

    .venv/bin/python benchmarks/drift_vs_evidently.py               # everything (~5 minutes)
    .venv/bin/python benchmarks/drift_vs_evidently.py --skip-stream --peers evidently

The data is generated once into ``--data`` (Parquet; reused while its shape matches):
reference and current of ``--rows`` x ``--columns`` numeric columns of several shapes, with a
quarter of the current columns shifted. Every tool then runs in a fresh process on the same
files: retrainer from this virtualenv; Evidently from ``benchmarks/.venv-evidently`` and
NannyML from ``benchmarks/.venv-nannyml`` (see benchmarks/README.md to create them). A peer
whose virtualenv is missing is skipped with a note.

Reported per run: rows, columns, the seconds of the drift computation itself (data already
in memory; what the targets are about), the process's wall time (start-up, Parquet reading,
computation) and its peak resident memory (``ru_maxrss`` of that child from ``wait4``).
Each run is repeated ``--repeat`` times in fresh processes (Evidently once: it takes minutes)
and reported as the median time and the largest peak. Ratios divide a peer's compute seconds
by retrainer's against its stored profile.

The stream run reads a ``--stream-rows`` x ``--stream-columns`` current file in batches
against a profile of a 1,000,000-row reference; its peak memory must stay under 2 GB.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
EVIDENTLY = HERE / ".venv-evidently" / "bin" / "python"
NANNYML = HERE / ".venv-nannyml" / "bin" / "python"


def columns_for(rng: np.random.Generator, rows: int, count: int, drifted: bool
                ) -> dict[str, np.ndarray]:
    """``count`` columns of five shapes; when ``drifted``, every fourth one moves."""
    data = {}
    for i in range(count):
        shift = 0.3 if drifted and i % 4 == 0 else 0.0
        kind = i % 5
        if kind == 0:
            values = rng.normal(shift, 1.0, rows)
        elif kind == 1:
            values = rng.gamma(2.0, 2.0 * (1 + shift), rows)
        elif kind == 2:
            values = rng.lognormal(shift, 0.7, rows)
        elif kind == 3:
            values = rng.uniform(shift, 1 + shift, rows)
        else:
            values = rng.poisson(5 + 3 * shift, rows).astype(np.float64)
        data[f"f{i:02d}"] = values
    return data


def write(path: Path, rows: int, count: int, drifted: bool, seed: int,
          chunk: int = 1_000_000) -> None:
    """Write the file in row groups of ``chunk`` rows (bounded memory for big files)."""
    if path.exists():
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows == rows and meta.num_columns == count:
            return
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, chunk):
        table = pa.table(columns_for(rng, min(chunk, rows - start), count, drifted))
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=min(chunk, 500_000))
    assert writer is not None
    writer.close()
    tmp.rename(path)


def run(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run one child; its JSON line plus wall seconds and peak RSS (MB) from ``wait4``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as errors:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True,
                                 env={**os.environ, **(env or {})})
        assert child.stdout is not None
        out = child.stdout.read()  # until the child closes it; the child is not reaped yet
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read()[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "wall": wall, "peak_mb": usage.ru_maxrss / 1024}


def repeated(command: list[str], times: int, env: dict[str, str] | None = None) -> dict:
    """``run`` ``times`` times: median compute and wall seconds, the largest peak."""
    results = [run(command, env) for _ in range(max(times, 1))]
    middle = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    return {**middle, "wall": float(np.median([r["wall"] for r in results])),
            "peak_mb": max(r["peak_mb"] for r in results), "runs": len(results)}


def row(result: dict, base: float | None) -> str:
    ratio = f"{result['seconds'] / base:,.0f}x" if base else "-"
    return (f"| {result['tool']} | {result['mode']} | {result.get('runs', 1)} "
            f"| {result['rows']:,} | {result['columns']} "
            f"| {result['seconds']:.3f} | {result['wall']:.1f} | {result['peak_mb']:,.0f} "
            f"| {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--peers", default="evidently,nannyml")
    parser.add_argument("--skip-stream", action="store_true")
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--stream-columns", type=int, default=50)
    parser.add_argument("--batch-rows", type=int, default=None,
                        help="rows per streamed batch (default: retrainer's, ~25M values)")
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    ours = [sys.executable, str(HERE / "drift_child_ours.py")]
    tag = f"{args.rows}x{args.columns}"
    reference = args.data / f"reference_{tag}.parquet"
    current = args.data / f"current_{tag}.parquet"
    profile = args.data / f"profile_{tag}.json"
    print(f"data: {reference.name}, {current.name} (generating if needed)", file=sys.stderr)
    write(reference, args.rows, args.columns, drifted=False, seed=1)
    write(current, args.rows, args.columns, drifted=True, seed=2)

    results = []
    built = run([*ours, "profile", str(reference), str(profile)])
    built["mode"] = "profile (once per version)"
    results.append(built)
    stored = repeated([*ours, "detect", str(profile), str(current)], args.repeat)
    stored["mode"] = "report vs stored profile"
    exact = repeated([*ours, "exact", str(reference), str(current)], args.repeat)
    exact["mode"] = "report vs raw reference (exact)"
    results += [stored, exact]
    peers = [p for p in args.peers.split(",") if p]
    checks = []
    if "evidently" in peers:
        if EVIDENTLY.exists():
            peer = run([str(EVIDENTLY), str(HERE / "peers_evidently.py"), str(reference),
                        str(current)])
            results.append(peer)
            agree = max(abs(exact["wasserstein"][c] - v * (1 - 1 / args.rows) ** -0.5)
                        for c, v in peer["wasserstein"].items())
            checks.append(f"drifted columns: retrainer {len(stored['drifted'])} "
                          f"{'==' if stored['drifted'] == peer['drifted'] else '!='} "
                          f"evidently {len(peer['drifted'])}; normalised Wasserstein agrees "
                          f"to {agree:.1e} (Evidently divides by the ddof=0 std)")
        else:
            print(f"skipping Evidently: {EVIDENTLY} not found", file=sys.stderr)
    if "nannyml" in peers:
        if NANNYML.exists():
            for methods in ("jensen_shannon", "kolmogorov_smirnov,jensen_shannon,wasserstein"):
                results.append(repeated([str(NANNYML), str(HERE / "peers_nannyml.py"),
                                         str(reference), str(current), methods], args.repeat,
                                        env={"NML_DISABLE_USAGE_LOGGING": "1"}))
        else:
            print(f"skipping NannyML: {NANNYML} not found", file=sys.stderr)
    if not args.skip_stream:
        big_tag = f"{args.stream_rows}x{args.stream_columns}"
        big_ref = args.data / f"reference_1000000x{args.stream_columns}.parquet"
        big_cur = args.data / f"current_{big_tag}.parquet"
        big_profile = args.data / f"profile_1000000x{args.stream_columns}.json"
        print(f"data: {big_cur.name} (generating if needed)", file=sys.stderr)
        write(big_ref, 1_000_000, args.stream_columns, drifted=False, seed=3)
        write(big_cur, args.stream_rows, args.stream_columns, drifted=True, seed=4)
        run([*ours, "profile", str(big_ref), str(big_profile)])
        batch = [str(args.batch_rows)] if args.batch_rows else []
        streamed = repeated([*ours, "stream", str(big_profile), str(big_cur), *batch],
                            args.repeat)
        streamed["mode"] = "stream from Parquet" + (
            f" ({args.batch_rows:,}-row batches)" if args.batch_rows else "")
        results.append(streamed)

    base = stored["seconds"]
    print(f"\n{os.cpu_count()} cores; compute = drift computation with data in memory; "
          "process = start-up + reading + computation; median of the runs, largest peak\n")
    print("| tool | run | runs | rows | columns | compute s | process s | peak MB "
          "| vs retrainer |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        comparable = result["tool"] != "retrainer" or result is exact
        print(row(result, base if comparable else None))
    for check in checks:
        print(f"\n{check}")


if __name__ == "__main__":
    main()
