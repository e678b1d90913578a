"""Kill the smoke chain at random points (SIGTERM or SIGKILL), resume it, and check nothing was lost.

    python benchmarks/kill_resume.py [--trials 6] [--seed 0] [--workdir /tmp/kill-resume]

A reference job runs the whole smoke chain once. Each trial then starts the same job on an empty
cache, kills it after a random delay with SIGTERM or SIGKILL, and runs the same command again to
the end. Printed per trial: the signal, when it was sent, whether the resumed job's tables are
identical to the reference (every stage's table digests), how many MLflow runs are left RUNNING and
how many staging folders are left once the resumed job has finished.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command(work: Path) -> list[str]:
    return [sys.executable, "run.py", "experiment=smoke", f"paths.cache_dir={work / 'cache'}",
            f"tracking.uri=sqlite:///{work / 'mlflow.db'}", f"tracking.artifact_root={work / 'artifacts'}",
            "tracking.experiment=kill-resume", f"hydra.run.dir={work / 'hydra'}"]


def digests(cache: Path) -> dict[str, dict[str, str]]:
    """{stage: {table: digest}} of every complete entry (one entry per stage in these runs)."""
    out = {}
    for manifest in cache.glob("*/*/manifest.json"):
        data = json.loads(manifest.read_text())
        out[data["stage"]] = {name: info["digest"] for name, info in data.get("tables", {}).items()}
    return out


def running_runs(work: Path) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("kill-resume")
    return len(client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")) if experiment else 0


def run_to_end(work: Path) -> float:
    started = time.time()
    subprocess.run(command(work), cwd=ROOT, check=True, capture_output=True, text=True)
    return time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kill-resume"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    shutil.rmtree(args.workdir, ignore_errors=True)
    reference_dir = args.workdir / "reference"
    duration = run_to_end(reference_dir)
    reference = digests(reference_dir / "cache")
    print(f"reference: {len(reference)} stages in {duration:.0f} s")
    identical = clean = 0
    for trial in range(args.trials):
        work = args.workdir / f"trial{trial}"
        kill = rng.choice([signal.SIGTERM, signal.SIGKILL])
        delay = rng.uniform(5, duration)
        job = subprocess.Popen(command(work), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        job.send_signal(kill)
        job.wait()
        done_before = len(digests(work / "cache"))
        run_to_end(work)
        same = digests(work / "cache") == reference
        left_running, left_staging = running_runs(work), len(list((work / "cache").glob("*/.*.tmp")))
        identical += same
        clean += left_running == 0 and left_staging == 0
        print(f"trial {trial}: {kill.name} at {delay:.0f} s ({done_before} stages done), resumed: "
              f"identical={same}, RUNNING runs left={left_running}, staging folders left={left_staging}")
    print(f"{identical}/{args.trials} resumes identical to the reference; {clean}/{args.trials} left nothing behind")


if __name__ == "__main__":
    main()
