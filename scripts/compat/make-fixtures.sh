#!/usr/bin/env bash
# Saves the model files the format-compatibility tests load, with the MLNetVae of an older commit:
#   bash scripts/compat/make-fixtures.sh <commit> <output folder>
# e.g. bash scripts/compat/make-fixtures.sh 2bd9316 tests/MLNetVae.Tests/TestData/compat/format1
# The commit's tree is exported to a temporary folder (git archive), this folder's FixtureWriter is built inside it
# against that commit's src/MLNetVae, and it writes vae.zip, detector.zip and the scores that version gave
# (vae-scores.tsv, detector-scores.tsv) for the first 200 rows of the shipped ODDS cardio set.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
commit=${1:?usage: make-fixtures.sh <commit> <output folder>}
mkdir -p "${2:?usage: make-fixtures.sh <commit> <output folder>}"
out=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git -C "$repo" archive "$commit" | tar -x -C "$work"
mkdir -p "$work/compat"
cp "$repo/scripts/compat/FixtureWriter.cs" "$work/compat/Program.cs"
# Trees with central package management (Directory.Packages.props) take no versions in the project; older ones do.
if [[ -f "$work/Directory.Packages.props" ]]; then versions=(); else
  versions=(' Version="$(LibTorchCpuVersion)"' ' Version="$(OnnxRuntimeGpuVersion)"'); fi
cat > "$work/compat/FixtureWriter.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <IsPackable>false</IsPackable>
    <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="../src/MLNetVae/MLNetVae.csproj" />
    <PackageReference Include="libtorch-cpu-linux-x64"${versions[0]:-} />
    <PackageReference Include="Microsoft.ML.OnnxRuntime.Gpu"${versions[1]:-} />
  </ItemGroup>
</Project>
PROJ
dotnet run -c Release --project "$work/compat/FixtureWriter.csproj" -- \
  "$repo/tests/MLNetVae.Tests/TestData/odds/cardio.csv" "$out" "$commit"
