#!/usr/bin/env bash
# Mutation testing of the DSP core (`make mutation`): applies each mutant of tests/mutants.txt
# alone, rebuilds incrementally, runs the fast tests (each under a timeout) and restores the file;
# prints a table: mutant, killed by which test (or by the build), SURVIVED, or equivalent.
#
#   scripts/mutate.sh [--ci] [--build DIR] [--only N]
#
# --ci: only the mutants marked `ci: yes` (the sample CI runs). --only N: mutant N alone.
# The build folder (default build-mutation, CPU only, no benchmarks) is configured when missing.
# Exit 1 when a mutant that is not marked equivalent survives, or a mutant's text is not found
# exactly once (the list is stale).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=build-mutation
ci=0
only=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --ci) ci=1 ;;
    --build) build=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "mutate.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
jobs=$(nproc)
if [[ ! -f $build/build.ninja ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLACQUER_CUDA=OFF -DLACQUER_BENCHMARKS=OFF > /dev/null
fi
cmake --build "$build" -j "$jobs" > /dev/null

# The mutants: blocks of `key: value` lines separated by blank lines.
mapfile -t lines < tests/mutants.txt
files=() froms=() tos=() whys=() cis=() equivs=()
file="" from="" to="" why="" cimark="" equiv=""
flush() {
  if [[ -n $file ]]; then
    files+=("$file"); froms+=("$from"); tos+=("$to"); whys+=("$why"); cis+=("$cimark"); equivs+=("$equiv")
  fi
  file="" from="" to="" why="" cimark="" equiv=""
}
for line in "${lines[@]}" ""; do
  if [[ -z ${line// /} ]]; then flush; continue; fi
  [[ $line == \#* ]] && continue
  key=${line%%:*}
  value=${line#*:}
  value=${value#"${value%%[![:space:]]*}"}
  case $key in
    file) file=$value ;;
    from) from=$value ;;
    to) to=$value ;;
    why) why=$value ;;
    ci) cimark=$value ;;
    equivalent) equiv=$value ;;
  esac
done

backup=$(mktemp)
current=""
restore() {
  if [[ -n $current ]]; then
    cp "$backup" "$current"
    touch "$current"
    current=""
  fi
}
trap 'restore; rm -f "$backup"' EXIT INT TERM

echo "| # | file | mutant | why | result | seconds |"
echo "|---:|---|---|---|---|---:|"
status=0
start_all=$SECONDS
for i in "${!files[@]}"; do
  n=$((i + 1))
  [[ $only -ne 0 && $n -ne $only ]] && continue
  [[ $ci -eq 1 && ${cis[$i]} != yes ]] && continue
  f=${files[$i]}
  count=$(FROM="${froms[$i]}" perl -0ne '$c = () = /\Q$ENV{FROM}\E/g; print $c' "$f")
  if [[ $count -ne 1 ]]; then
    echo "| $n | $f | \`${tos[$i]}\` | ${whys[$i]} | STALE (text found $count times) | 0 |"
    status=1
    continue
  fi
  t0=$SECONDS
  cp "$f" "$backup"
  current=$f
  FROM="${froms[$i]}" TO="${tos[$i]}" perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$f"
  touch "$f"
  result=""
  if ! cmake --build "$build" -j "$jobs" > /tmp/lacquer-mutant-build.log 2>&1; then
    result="killed by the build"
  else
    # The fast tests, `gpu` ones included: without a GPU their `cuda` instances skip and their
    # `cuda-host` instances run the device render's code.
    log=$(ctest --test-dir "$build" -LE "slow|slurm|demo" -j "$jobs" --timeout 120 --stop-on-failure 2>&1 || true)
    failed=$( (grep -E '\*\*\*(Failed|Timeout|Exception)' <<< "$log" || true) | head -1 | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/')
    printf '%s\n' "$log" > "/tmp/lacquer-mutant-$n.log"
    if [[ -n $failed ]]; then
      result="killed by $failed"
    elif [[ -n ${equivs[$i]} ]]; then
      result="survived: equivalent (${equivs[$i]})"
    else
      result="SURVIVED"
      status=1
    fi
  fi
  restore
  echo "| $n | $f | \`${tos[$i]}\` | ${whys[$i]} | $result | $((SECONDS - t0)) |"
done
cmake --build "$build" -j "$jobs" > /dev/null  # the tree as it is
echo "mutate.sh: $((SECONDS - start_all)) s"
exit $status
