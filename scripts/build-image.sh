#!/bin/sh
# Builds the kafscale container image without a container registry or daemon: the root filesystem from
# Debian packages and the npm registry (scripts/build-rootfs.sh), assembled with buildah from scratch.
# The result is the image the Containerfile describes (same root filesystem, same configuration).
#
#   sudo scripts/build-image.sh                                  # localhost/kafscale:<version> in buildah's storage
#   sudo scripts/build-image.sh --tag registry.example/kafscale:0.1.0 --archive /tmp/kafscale.tar
#
# Options:
#   --tag NAME          image name (default localhost/kafscale:<package.json version>)
#   --archive PATH      also write a docker-archive tarball (docker load / podman load / skopeo copy)
#   --storage-root DIR  buildah storage under DIR (vfs driver) instead of the system's (tests use a temp dir)
# Environment: as scripts/build-rootfs.sh (KAFSCALE_IMAGE_CACHE, KAFSCALE_IMAGE_SUITE, mirrors), and
#   KAFSCALE_IMAGE_SOURCE  the org.opencontainers.image.source label (the repository URL), when set.
#
# Needs root, buildah and mmdebstrap (apt-get install buildah mmdebstrap binutils), npm.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json" | head -n 1)
tag="localhost/kafscale:$version"
archive=""
storage_root=""

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --archive) archive=$2; shift 2 ;;
    --storage-root) storage_root=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() {
  echo "build-image: $*" >&2
}

[ "$(id -u)" -eq 0 ] || { log "run as root (buildah mount and the root filesystem's ownership need it)"; exit 1; }
command -v buildah >/dev/null 2>&1 || { log "buildah is required (apt-get install buildah)"; exit 1; }

buildah_() {
  if [ -n "$storage_root" ]; then
    buildah --root "$storage_root/root" --runroot "$storage_root/run" --storage-driver vfs "$@"
  else
    buildah "$@"
  fi
}

work=$(mktemp -d)
container=""
cleanup() {
  if [ -n "$container" ]; then
    buildah_ umount "$container" >/dev/null 2>&1 || true
    buildah_ rm "$container" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

started=$(date +%s)
"$repo/scripts/build-rootfs.sh" "$work/rootfs"

log "assembling $tag with buildah"
container=$(buildah_ from scratch)
mountpoint=$(buildah_ mount "$container")
# cp -a keeps ownership and modes (the kafscale user's data directory); buildah add would not.
cp -a "$work/rootfs/." "$mountpoint/"
buildah_ umount "$container" >/dev/null

revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# The ops port from KAFSCALE_METRICS_ADDR (host:port; default 9093); no shell in the image, so node asks.
healthcheck="fetch('http://127.0.0.1:' + (process.env.KAFSCALE_METRICS_ADDR ?? ':9093').split(':').pop() + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

buildah_ config \
  --os linux \
  --arch "$(buildah_ info --format '{{.host.arch}}' 2>/dev/null || echo amd64)" \
  --user 10001:10001 \
  --workingdir /var/lib/kafscale \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_ENV=production \
  --env KAFSCALE_DATA_DIR=/var/lib/kafscale \
  --entrypoint '["/usr/bin/tini", "--", "/usr/local/bin/node", "/app/src/bin/kafscale.ts"]' \
  --cmd broker \
  --port 9092/tcp \
  --port 9093/tcp \
  --volume /var/lib/kafscale \
  --stop-signal SIGTERM \
  --healthcheck "CMD /usr/local/bin/node -e \"$healthcheck\"" \
  --healthcheck-interval 15s \
  --healthcheck-timeout 5s \
  --healthcheck-start-period 30s \
  --healthcheck-retries 3 \
  --label org.opencontainers.image.title=kafscale \
  --label "org.opencontainers.image.description=Kafka-compatible streaming platform with stateless brokers on object storage" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$created" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.base.name=scratch \
  --created-by "scripts/build-image.sh" \
  "$container"

if [ -n "${KAFSCALE_IMAGE_SOURCE:-}" ]; then
  buildah_ config --label "org.opencontainers.image.source=$KAFSCALE_IMAGE_SOURCE" "$container"
fi

# docker format: OCI image configs have no HEALTHCHECK. Squashed into one layer: the root filesystem.
buildah_ commit --quiet --format docker --rm "$container" "$tag" >/dev/null
container=""
if [ -n "$archive" ]; then
  rm -f "$archive"
  buildah_ push --quiet "$tag" "docker-archive:$archive:$tag"
  log "wrote $archive"
fi
log "built $tag in $(($(date +%s) - started)) s"
echo "$tag"
