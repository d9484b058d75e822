#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages credrelay's tests and benchmark use, skipping those already present. Running
# credrelay needs none of them (its keychain module comes prebuilt from the npm registry); `npm test` runs this
# itself when a tool is missing.
#   real services: dbus, gnome-keyring (a Secret Service on a private bus), docker-registry with apache2-utils' htpasswd
#   real clients:  skopeo, the docker CLI (client only; no engine is started), libsecret-tools (secret-tool)
#   test fixtures: openssl (a self-signed certificate for a TLS registry)
#   references:    the Go secretservice helper and Docker's Go client library (golang-go) to compare answers with
#   benchmark:     hyperfine, amazon-ecr-credential-helper
#   native client: gcc and libc6-dev (with its AddressSanitizer and UBSan runtimes)
set -euo pipefail

packages=(
  dbus dbus-bin gnome-keyring libsecret-tools
  docker-registry apache2-utils skopeo openssl
  golang-go golang-docker-credential-helpers golang-github-docker-docker-credential-helpers-dev golang-golang-x-sys-dev
  hyperfine amazon-ecr-credential-helper
  gcc libc6-dev # the native client: built at install, tested with AddressSanitizer and UBSan (libasan, libubsan)
)
command -v docker >/dev/null 2>&1 || packages+=(docker.io) # only its client is used

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test tools: all present"
  exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "test tools: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
