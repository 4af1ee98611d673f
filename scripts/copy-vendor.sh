#!/bin/sh
# Copy the browser libraries that `npm ci` installed into static/vendor/, where the
# templates load them. No CDN: the portal serves these files itself.
# Usage: scripts/copy-vendor.sh   (from anywhere; paths are relative to the repository)
set -eu
cd "$(dirname "$0")/.."
dest=static/vendor
mkdir -p "$dest"
copy() {
  src=$1
  if [ ! -f "$src" ]; then
    echo "copy-vendor: $src is missing; run \`npm ci\` first" >&2
    exit 1
  fi
  cp "$src" "$dest/"
  if [ -f "$src.map" ]; then
    cp "$src.map" "$dest/"
  fi
}
copy node_modules/htmx.org/dist/htmx.min.js
copy node_modules/socket.io-client/dist/socket.io.min.js
echo "copy-vendor: htmx.min.js and socket.io.min.js are in $dest/"
