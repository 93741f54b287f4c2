#!/usr/bin/env bash
# Set up, then run the main job on the bundled sample: its browser bundle and its Pi package.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/edgepack build samples/sentiment --target wasm
.venv/bin/edgepack build samples/sentiment --target rpi
ls -la samples/sentiment/dist
