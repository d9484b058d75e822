#!/usr/bin/env bash
# Quick start, step one: install what credrelay needs, build it, put both executables on PATH, point Docker at it,
# and check the result.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund   # also builds dist/ through the prepare script
npm link --no-audit --no-fund # puts credrelay and docker-credential-credrelay on PATH, where Docker looks

echo
echo "installed: $(command -v docker-credential-credrelay) ($(docker-credential-credrelay version))"
credrelay configure-docker # "credsStore": "credrelay" in ~/.docker/config.json (the old file is kept as config.json.bak)
# doctor exits non-zero while something needs fixing (a machine with no keyring, say); it says what, and how.
credrelay doctor || echo "credrelay doctor found something to fix; see above"
