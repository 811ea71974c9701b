#!/usr/bin/env bash
# The one test command (README and CI): installs what the tests need, then runs the whole suite.
#   bash scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Onnx]
#
# Tests run in Release. The packaging tests (tests/MLNetVae.Tests/Packaging) run their own
# `dotnet pack -c Release` of src/MLNetVae, but with --artifacts-path in a temporary folder, so that
# pack never touches the src/MLNetVae/bin|obj outputs of this build (see PackedMLNetVae).
set -euo pipefail
cd "$(dirname "$0")/.."

warn() { printf 'scripts/test.sh: WARNING: %s\n' "$*" >&2; }

# The ONNX checker test runs the reference checker with /usr/bin/python3 (Debian: python3-onnx).
if ! /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: installing python3-onnx (ONNX checker test)"
    export DEBIAN_FRONTEND=noninteractive
    # Try with the current package lists first; refresh them only if that fails.
    if ! apt-get install -y --no-install-recommends python3-onnx; then
      apt-get update && apt-get install -y --no-install-recommends python3-onnx \
        || warn "could not install python3-onnx; the ONNX checker test will fail."
    fi
  else
    warn "/usr/bin/python3 cannot import onnx and this is not root with apt-get;" \
         "install python3-onnx (apt-get install python3-onnx), or the ONNX checker test will fail."
  fi
fi

# Console logger at normal verbosity: one line per test with its duration, then the totals.
# A TRX file as well, to print the plain closing line "N passed, N failed, N skipped".
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet test MLNetVae.sln -c Release --logger "console;verbosity=normal" \
  --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@" || status=$?

# The notebooks run headless too (dotnet-repl, ~1 min); a failing cell fails the run.
notebooks=0
bash scripts/run-notebooks.sh || notebooks=$?
[[ $notebooks -ne 0 && $status -eq 0 ]] && status=$notebooks

trx=$(find "$results" -name '*.trx' | head -n 1)
if [[ -n "$trx" ]]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  count() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$(count passed); failed=$(count failed); total=$(count total); executed=$(count executed)
  echo
  [[ $notebooks -ne 0 ]] && failed=$(( ${failed:-0} + 1 ))  # the notebook run counts as one more test
  echo "${passed:-0} passed, ${failed:-0} failed, $(( ${total:-0} - ${executed:-0} )) skipped"
fi
exit "$status"
