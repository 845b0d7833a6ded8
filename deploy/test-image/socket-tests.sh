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
mapfile -t FILES < <(grep -v -e '^#' -e '^$' deploy/test-image/socket-tier-tests.txt)

rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
git ls-files -z -- package.json package-lock.json vitest.config.ts '*/package.json' 'edge/test/*' \
  | xargs -0 cp --parents -t "$CONTEXT"
cat >"$CONTEXT/Containerfile" <<CONTAINERFILE
FROM $IMAGE
USER root
COPY . /app/
RUN --mount=type=secret,id=extra_ca \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --include=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && chown -R 10001:10001 /app/node_modules
USER 10001:10001
ENTRYPOINT ["node", "node_modules/vitest/vitest.mjs", "run"]
CONTAINERFILE
secret=()
[ -s "$2/extra_ca.pem" ] && secret=(--secret "id=extra_ca,src=$2/extra_ca.pem")
t0=$(date +%s)
podman build --quiet --runtime runc --network host "${secret[@]}" -t "$TEST_IMAGE" -f "$CONTEXT/Containerfile" "$CONTEXT" >/dev/null
echo "    test layer built in $(($(date +%s) - t0)) s"
t0=$(date +%s)
podman run --rm --name parley-image-test-socket-tests --network none --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges -e CI=true "$TEST_IMAGE" "${FILES[@]}"
echo "    socket-tier tests in the image: $(($(date +%s) - t0)) s"
podman rmi -f "$TEST_IMAGE" >/dev/null
