#!/usr/bin/env bash
# GPU check: CUDA training and testing on the synthetic config through tools/dist_train.sh /
# dist_test.sh (1 GPU, AMP fp16), the CUDA metrics against a CPU test of the same checkpoint,
# and the speed table of S/M/L-R50 and L-H64 (eager and torch.compile) against the goal of
# 10x the paper's V100 frames per second. About 8 minutes on one GPU. See docs/benchmarks.md.
#
#   bash tools/analysis/gpu_check.sh [WORK_DIR]           # default work_dirs/gpu_check
#   DEVICE=cpu bash tools/analysis/gpu_check.sh WORK_DIR  # dry run: the same steps, tiny, on CPU
#
# Environment: PYTHON (default python), DEVICE (cuda | cpu), SYNTHETIC_DIR (reuse a folder of
# tools/make_synthetic_models.py files instead of writing them), TOL_MM (largest CUDA - CPU
# metric difference, default 0.05 mm), ITERS / BATCH / NUM_TRAIN (training length),
# SPEED_SETTINGS (see below), SKIP_STEPS (step names to leave out, e.g. 'speed-table'), PORT.
# Every step runs even if an earlier one failed, unless it needs that one's result; the
# summary at the end names each step's outcome and the exit status is 1 if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK=$(mkdir -p "${1:-work_dirs/gpu_check}" && cd "${1:-work_dirs/gpu_check}" && pwd)
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
TOL_MM=${TOL_MM:-0.05}
CONFIG="$ROOT/configs/fastmetro_s_r50_synthetic.py"
export PYTHON OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
# A free port unless given: two jobs on one node must not both take dist_*.sh's 29500.
FREE_PORT='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
export PORT=${PORT:-$("$PYTHON" -c "$FREE_PORT")}

case "$DEVICE" in
cuda)  # a few hundred iterations, AMP fp16 (mmengine's AmpOptimWrapper), full speed table
    NUM_TRAIN=${NUM_TRAIN:-512}; NUM_TEST=64; IMAGE=160; BATCH=${BATCH:-32}; ITERS=${ITERS:-300}
    WORKERS=8
    # tools/train.py --amp: AmpOptimWrapper (fp16), dynamic loss scale from 2**8, skipped
    # steps logged by LossScaleMonitorHook (docs/mixed_precision.md).
    TRAIN_PRECISION=(--amp)
    # SPEED_SETTINGS: MODE:DTYPE pairs of tools/analysis/speed_goal.py (compiling takes most
    # of this step's time).
    SPEED=(--device cuda --settings ${SPEED_SETTINGS:-eager:fp32 eager:bf16 compile:bf16})
    ;;
cpu)  # dry run: every step, tiny; AmpOptimWrapper needs a GPU, so fp32 training
    NUM_TRAIN=${NUM_TRAIN:-4}; NUM_TEST=4; IMAGE=96; BATCH=${BATCH:-2}; ITERS=${ITERS:-2}
    WORKERS=0
    TRAIN_PRECISION=()
    SPEED=(--device cpu --configs "$CONFIG" --settings eager:fp32 --batch-sizes 1 2
           --warmup 0 --repeats 1 --input-size 64 64)
    ;;
*) echo "gpu_check: DEVICE must be cuda or cpu, got '$DEVICE'" >&2; exit 2 ;;
esac
EPOCHS=$(( (ITERS * BATCH + NUM_TRAIN - 1) / NUM_TRAIN ))  # whole epochs of NUM_TRAIN images
LOADERS=("train_dataloader.batch_size=$BATCH" "train_dataloader.num_workers=$WORKERS"
         "test_dataloader.num_workers=$WORKERS" "val_dataloader.num_workers=$WORKERS")
if [ "$WORKERS" = 0 ]; then
    LOADERS+=(train_dataloader.persistent_workers=False test_dataloader.persistent_workers=False
              val_dataloader.persistent_workers=False)
fi

cd "$WORK"  # the config's relative paths (data/synthetic, data/synthetic_dataset) start here
exec > >(tee -a "$WORK/gpu_check.log") 2>&1
SUMMARY=()
FAILED=()
STEPS=0

# run_step NAME 'NEEDS...' COMMAND...: runs COMMAND in a subshell with errexit on (so any
# failing command inside fails the step) unless a step it needs failed; records ok / FAIL /
# skipped with the time taken. Step names are single words.
run_step() {
    local name=$1 needs=$2 need
    shift 2
    STEPS=$((STEPS + 1))
    echo
    echo "=== [$STEPS] $name: $*"
    if [[ " ${SKIP_STEPS:-} " == *" $name "* ]]; then
        SUMMARY+=("skipped  $name (SKIP_STEPS)")
        return 0
    fi
    for need in $needs; do
        if [[ " ${FAILED[*]:-} " == *" $need "* ]]; then
            SUMMARY+=("skipped  $name (needs $need, which failed)")
            FAILED+=("$name")
            return 0
        fi
    done
    local start=$SECONDS rc=0
    set +e
    (set -euo pipefail; "$@")
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then
        SUMMARY+=("ok       $name ($((SECONDS - start)) s)")
    else
        SUMMARY+=("FAIL     $name (exit $rc after $((SECONDS - start)) s)")
        FAILED+=("$name")
    fi
}

environment() {
    "$PYTHON" - "$DEVICE" <<'EOF'
import sys
import torch
print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN '
      f'{torch.backends.cudnn.version()}, {torch.get_num_threads()} CPU threads')
