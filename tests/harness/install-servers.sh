#!/usr/bin/env bash
# Installs the XMPP servers the integration tests route stanzas through (Debian's prosody and
# ejabberd). Idempotent: does nothing (exit 0) when both are installed. Only acts as root with
# apt-get; otherwise it says what is missing and exits 0 (the tests then skip, or fail under CI=true).
# The packages must not start their system instances (the tests run their own, on loopback):
# a policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d from starting them.
set -euo pipefail

PACKAGES=(prosody ejabberd redis-server)
POLICY=/usr/sbin/policy-rc.d

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-servers: prosody, ejabberd and redis-server already installed; nothing to do"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-servers: missing Debian packages: ${missing[*]} (run as root with apt-get to install them)"
  exit 0
fi

created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# written by xmppsec tests/harness/install-servers.sh\nexit 101\n' > "$POLICY"
  chmod 0755 "$POLICY"
  created_policy=1
  echo "install-servers: wrote $POLICY (services must not auto-start)"
fi
cleanup() {
  if [ "$created_policy" = 1 ]; then
    rm -f "$POLICY"
    echo "install-servers: removed $POLICY"
  fi
}
trap cleanup EXIT

echo "install-servers: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-servers: installed ${missing[*]}"
