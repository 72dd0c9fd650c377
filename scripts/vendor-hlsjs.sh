#!/usr/bin/env bash
# Vendor hls.js for the player page from the npm registry, pinned by version and by the
# tarball's SHA-512 (the registry's `dist.integrity`), so a re-published tarball fails loudly.
# The file is a build output (gitignored): `make sync` and `dailies up` run this when missing.
set -euo pipefail

HLSJS_VERSION="1.7.4"
HLSJS_INTEGRITY="sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg=="
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/edge/player/vendor/hls.min.js"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$work/hls.js-${HLSJS_VERSION}.tgz"
if command -v npm >/dev/null 2>&1; then
  # npm pack fetches the published tarball only: no node_modules, no install scripts.
  if ! out="$(cd "$work" && npm pack "hls.js@${HLSJS_VERSION}" 2>&1)"; then
    echo "$out" >&2
    exit 1
  fi
else
  # Same tarball, straight from the registry, for machines without npm.
  python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
    "https://registry.npmjs.org/hls.js/-/hls.js-${HLSJS_VERSION}.tgz" "$tarball"
fi
actual="$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")"
if [ "$actual" != "$HLSJS_INTEGRITY" ]; then
  echo "hls.js ${HLSJS_VERSION}: tarball integrity $actual, expected $HLSJS_INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$(dirname "$DEST")"
cp "$work/package/dist/hls.min.js" "$DEST"
echo "vendored hls.js ${HLSJS_VERSION} -> ${DEST#"$ROOT"/}"
