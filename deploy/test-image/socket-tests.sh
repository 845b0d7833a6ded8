#!/usr/bin/env bash
# Part of `npm run test:image`: the socket-tier test files, run inside the built image on its
# Node.js (the native uWebSockets.js binding is what they need, and what Node 22+ here lacks).
# The image has no test runner and no tests (.dockerignore keeps them out of the published
# image), so a throwaway layer on top of it adds the locked dev dependencies and the test files.
# Usage: socket-tests.sh <image> <work-dir>
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="$1"
CONTEXT="$2/socket-tests"
TEST_IMAGE=localhost/parley-socket-tests:local
# The files that need a native binding (.ci/run skips them on Node 22, where it has none).
mapfile -t FILES < <(awk '!/^#/ && $2 == "image" { print $1 }' deploy/test-image/socket-tier-tests.txt)

rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/manifests" "$CONTEXT/tests"
git ls-files -z -- package.json package-lock.json '*/package.json' | xargs -0 cp --parents -t "$CONTEXT/manifests"
git ls-files -z -- vitest.config.ts 'edge/test/*' 'services/message/test/support/*' | xargs -0 cp --parents -t "$CONTEXT/tests"
# Manifests first: the install layer stays cached while only tests change.
cat >"$CONTEXT/Containerfile" <<CONTAINERFILE
FROM $IMAGE
USER root
COPY manifests/ /app/
RUN --mount=type=secret,id=extra_ca \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --include=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=error \
 && chown -R 10001:10001 /app/node_modules
COPY tests/ /app/
USER 10001:10001
ENTRYPOINT ["node", "node_modules/vitest/vitest.mjs", "run"]
CONTAINERFILE
secret=()
[ -s "$2/extra_ca.pem" ] && secret=(--secret "id=extra_ca,src=$2/extra_ca.pem")
t0=$(date +%s)
podman build --quiet --runtime runc --network host "${secret[@]}" -t "$TEST_IMAGE" -f "$CONTEXT/Containerfile" "$CONTEXT" >/dev/null
echo "    test layer built in $(($(date +%s) - t0)) s"
# On PostgreSQL and Redis (the stand-ins), so that the multi-node file runs too.
network=parleytest_socket_tests
# What a killed earlier run left (run.sh removes it too; this script also runs alone).
podman rm -f -t 2 parley-image-test-pg parley-image-test-redis parley-image-test-socket-tests >/dev/null 2>&1 || true
podman network rm -f "$network" >/dev/null 2>&1 || true
podman network create "$network" >/dev/null
trap 'podman rm -f -t 2 parley-image-test-pg parley-image-test-redis >/dev/null 2>&1; podman network rm -f "$network" >/dev/null 2>&1' EXIT
podman run -d --name parley-image-test-pg --network "$network" --network-alias pg --tmpfs /var/lib/postgresql/data \
  -e POSTGRES_USER=parley -e POSTGRES_PASSWORD=parley -e POSTGRES_DB=parley docker.io/library/postgres:17 >/dev/null
podman run -d --name parley-image-test-redis --network "$network" --network-alias redis docker.io/library/redis:7 \
  redis-server --save "" --appendonly no >/dev/null
for _ in $(seq 1 60); do podman exec parley-image-test-pg pg_isready -h 127.0.0.1 -U parley -q && break; sleep 1; done
t0=$(date +%s)
podman run --rm --name parley-image-test-socket-tests --network "$network" --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges -e CI=true \
  -e PARLEY_TEST_DATABASE_URL=postgres://parley:parley@pg:5432/postgres -e PARLEY_TEST_REDIS_URL=redis://redis:6379 \
  "$TEST_IMAGE" "${FILES[@]}"
echo "    socket-tier tests in the image, on PostgreSQL and Redis: $(($(date +%s) - t0)) s"
