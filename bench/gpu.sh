#!/usr/bin/env bash
# The GPU checks of sg3 in one call of a GPU machine that has no network (the workplace's `device` tool).
#
#   bash bench/gpu.sh prep [inception|sg3|none]   here, once: fills the git-ignored .gpu/ (see below)
#   bash bench/gpu.sh                             there: run(command="bash bench/gpu.sh", carry=[".gpu"],
#                                                 timeout_s=590); everything lands in $OUT
#
# prep runs ../shared/tools/device-prep.sh (Vulkan loader, Deno, env.sh), then replaces its module cache with
# the npm packages the programs below import (15 MB instead of the 44 MB of deno.json's whole lock file, whose
# browser driver only the viewer's tests need: the device carries at most 64 MiB) and packs one golden-fixture
# folder (xz): `inception` (7 MB, the default) or `sg3` (18 MB; with it the call carries ~63 MiB, just under the
# limit); both do not fit.
#
# There, in this order, each step under its own time limit so that the call ends within ~9 minutes:
#   1. the adapter (`sg3 info`, nvidia-smi)                                 -> info.txt
#   2. `deno task bench --json --eq` at the hardware defaults: stylegan3-t-1024 and -r-1024 (cbase 32768,
#      cmax 512) at batch 1 and 8, the EQ metrics, Inception at batch 1 and 8  -> bench.jsonl
#   3. the generators with --fp16 at batch 8                                 -> fp16.jsonl
#   4. Inception's throughput at batch 64 and 256 (the official code: 4640 images/s on one H100)
#                                                                           -> inception.jsonl
#   5. the kernel tests (every variant against its float64 reference, on this adapter) and the golden tests
#      of the carried fixture folder (the others report themselves ignored)   -> tests.txt
#   6. the tuner's cache (the winners per layer shape on this adapter)      -> tune.json
# and the benchmarks' error output -> errors.txt.
set -uo pipefail
cd "$(dirname "$0")/.."

# The programs run on the device; prep caches exactly their npm imports.
TESTS=(test/conv_pool_test.ts test/winograd_test.ts test/modconv_test.ts test/filtered_lrelu_test.ts
  test/fc_test.ts test/resize_test.ts test/eq_ops_test.ts test/fourier_test.ts test/tuner_test.ts
  test/inception_test.ts test/fid_test.ts test/generator_test.ts test/equivariance_test.ts)
PROGRAMS=(bench/main.ts cli/main.ts "${TESTS[@]}")

if [ "${1:-}" = prep ]; then
  set -e
  folder=${2:-inception}
  bash ../shared/tools/device-prep.sh
  rm -rf .gpu/deno_dir .gpu/fixtures.tar.xz
  # Without the lock file Deno fetches only what these programs import (deno.json pins every version).
  DENO_DIR=.gpu/deno_dir deno cache --no-lock "${PROGRAMS[@]}" >/dev/null
  if [ "$folder" != none ]; then
    tar -C ../shared -cf - "fixtures/$folder" | xz -T0 -6 > .gpu/fixtures.tar.xz
  fi
  du -sh .gpu | awk '{print "prepared .gpu/ (" $1 "); run: command \"bash bench/gpu.sh\", carry [\".gpu\"]"}'
  exit 0
fi

out=${OUT:-/tmp/sg3-gpu}
mkdir -p "$out"
# shellcheck disable=SC1091
source .gpu/env.sh
export SG3_CACHE=/tmp/sg3-cache NO_COLOR=1
DENO_RUN=(deno run --cached-only --no-lock --allow-all)
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }

step info
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  "${DENO_RUN[@]}" cli/main.ts info 2>&1
} > "$out/info.txt"
head -3 "$out/info.txt"

# Runs bench/main.ts with the given options for at most $1 seconds into $2.jsonl (stderr into errors.txt: the
# device returns at most 8 files).
bench() {
  local limit=$1 name=$2
  shift 2
  echo "== $name" >> "$out/errors.txt"
  timeout "$limit" "${DENO_RUN[@]}" bench/main.ts --json "$@" > "$out/$name.jsonl" 2>> "$out/errors.txt"
  echo "rc $? ($(wc -l < "$out/$name.jsonl") lines)"
  grep -v ' / ' "$out/$name.jsonl" | cut -c1-220
}

step "bench: generators (1024), EQ metrics, Inception"
bench 210 bench --eq --reps 5
step "bench: generators with --fp16 (the official code runs its use_fp16 layers in f16)"
bench 90 fp16 --fp16 --no-inception --batch 8 --reps 5
step "bench: Inception throughput"
bench 80 inception --cfg "" --batch 64,256 --reps 3

step tests
if [ -f .gpu/fixtures.tar.xz ]; then
  mkdir -p /tmp/sg3-fixtures && xz -d -c .gpu/fixtures.tar.xz | tar -C /tmp/sg3-fixtures -xf -
  export SG3_FIXTURES=/tmp/sg3-fixtures/fixtures
fi
timeout 150 deno test --cached-only --no-lock --allow-all "${TESTS[@]}" > "$out/tests.txt" 2>&1
echo "rc $?"
grep -E "FAILED|^ok \||^FAILED \||passed" "$out/tests.txt" | tail -5

cp "$SG3_CACHE/tune.json" "$out/tune.json" 2>/dev/null
step done
