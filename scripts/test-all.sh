#!/usr/bin/env bash
# The whole test suite: typecheck and build every package, then run vitest under Node, Bun and
# Deno (all three from node_modules). Ends with one line "N passed, M failed" summed over runtimes.
set -u
cd "$(dirname "$0")/.."
bin=node_modules/.bin
results=.vitest-results
rm -rf "$results" && mkdir -p "$results"
passed=0
failed=0
status=0

step() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "!! $name failed"
    failed=$((failed + 1))
    status=1
  fi
}

# Typecheck and build count as one check each: a broken package must not pass silently.
typecheck() {
  # Each package typechecks itself (core with no runtime types at all); the root project covers
  # tests, examples and benchmarks.
  npx -y pnpm@10.34.8 -r --filter "./packages/*" typecheck && "$bin/tsc" -p tsconfig.json --noEmit
}
step "typecheck" typecheck
step "build" npx -y pnpm@10.34.8 -r --filter "./packages/*" build
# What a registry would get: pack, lint, install with npm outside the repo, run on every runtime.
step "package check" node scripts/package-check/check.mjs

run_vitest() {
  local runtime=$1
  shift
  echo "== vitest under $runtime"
  "$@" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json="$results/$runtime.json"
  local rc=$?
  local counts
  counts=$(node -e '
    const fs = require("fs");
    try {
      const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      const failedSuites = r.testResults.filter((t) => t.status === "failed" && t.assertionResults.every((a) => a.status !== "failed")).length;
      console.log(r.numPassedTests, r.numFailedTests + failedSuites);
    } catch { console.log(0, 1); }
  ' "$results/$runtime.json")
  local p=${counts% *} f=${counts#* }
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "== $runtime: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
  [ "$rc" -eq 0 ] || status=1
}

run_vitest node node
run_vitest bun "$bin/bun" --bun
run_vitest deno "$bin/deno" run -A

echo "$passed passed, $failed failed"
exit $status
