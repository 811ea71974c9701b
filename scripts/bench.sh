#!/usr/bin/env bash
# MLNetVae benchmarks: builds bench/MLNetVae.Benchmarks in Release once, runs the requested parts and
# writes bench/results/latest.json + latest.md (see docs/benchmarks.md).
#
#   scripts/bench.sh                  # all parts: train memory score latency scaling streaming contention precision
#   scripts/bench.sh train score      # only these
#
# Environment:
#   ROUNDS=3        interleaved training rounds (each: one MLNetVae process and one PyTorch process)
#   SCALE_ROWS="10000 100000 1000000"  training sizes of the scaling part (one fresh process each)
#   SCALE_BATCHES="1 2 4 ... 4096"     rows per ONNX Runtime call compared in the scaling part
#   STREAM_ROWS=1000000  rows of the streaming part's in-memory vs streamed pair (one fresh process each)
#   STREAM_BUDGET=268435456  MaxInMemoryTrainingBytes of the streamed run (256 MiB)
#   STREAM_FILE_ROWS=    rows of an ML.NET binary file to train one epoch on, streamed (e.g. 10000000: 29 GiB, more
#                        than this machine's memory; written once to STREAM_FILE and reused; empty: skipped)
#   STREAM_FILE=${TMPDIR:-/tmp}/mlnetvae-stream-ROWS.idv
#   TRAIN_ROWS=50000  training rows for both sides (smaller only for a quick check of the script)
#   BDN=1           also run BenchmarkDotNet in the latency part (0 to skip, saves ~1 min)
#   PYTHON=/usr/bin/python3   interpreter with torch for the PyTorch reference
#   PERF_PY=...     path of the reference perf.py (default: ../shared/reference/perf.py beside the repo)
#   NO_BUILD=1      reuse the existing Release build
#   REPORT_OUT=bench/results/latest   summary path prefix (.json and .md are added)
#   RUNS_DIR=bench/results/runs       where each run's raw data folder is created
#   EXTRA_TRAIN_ARGS / EXTRA_SCORE_ARGS / ... extra arguments for a part
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROJECT=bench/MLNetVae.Benchmarks/MLNetVae.Benchmarks.csproj
BIN=bench/MLNetVae.Benchmarks/bin/Release/net10.0/MLNetVae.Benchmarks
ROUNDS="${ROUNDS:-3}"
TRAIN_ROWS="${TRAIN_ROWS:-50000}"
BDN="${BDN:-1}"
PYTHON="${PYTHON:-/usr/bin/python3}"
PERF_PY="${PERF_PY:-$ROOT/../shared/reference/perf.py}"

SCALE_ROWS="${SCALE_ROWS:-10000 100000 1000000}"
SCALE_BATCHES="${SCALE_BATCHES:-1 2 4 8 16 32 64 128 256 512 1024 2048 4096}"

PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(train memory score latency scaling streaming contention precision)
for p in "${PARTS[@]}"; do
  case "$p" in train|memory|score|latency|scaling|streaming|contention|precision) ;; *) echo "unknown part '$p' (train, memory, score, latency, scaling, streaming, contention, precision)" >&2; exit 2 ;; esac
done

# The PyTorch reference needs python3 with torch and numpy: Debian packages them (python3-torch is 1.13), and OpenBLAS:
# python3-torch only needs *a* libblas.so.3, and with Debian's reference BLAS alone (what apt picks on a bare machine)
# the reference trains ~40x slower (360 samples/s), which is not the comparison FINDINGS.md and perf.py describe.
# The OpenMP build of OpenBLAS shares torch's OpenMP threads (the pthread build adds its own pool: 4 threads spinning on
# 2 cores, 4,000 instead of 12,400 samples/s); pytorch_env below points the reference at it.
# Install them when missing and this user may (root with apt); otherwise training is measured without the comparison.
ensure_pytorch() {
  local need=()
  "$PYTHON" -c 'import torch, numpy' 2>/dev/null || need+=(python3-torch python3-numpy)
  dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing the PyTorch reference's Debian packages (${need[*]})"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; } \
      || echo "!! could not install ${need[*]}" >&2
  fi
  "$PYTHON" -c 'import torch, numpy'
}

