#!/usr/bin/env bash
# The one test command (README and CI): installs what the tests need, then runs the whole suite: the unit tests,
# the integration tests and the notebooks.
#   bash scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Onnx]
# Only the fast unit tests (about a minute):  dotnet test tests/MLNetVae.Tests -c Release
#
# Tests run in Release. The packaging tests (tests/MLNetVae.IntegrationTests/Packaging) run their own
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
# A TRX file per project as well, to print the plain closing line "N passed, N failed, N skipped".
# The fast unit tests (tests/MLNetVae.Tests, classes in parallel) first, then the integration tests
# (tests/MLNetVae.IntegrationTests: processes, packaging, real data, memory), one after the other so that
# the process and memory tests do not compete with the unit tests for the two cores.
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet build MLNetVae.sln -c Release || status=$?
if [[ $status -eq 0 ]]; then
  for project in tests/MLNetVae.Tests tests/MLNetVae.IntegrationTests; do
    name=$(basename "$project")
    dotnet test "$project" -c Release --no-build --logger "console;verbosity=normal" \
      --logger "trx;LogFileName=$name.trx" --results-directory "$results" "$@" || status=$?
  done
  # A container's CPU quota in one process: .NET sees 1 CPU, libtorch's own default would still take the host's.
  if [[ $# -eq 0 ]]; then
    DOTNET_PROCESSOR_COUNT=1 dotnet test tests/MLNetVae.Tests -c Release --no-build --logger "console;verbosity=normal" \
      --logger "trx;LogFileName=MLNetVae.Tests.OneCpu.trx" --results-directory "$results" \
      --filter "FullyQualifiedName~TheDefaultThreadCountIsCappedAtTheProcessorsTheProcessMayUse" || status=$?
  fi
fi

# The notebooks run headless too (dotnet-repl, ~1 min); a failing cell fails the run.
notebooks=0
bash scripts/run-notebooks.sh || notebooks=$?
[[ $notebooks -ne 0 && $status -eq 0 ]] && status=$notebooks

passed=0; failed=0; skipped=0
while IFS= read -r trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  count() { local n; n=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"); echo "${n:-0}"; }
  passed=$(( passed + $(count passed) )); failed=$(( failed + $(count failed) ))
  skipped=$(( skipped + $(count total) - $(count executed) ))
done < <(find "$results" -name '*.trx')
echo
[[ $notebooks -ne 0 ]] && failed=$(( failed + 1 ))  # the notebook run counts as one more test
[[ $status -ne 0 && $failed -eq 0 ]] && failed=1      # a build failure is a failure, even with no test run
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
