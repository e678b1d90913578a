"""The one summary table of ``benchmarks/gpu_check.sh``, from what its steps left in its work folder.

    python benchmarks/gpu_summary.py WORK

Reads ``steps.tsv`` (step, exit code, seconds), ``tests.xml`` (pytest's JUnit report),
``mlflow.db`` (the run's stage times and pass@k, the sweep's jobs; read with sqlite3, so the
summary needs no MLflow import) and ``sampling.jsonl`` (benchmarks/shape_sampling.py). Prints
``part | item | result`` rows; parts whose step failed say so and point to its log.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def step_rows(work: Path) -> dict[str, tuple[int, int]]:
    """Each step's exit code and seconds."""
    steps = {}
    for line in (work / "steps.tsv").read_text().splitlines():
        name, code, seconds = line.split("\t")
        steps[name] = (int(code), int(seconds))
    return steps


def test_rows(work: Path, device: str) -> list[tuple[str, str, str]]:
    report = work / "tests.xml"
    if not report.exists():
        return [("tests", "report", "missing: see tests.log")]
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failed = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    rows = [("tests", f"on {device}", f"{total - failed - skipped} passed, {failed} failed, {skipped} skipped")]
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            rows.append(("tests", "failed", f"{case.get('classname')}::{case.get('name')}"))
    return rows


def jobs(db: sqlite3.Connection, experiment: str) -> list[dict]:
    """The experiment's job runs (not stage runs), oldest first, with their stage runs."""
    query = """select r.run_uuid, r.name, r.status, r.start_time, r.end_time from runs r
               join experiments e on e.experiment_id = r.experiment_id where e.name = ? order by r.start_time"""
    runs = [dict(zip(("id", "name", "status", "start", "end"), row)) for row in db.execute(query, (experiment,))]
    tags = {}
    for run_id, key, value in db.execute("select run_uuid, key, value from tags"):
        tags.setdefault(run_id, {})[key] = value
    metrics = {}
    for run_id, key, value in db.execute("select run_uuid, key, value from latest_metrics"):
        metrics.setdefault(run_id, {})[key] = value
    for run in runs:
        run["tags"], run["metrics"] = tags.get(run["id"], {}), metrics.get(run["id"], {})
    found = [r for r in runs if r["tags"].get("run_kind", "job") == "job" and "stage" not in r["tags"]]
    for job in found:
        job["stages"] = [r for r in runs if r["tags"].get("mlflow.parentRunId") == job["id"]]
    return found


def seconds(run: dict) -> str:
    return f"{(run['end'] - run['start']) / 1000:.1f} s" if run["end"] else "unfinished"


def pass_at(job: dict) -> str:
    keys = sorted((k for k in job["metrics"] if "/pass_at_" in k), key=lambda k: int(k.rsplit("_", 1)[1]))
    return ", ".join(f"{k} {100 * job['metrics'][k]:.2f}%" for k in keys) or "no pass@k logged"


def run_rows(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    found = jobs(db, "gpu_check_run")
    if not found:
        return [("run", "job", "no job run: see run.log")]
    job = found[-1]
    rows = [("run", f"stage {s['tags']['stage']}", seconds(s) + (" (cache hit)" if s["tags"].get("cache_hit") == "true"
                                                                else ""))
            for s in sorted(job["stages"], key=lambda s: s["start"])]
    return rows + [("run", f"job ({job['status'].lower()})", seconds(job)), ("run", "pass@k", pass_at(job))]


def sweep_rows(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    found = jobs(db, "gpu_check_sweep")
    if not found:
        return [("sweep", "jobs", "none: see sweep.log")]
    rows = []
    for job in found:
        hits = sum(s["tags"].get("cache_hit") == "true" for s in job["stages"])
        rows.append(("sweep", f"variant {job['tags'].get('variant', job['name'])} ({job['status'].lower()})",
                     f"{seconds(job)}, {len(job['stages']) - hits} stages computed, {hits} cache hits; {pass_at(job)}"))
    return rows


def sampling_rows(work: Path) -> list[tuple[str, str, str]]:
    path = work / "sampling.jsonl"
    if not path.exists():
        return [("sampling", "rows", "none: see sampling.log")]
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        ratio = f" ({r['vs_2026_12_04']:.2f}x 2026-12-04)" if r.get("vs_2026_12_04") else ""
        rows.append(("sampling", f"{r['shape']} {r['engine']} {r['rows']}x{r['tokens']}",
                     f"{r['tok_per_s']:,.0f} tok/s{ratio}"))
    return rows


def main() -> None:
    work = Path(sys.argv[1])
    steps = step_rows(work)
    device = (work / "device").read_text().strip() if (work / "device").exists() else "?"
    rows = [("step", name, f"{'ok' if code == 0 else f'FAILED (exit {code}): {name}.log'}, {secs} s")
            for name, (code, secs) in steps.items()]
    rows += test_rows(work, device)
    if (work / "mlflow.db").exists():
        with sqlite3.connect(work / "mlflow.db") as db:
            rows += run_rows(db) + sweep_rows(db)
    rows += sampling_rows(work)
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    print(f"\n{'part':<{widths[0]}} | {'item':<{widths[1]}} | result")
    print(f"{'-' * widths[0]}-+-{'-' * widths[1]}-+-{'-' * 30}")
    for part, item, result in rows:
        print(f"{part:<{widths[0]}} | {item:<{widths[1]}} | {result}")


if __name__ == "__main__":
    main()