# The PyTorch reference's default variant leaves OMP_WAIT_POLICY unset; do the same for both sides.
unset OMP_WAIT_POLICY

if [ "${NO_BUILD:-0}" != 1 ]; then
  echo "== building $PROJECT (Release)"
  dotnet build -c Release "$PROJECT" -nologo -v quiet
fi

RUN_DIR="${RUNS_DIR:-bench/results/runs}/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
RESULTS="$RUN_DIR/results.jsonl"
START=$(date +%s)
echo "== run folder: $RUN_DIR"
echo "== machine: $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

run_cs() { # part args...
  local part=$1; shift
  "$BIN" "$part" --results "$RESULTS" "$@" 2>&1 | tee -a "$RUN_DIR/$part.log"
}

# The PyTorch reference's best BLAS setting on this machine, as `env` arguments (also written to the run folder):
# - the OpenMP build of OpenBLAS, through LD_LIBRARY_PATH (no change to the system's alternatives);
# - OPENBLAS_CORETYPE when OpenBLAS does not know the CPU: 0.3.21 takes a Xeon of family 6 model 207 for a Prescott
#   (SSE3 kernels, 8x slower); the closest kernels it has are chosen from the CPU flags (AVX-512 -> SkylakeX).
pytorch_env() {
  local vars=()
  local openmp=/usr/lib/x86_64-linux-gnu/openblas-openmp
  [ -e "$openmp/libopenblas.so.0" ] && vars+=("LD_LIBRARY_PATH=$openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  if [ -z "${OPENBLAS_CORETYPE:-}" ] && env "${vars[@]}" OPENBLAS_VERBOSE=2 "$PYTHON" -c 'import torch' 2>&1 | grep -q 'Core: Prescott'; then
    if grep -q avx512f /proc/cpuinfo; then vars+=(OPENBLAS_CORETYPE=SKYLAKEX); elif grep -q avx2 /proc/cpuinfo; then vars+=(OPENBLAS_CORETYPE=HASWELL); fi
  fi
  printf '%s\n' "${vars[@]}"
}

run_py() { # round
  local round=$1
  local vars=()
  mapfile -t vars < <(pytorch_env)
  echo "-- PyTorch reference, round $round: ${vars[*]} $PYTHON $PERF_PY --single --threads 2 --reps 1"
  printf '%s\n' "${vars[@]}" > "$RUN_DIR/pytorch-env.txt"
  # Inference is part of perf.py's single run but not compared here: keep it short.
  env "${vars[@]}" "$PYTHON" "$PERF_PY" --single --threads 2 --reps 1 --n "$TRAIN_ROWS" --batch 256 --epochs 2 --warmup-steps 20 \
      --n-infer 10240 > "$RUN_DIR/pytorch-$round.out" 2>> "$RUN_DIR/pytorch.log"
  tail -n 1 "$RUN_DIR/pytorch-$round.out" > "$RUN_DIR/pytorch-$round.json"
  "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("   PyTorch %s: %.0f samples/s (torch %s)" % (sys.argv[2], r["train_samples_per_s_median"], r["env"].get("torch", "?")))' \
      "$RUN_DIR/pytorch-$round.json" "$round"
}

# The machine's limit, once per run: every throughput in the report is also a share of it.
echo "== peak: float32 GEMM"
run_cs peak

for part in "${PARTS[@]}"; do
  case "$part" in
    train)
      have_py=1
      if [ ! -f "$PERF_PY" ]; then
        echo "!! PyTorch reference not found at $PERF_PY (set PERF_PY): training is measured without the comparison" | tee -a "$RUN_DIR/train.log"
        have_py=0
      elif ! ensure_pytorch || ! "$PYTHON" -c 'import torch' 2>/dev/null; then
        echo "!! $PYTHON cannot import torch (set PYTHON): training is measured without the comparison" | tee -a "$RUN_DIR/train.log"
        have_py=0
      fi
      # Fresh processes, interleaved; the order alternates (C# Py, Py C#, ...) so a slow drift of the
      # shared machine's load hits both sides of a round alike.
      for ((r = 1; r <= ROUNDS; r++)); do
        echo "== train round $r/$ROUNDS"
        if (( r % 2 == 1 )) || [ $have_py = 0 ]; then
          run_cs train --reps 1 --round "$r" --rows "$TRAIN_ROWS" ${EXTRA_TRAIN_ARGS:-}
          [ $have_py = 1 ] && run_py "$r"
        else
          run_py "$r"
          run_cs train --reps 1 --round "$r" --rows "$TRAIN_ROWS" ${EXTRA_TRAIN_ARGS:-}
        fi
      done
      ;;
    memory)
      echo "== memory"
      run_cs memory ${EXTRA_MEMORY_ARGS:-}
      ;;
    score)
      echo "== score"
      run_cs score ${EXTRA_SCORE_ARGS:-}
      ;;
    scaling)
      # Each training size in a fresh process, so every peak is that size's alone.
      for rows in $SCALE_ROWS; do
        echo "== scaling: training on $rows rows"
        run_cs scale-train --rows "$rows" ${EXTRA_SCALE_TRAIN_ARGS:-}
      done
      echo "== scaling: scoring by batch size, scoring memory"
      # shellcheck disable=SC2086
      run_cs scale-score --batches $SCALE_BATCHES --memory-rows $SCALE_ROWS ${EXTRA_SCALE_SCORE_ARGS:-}
      ;;
    streaming)
      STREAM_ROWS="${STREAM_ROWS:-1000000}"
      STREAM_BUDGET="${STREAM_BUDGET:-268435456}"
      # The same rows in memory (a budget far above them) and streamed through the budget, each in a fresh process.
      echo "== streaming: $STREAM_ROWS rows in memory"
      run_cs scale-train --rows "$STREAM_ROWS" --max-in-memory-bytes 1099511627776 ${EXTRA_STREAM_ARGS:-}
      echo "== streaming: $STREAM_ROWS rows streamed through $STREAM_BUDGET bytes"
      run_cs scale-train --rows "$STREAM_ROWS" --max-in-memory-bytes "$STREAM_BUDGET" ${EXTRA_STREAM_ARGS:-}
      if [ -n "${STREAM_FILE_ROWS:-}" ]; then
        file="${STREAM_FILE:-${TMPDIR:-/tmp}/mlnetvae-stream-$STREAM_FILE_ROWS.idv}"
        echo "== streaming: one epoch on $STREAM_FILE_ROWS rows from $file (written first if missing; delete it afterwards)"
        run_cs scale-train --rows "$STREAM_FILE_ROWS" --source-file "$file" --max-in-memory-bytes "$STREAM_BUDGET" ${EXTRA_STREAM_ARGS:-}
      fi
      ;;
    contention)
      # Default threads vs one, idle and with every core busy; once with the default ONNX Runtime threads, once with one.
      echo "== contention: default ONNX Runtime threads"
      run_cs contention ${EXTRA_CONTENTION_ARGS:-}
      echo "== contention: MLNETVAE_ORT_THREADS=1"
      MLNETVAE_ORT_THREADS=1 run_cs contention ${EXTRA_CONTENTION_ARGS:-}
      ;;
    precision)
      echo "== precision: int8 vs float32 scoring"
      run_cs precision ${EXTRA_PRECISION_ARGS:-}
      ;;
    latency)
      echo "== latency"
      if [ "$BDN" = 1 ]; then run_cs latency --bdn ${EXTRA_LATENCY_ARGS:-}; else run_cs latency ${EXTRA_LATENCY_ARGS:-}; fi
      ;;
  esac
done

echo "== summary ($(( $(date +%s) - START ))s; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN" report --run-dir "$RUN_DIR" --out "${REPORT_OUT:-bench/results/latest}"
