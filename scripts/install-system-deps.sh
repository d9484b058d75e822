#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages credrelay needs to build, run and be tested, skipping those already present.
#   build:   libsecret-1-dev (keytar is compiled against it; pkg-config, g++, make and python3 come with Node's toolchain)
#   run:     dbus, gnome-keyring (a Secret Service for machines without a desktop keyring)
#   test:    libsecret-tools, docker-registry, apache2-utils, skopeo, the Go helpers and Docker's Go client library
#   bench:   hyperfine, amazon-ecr-credential-helper (the Go ECR helper the benchmark report compares with)
set -euo pipefail

packages=(
  libsecret-1-dev pkg-config
  dbus dbus-bin gnome-keyring
  libsecret-tools docker-registry apache2-utils skopeo
  golang-go golang-docker-credential-helpers golang-github-docker-docker-credential-helpers-dev golang-golang-x-sys-dev
  hyperfine amazon-ecr-credential-helper
)
command -v docker >/dev/null 2>&1 || packages+=(docker.io) # only its client is used; no engine is started

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "system packages: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
