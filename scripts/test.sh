#!/usr/bin/env bash
# Quick start, step two: build, type-check and run every test. Each integration suite starts the real services it
# needs (a private D-Bus bus with gnome-keyring, a docker-registry with htpasswd) and stops them when it ends; all of
# their files live under one temporary directory, removed at the end. Extra arguments go to vitest.
set -uo pipefail
cd "$(dirname "$0")/.."

# The real services and clients the integration suites use: installed here when one is missing.
for tool in dbus-daemon gnome-keyring-daemon secret-tool docker-registry htpasswd skopeo docker dockerd buildah podman go docker-credential-secretservice cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    bash scripts/install-test-deps.sh || exit 1
    break
  fi
done
[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
npm run --silent build || exit 1 # with the native client: the packages above bring a C compiler
npx tsc -p tsconfig.test.json || exit 1

work=$(mktemp -d /tmp/credrelay-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"

npx vitest run --reporter=default --reporter=json --outputFile.json="$work/results.json" "$@"
status=$?

# Every daemon the suites started listens under $work: stop those (only those, not the user's own), so that a test
# run leaves no daemon behind for the bound to count.
node --input-type=module -e '
  const { otherDaemons } = await import(process.argv[1]);
  for (const daemon of otherDaemons({ runtimeDir: "/nonexistent", pidPath: "" }))
    if (daemon.socketPath?.startsWith(process.argv[2])) process.kill(daemon.pid, "SIGTERM");
' "$PWD/dist/src/core/wire/daemon-room.js" "$work/" || true

node -e '
  const fs = require("node:fs");
  let results;
  try { results = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { results = undefined; }
  if (!results) { console.log("0 passed, 1 failed"); process.exit(0); }
  const skipped = results.numPendingTests + results.numTodoTests;
  // Suites that failed to load count as failures too.
  const brokenSuites = results.testResults.filter((suite) => suite.status === "failed" && suite.assertionResults.length === 0).length;
  console.log(`${results.numPassedTests} passed, ${results.numFailedTests + brokenSuites} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$work/results.json"
exit $status