if sys.argv[1] == 'cuda':
    if not torch.cuda.is_available():
        sys.exit('gpu_check: DEVICE=cuda but torch sees no CUDA device')
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        print(f'GPU {index}: {props.name}, {props.total_memory / 2**30:.0f} GiB, '
              f'capability {props.major}.{props.minor}')
EOF
}

synthetic_models() {
    mkdir -p data
    if [ -n "${SYNTHETIC_DIR:-}" ]; then
        ln -sfn "$SYNTHETIC_DIR" data/synthetic
    elif [ ! -f data/synthetic/SMPL_NEUTRAL.pkl ]; then
        "$PYTHON" "$ROOT/tools/make_synthetic_models.py" --out-dir data/synthetic --only smpl
    fi
    ls data/synthetic/
}

synthetic_dataset() {
    "$PYTHON" "$ROOT/tools/dataset_converters/make_synthetic.py" --model-dir data/synthetic \
        --out-dir data/synthetic_dataset --num-train "$NUM_TRAIN" --num-test "$NUM_TEST" \
        --image-size "$IMAGE" "$IMAGE" --seed 1 --overwrite
}

train() {
    rm -rf train
    bash "$ROOT/tools/dist_train.sh" "$CONFIG" 1 --work-dir train --no-validate \
        --cfg-options "train_cfg.max_epochs=$EPOCHS" "default_hooks.checkpoint.interval=$EPOCHS" \
        default_hooks.logger.interval=10 "${LOADERS[@]}" \
        ${TRAIN_PRECISION[@]+"${TRAIN_PRECISION[@]}"}
    test -f "train/epoch_$EPOCHS.pth"
    # The logged losses: finite at the end, and how many steps AMP skipped (loss scale).
    "$PYTHON" - train <<'EOF'
import glob, json, math, sys
logs = sorted(glob.glob(f'{sys.argv[1]}/*/vis_data/scalars.json'))
if not logs:
    sys.exit(f'gpu_check: no scalars.json under {sys.argv[1]}')
records = [json.loads(line) for line in open(logs[-1]) if '"loss"' in line]
if not records:
    sys.exit(f'gpu_check: {logs[-1]} logs no loss')
first, last = records[0], records[-1]
print(f'iterations logged {first["iter"]}..{last["iter"]}: loss {first["loss"]:.4g} -> '
      f'{last["loss"]:.4g}')
if 'loss_scale' in last:
    print(f'fp16 loss scale at the end {last["loss_scale"]:g}, optimizer steps skipped '
          f'for inf/NaN gradients: {last.get("amp_skipped_steps", 0):g}')
if not math.isfinite(last['loss']):
    sys.exit(f'gpu_check: the last logged loss is {last["loss"]}')
EOF
}

test_device() {
    # NVIDIA_TF32_OVERRIDE=0: no TF32 in cuBLAS / cuDNN, so fp32 on the GPU is comparable
    # with the CPU to float32 rounding.
    NVIDIA_TF32_OVERRIDE=0 bash "$ROOT/tools/dist_test.sh" "$CONFIG" "train/epoch_$EPOCHS.pth" 1 \
        --work-dir test_device --out metrics_device.json --cfg-options "${LOADERS[@]}"
}

test_cpu() {
    CUDA_VISIBLE_DEVICES= "$PYTHON" "$ROOT/tools/test.py" "$CONFIG" "train/epoch_$EPOCHS.pth" \
        --work-dir test_cpu --out metrics_cpu.json --cfg-options "${LOADERS[@]}"
}

compare_metrics() {
    "$PYTHON" - metrics_device.json metrics_cpu.json "$TOL_MM" "$DEVICE" <<'EOF'
import json, sys
device, cpu = (json.load(open(path)) for path in sys.argv[1:3])
tolerance, name = float(sys.argv[3]), sys.argv[4]
keys = sorted(k for k in cpu if not k.endswith('_count') and isinstance(cpu[k], (int, float)))
if not keys or set(keys) - set(device):
    sys.exit(f'gpu_check: metric names differ: {sorted(device)} vs {sorted(cpu)}')
print(f'{"metric":<16}{name:>12}{"cpu":>12}{"|diff|":>12}  tolerance {tolerance} mm')
worst = 0.0
for key in keys:
    diff = abs(device[key] - cpu[key])
    worst = max(worst, diff)
    print(f'{key:<16}{device[key]:>12.4f}{cpu[key]:>12.4f}{diff:>12.2e}')
if worst > tolerance:
    sys.exit(f'gpu_check: {name} and CPU metrics differ by up to {worst:.3g} mm '
             f'(> {tolerance} mm)')
EOF
}

speed_table() {
    "$PYTHON" "$ROOT/tools/analysis/speed_goal.py" --synthetic-dir data/synthetic "${SPEED[@]}"
}

run_step environment '' environment
run_step synthetic-models '' synthetic_models
run_step synthetic-dataset 'synthetic-models' synthetic_dataset
echo "training: $EPOCHS epochs of $NUM_TRAIN images, batch $BATCH (about $ITERS iterations)"
run_step train 'synthetic-dataset' train
run_step dist-test-$DEVICE 'train' test_device
run_step test-cpu 'train' test_cpu
run_step compare-metrics "dist-test-$DEVICE test-cpu" compare_metrics
run_step speed-table 'synthetic-models' speed_table

echo
echo "=== gpu_check summary ($DEVICE, $WORK)"
printf '  %s\n' "${SUMMARY[@]}"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "gpu_check: FAILED (${#FAILED[@]} of $STEPS steps)"
    exit 1
fi
echo "gpu_check: all $STEPS steps ok"
