#!/usr/bin/env bash
# The detector's evaluation on the shared data sets (docs/evaluation.md), with its anchors: installs Debian's
# python3-sklearn when it is missing and this user may (root with apt), then runs eval/MLNetVae.Evaluation with the
# given arguments, e.g.  scripts/evaluate.sh --markdown docs/evaluation-table.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${MLNETVAE_PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -c 'import sklearn, numpy' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing python3-sklearn (the IsolationForest anchor)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-sklearn >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-sklearn >/dev/null; } \
      || echo "!! could not install python3-sklearn: the table will have no IsolationForest column" >&2
  else
    echo "!! $PYTHON has no scikit-learn (apt-get install python3-sklearn as root): the table will have no IsolationForest column" >&2
  fi
fi
exec dotnet run -c Release --project "$ROOT/eval/MLNetVae.Evaluation" -- "$@"
