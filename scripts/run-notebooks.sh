#!/usr/bin/env bash
# Runs the .NET Interactive notebooks in notebooks/ headless and fails when any cell fails.
#   bash scripts/run-notebooks.sh [notebook.ipynb ...]     (default: every notebooks/*.ipynb)
#
# 1. Installs dotnet-repl into .tools/ (a local tool path, not a global tool).
# 2. Packs the library into notebooks/.feed as MLNetVae 0.1.0-local, the version the notebooks reference with
#    #r "nuget: MLNetVae, 0.1.0-local" (plus the native packages of the README's install section), and removes that
#    version from the NuGet global packages folder first, so a notebook never gets the package of an earlier run.
#    Intermediate files go to notebooks/.build, so this never touches the bin/obj folders of a normal build.
# 3. Runs each notebook with dotnet-repl from notebooks/ (the notebooks use paths relative to it) and writes the
#    executed copy to notebooks/.out/. dotnet-repl exits non-zero when a cell fails; the executed copy is also checked
#    for error outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

repl_version=0.3.259
tools="$repo/.tools"
if ! dotnet tool list --tool-path "$tools" 2>/dev/null | grep -qE "^dotnet-repl +$repl_version( |$)"; then
  echo "run-notebooks: installing dotnet-repl $repl_version into .tools/"
  dotnet tool uninstall --tool-path "$tools" dotnet-repl >/dev/null 2>&1 || true
  dotnet tool install --tool-path "$tools" dotnet-repl --version "$repl_version"
fi

version=0.1.0-local
echo "run-notebooks: packing MLNetVae $version into notebooks/.feed"
rm -rf notebooks/.feed
dotnet pack src/MLNetVae -c Release -o notebooks/.feed --artifacts-path notebooks/.build -p:Version=$version -nologo -v quiet
packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
rm -rf "$packages/mlnetvae/$version"
# The notebooks' package restore is an MSBuild restore of a generated project: MSBuild reads this environment variable
# as a property, so the local feed is a source without any #i line or change to the user's NuGet configuration.
export RestoreAdditionalProjectSources="$repo/notebooks/.feed"

if [[ $# -gt 0 ]]; then
  notebooks=("$@")
else
  notebooks=(notebooks/*.ipynb)
fi

mkdir -p notebooks/.out
# Elapsed seconds with one decimal since a `date +%s%N` stamp (no bc needed).
elapsed() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100)); }

failed=0
total_start=$(date +%s%N)
for path in "${notebooks[@]}"; do
  name=$(basename "$path")
  start=$(date +%s%N)
  status=0
  # dotnet-repl 0.3.259 targets net10.0; DOTNET_ROLL_FORWARD=Major keeps it running where only a newer runtime is
  # installed. No stdin: it must never wait for input.
  (cd notebooks && DOTNET_ROLL_FORWARD=Major timeout 600 "$tools/dotnet-repl" --run "$name" --exit-after-run \
      --output-path ".out/$name" </dev/null >".out/${name%.ipynb}.log" 2>&1) || status=$?
  seconds=$(elapsed "$start")
  if [[ $status -eq 0 ]] && grep -q '"output_type": "error"' "notebooks/.out/$name"; then
    status=1 # a cell failed but the exit code did not say so
  fi
  if [[ $status -eq 0 ]]; then
    printf 'run-notebooks: %-36s passed in %s s\n' "$name" "$seconds"
  else
    failed=$((failed + 1))
    printf 'run-notebooks: %-36s FAILED (exit %d) after %s s; executed copy: notebooks/.out/%s\n' "$name" "$status" "$seconds" "$name"
    # The failing cells' errors, as dotnet-repl recorded them.
    python3 - "notebooks/.out/$name" <<'PY' || tail -n 20 "notebooks/.out/${name%.ipynb}.log"
import json, sys
notebook = json.load(open(sys.argv[1]))
for number, cell in enumerate(notebook["cells"], 1):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            print(f"  cell {number}: {output.get('evalue', '').splitlines()[0] if output.get('evalue') else output}")
PY
  fi
done
printf 'run-notebooks: %d notebook(s), %d failed, %s s in all\n' "${#notebooks[@]}" "$failed" "$(elapsed "$total_start")"
[[ $failed -eq 0 ]]
