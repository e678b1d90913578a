"""Wall time of ``python run.py`` and of the six-variant sandbox sweep, with each stage's share.

    python benchmarks/pipeline_wall_time.py                   # python run.py from an empty cache
    python benchmarks/pipeline_wall_time.py --model-cached    # the same, sandbox model copied in
    python benchmarks/pipeline_wall_time.py --sweep           # the six-variant sweep, model copied in
    python benchmarks/pipeline_wall_time.py --sweep --empty-cache   # the sweep, building the model too
    ... --keep runs/wall                                      # keep the work folder (metrics in runs/wall/mlflow.db)

Each command runs in a fresh work folder (cache, MLflow store, Hydra output), so nothing is reused
but what ``--model-cached`` copies: the sandbox model from ``.cache/int-exp`` (build it once with
``python run.py stages=[model]``). Printed: the wall time, then every stage's seconds summed over
the jobs, from the runner's ``stage <name>: computed in <s>s`` lines. Run it on quiet cores: a
second heavy process slows both.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["-m", "experiment=sandbox", "variant=base,rl_only,int,int_no_prefix,int_with_suffix,sft_ref"]
STAGE_LINE = re.compile(r"stage (\w+): computed in ([0-9.]+)s")


def copy_sandbox_model(cache: Path) -> None:
    """The cached sandbox model entry (the ``model`` stage's, keyed by its settings) into ``cache``."""
    from sampling_speed import CACHE, cached_model  # benchmarks/ is on the path of its scripts

    found = cached_model("builtin:sandbox")
    if found is None:
        sys.exit(f"no sandbox model in {CACHE}: build it first with `python run.py stages=[model]`")
    shutil.copytree(found.parent, cache / "model" / found.parent.name)


def timed(args: list[str], work: Path, log_file: Path | None) -> tuple[float, dict[str, float], int]:
    """Run ``run.py args`` with its cache and store under ``work``: seconds, stage seconds, jobs."""
    command = [sys.executable, "run.py", *args, f"paths.cache_dir={work / 'cache'}",
               f"tracking.uri=sqlite:///{work / 'mlflow.db'}", f"tracking.artifact_root={work / 'artifacts'}",
               f"hydra.run.dir={work / 'run'}", f"hydra.sweep.dir={work / 'sweep'}"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stages: dict[str, float] = defaultdict(float)
    log = proc.stdout + proc.stderr
    if log_file is not None:
        log_file.write_text(log)
    for name, value in STAGE_LINE.findall(log):
        stages[name] += float(value)
    return seconds, dict(stages), max(1, log.count("MLflow: "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-cached", action="store_true", help="copy the cached sandbox model in first")
    parser.add_argument("--sweep", action="store_true", help="the six-variant sandbox sweep (model cached)")
    parser.add_argument("--empty-cache", action="store_true", help="with --sweep: build the sandbox model too")
    parser.add_argument("--log", type=Path, help="write the command's whole output here")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (its MLflow store has the metrics)")
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists():
        sys.exit(f"--keep {args.keep}: the folder exists; give a new one")
    with tempfile.TemporaryDirectory(prefix="int-exp-wall-") as folder:
        work = args.keep.resolve() if args.keep is not None else Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        cached = args.model_cached or (args.sweep and not args.empty_cache)
        if cached:
            copy_sandbox_model(work / "cache")
        what = SWEEP if args.sweep else []
        seconds, stages, jobs = timed(what, work, args.log)
    label = "python run.py " + " ".join(what) if what else "python run.py"
    state = " (sandbox model cached)" if cached else " (empty cache)"
    minutes, rest = divmod(round(seconds), 60)  # (before 2026-12-02 the minutes were rounded, not floored)
    print(f"{label}{state}: {minutes} min {rest:02d} s ({seconds:.0f} s), {jobs} job(s)")
    for name, value in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"  {name:20s} {value:7.1f} s")
    outside = seconds - sum(stages.values())
    if outside >= 0:
        print(f"  {'(outside stages)':20s} {outside:7.1f} s  start-up, imports, MLflow logging")
    else:  # jobs ran side by side (the sandbox's sweeps run two at a time)
        print(f"  stage seconds summed over jobs that ran side by side: {sum(stages.values()):.0f} s in {seconds:.0f} s")


if __name__ == "__main__":
    main()
