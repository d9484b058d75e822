#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages credrelay's tests and benchmark use, skipping those already present. Running
# credrelay needs none of them (its keychain module comes prebuilt from the npm registry); `npm test` runs this
# itself when a tool is missing.
#   real services: dbus, gnome-keyring (a Secret Service on a private bus), docker-registry with apache2-utils' htpasswd
#   real clients:  skopeo, the docker CLI, libsecret-tools (secret-tool)
#   real engines:  dockerd 20.10 with containerd and runc (docker.io; its BuildKit and legacy builder), buildah, podman,
#                  and Docker's Python SDK (python3-docker);
#                  the tests run each with vfs storage in a private mount namespace (test/support/engines.ts)
#   test fixtures: openssl (a self-signed certificate for a TLS registry)
#   references:    the Go secretservice helper and Docker's Go client library (golang-go) to compare answers with
#   benchmark:     hyperfine, amazon-ecr-credential-helper
#   native client: gcc and libc6-dev (with its AddressSanitizer and UBSan runtimes); musl-gcc for the static x86-64
#                  client, Debian's aarch64 cross compiler for the arm64 one, and qemu-user-static to run it here
set -euo pipefail

packages=(
  dbus dbus-bin gnome-keyring libsecret-tools
  docker-registry apache2-utils skopeo openssl
  golang-go golang-docker-credential-helpers golang-github-docker-docker-credential-helpers-dev golang-golang-x-sys-dev
  hyperfine amazon-ecr-credential-helper
  gcc libc6-dev # the native client: built at install, tested with AddressSanitizer and UBSan (libasan, libubsan)
  musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static # static clients for x86-64 (musl) and aarch64, run under qemu
  docker.io buildah podman
  python3-docker # Docker's Python SDK: it collects every credential (list, then get each) before a build
)

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
# docker.io would start its own dockerd (and containerd) as services: the tests start their own, privately.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Another apt (a machine's start-up upgrade) may hold the lock for a while: wait for it rather than fail.
apt_options=(-o DPkg::Lock::Timeout=300)
"${sudo[@]}" apt-get "${apt_options[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${apt_options[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
