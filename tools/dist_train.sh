#!/usr/bin/env bash
# Distributed training with torchrun: one process per GPU (or per CPU process on machines
# without GPUs, where tools/train.py uses gloo).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT (defaults 1, 0, 127.0.0.1, and on one node a
# free port, so that two jobs on one machine do not collide; several nodes need PORT set);
# PYTHON selects the interpreter (default python).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROCS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
if [ -z "${PORT:-}" ]; then
    if [ "$NNODES" != 1 ]; then
        echo "$0: set PORT (the same free port on every node) for a $NNODES-node job" >&2
        exit 2
    fi
    # The OS hands out a port nobody listens on; torchrun binds it a moment later.
    PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROCS" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
