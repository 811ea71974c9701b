#!/usr/bin/env bash
# Saves the model files the format-compatibility tests load, with the MLNetVae *package* of an older commit, as a
# user's app that referenced that version would have saved them:
#   bash scripts/compat/make-fixtures.sh <commit> <output folder>
# e.g. bash scripts/compat/make-fixtures.sh 2bd9316 tests/MLNetVae.Tests/TestData/compat/format1
# 1. The commit's tree is exported to a temporary folder (git archive) and its src/MLNetVae packed as
#    MLNetVae 0.0.0-compat.<commit> into a local feed.
# 2. A scratch console app outside any repository (scripts/compat/FixtureWriter.cs) references that package and the
#    native packages of that tree, trains a small VAE and detector on the shipped ODDS cardio set, saves them, and
#    writes the scores that version gave (vae.zip, detector.zip, vae-scores.tsv, detector-scores.tsv, SOURCE.txt).
# The tests then load those files with today's library (tests/MLNetVae.Tests/Persistence/ModelIntegrityTests.cs).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
commit=${1:?usage: make-fixtures.sh <commit> <output folder>}
mkdir -p "${2:?usage: make-fixtures.sh <commit> <output folder>}"
out=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
short=$(git -C "$repo" rev-parse --short=7 "$commit")
version="0.0.0-compat.$short"

mkdir -p "$work/tree" "$work/feed" "$work/app"
git -C "$repo" archive "$commit" | tar -x -C "$work/tree"
dotnet pack "$work/tree/src/MLNetVae" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet

# The native packages that tree tested with (their versions lived in Directory.Build.props, later Directory.Packages.props).
prop() {
  local f
  for f in "$work/tree/Directory.Packages.props" "$work/tree/Directory.Build.props"; do
    if [[ -f "$f" ]]; then sed -n "s:.*<$1>\\(.*\\)</$1>.*:\\1:p" "$f"; fi
  done | head -n 1
}
libtorch=$(prop LibTorchCpuVersion); ort=$(prop OnnxRuntimeGpuVersion)

# Empty props/targets: nothing above the scratch folder may shape this build (as for a user's own app).
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' > "$work/app/$f"; done
cat > "$work/app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="mlnetvae-compat-feed" value="$work/feed" />
  </packageSources>
</configuration>
XML
cat > "$work/app/FixtureWriter.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="MLNetVae" Version="$version" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="$libtorch" />
    <PackageReference Include="Microsoft.ML.OnnxRuntime.Gpu" Version="$ort" />
  </ItemGroup>
</Project>
XML
cp "$repo/scripts/compat/FixtureWriter.cs" "$work/app/Program.cs"
dotnet run -c Release --project "$work/app/FixtureWriter.csproj" -- \
  "$repo/tests/MLNetVae.Tests/TestData/odds/cardio.csv" "$out" "$commit (package MLNetVae $version)"
