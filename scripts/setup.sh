#!/usr/bin/env bash
# Quick start, step one: install credrelay from this checkout, put both executables on PATH, point Docker at it, and
# check the result. Running credrelay needs Node.js and npm only: the OS keychain module comes prebuilt from the npm
# registry. A desktop has its Secret Service already; a server without one uses the encrypted file store
# ("store": "file", see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund
# dist/: the compiled TypeScript, the bundles, and the native client when a C compiler is here (docs/build.md).
# Docker then runs the native client, which hands everything it does not answer from the daemon to the Node client.
npm run --silent build
npm link --no-audit --no-fund # puts credrelay and docker-credential-credrelay on PATH, where Docker looks

# npm's global bin (npm_config_prefix, say) may not be on this shell's PATH: use it here, and say so.
global_bin="$(npm prefix -g)/bin"
case ":$PATH:" in
*":$global_bin:"*) ;;
*)
  echo "note: $global_bin is not on PATH; add it (export PATH=\"$global_bin:\$PATH\") so that Docker finds docker-credential-credrelay"
  export PATH="$global_bin:$PATH"
  ;;
esac

echo
echo "installed: $(command -v docker-credential-credrelay) ($(docker-credential-credrelay version))"
credrelay configure-docker # "credsStore": "credrelay" in ~/.docker/config.json (the old file is kept as a backup)
# doctor exits non-zero while something needs fixing (a machine with no keyring, say); it says what, and how.
credrelay doctor || echo "credrelay doctor found something to fix; see above"
