#!/usr/bin/env bash
# prepare.sh — run HERE (the Go machine), from anywhere in the repository:
# builds and collects what the GPU machine cannot build or download, into
# the git-ignored folder .gpuw/ (carry it, with bin/, to the device):
#
#   bin/runexp                 runexp built with cgo (go-nvml) and VCS info
#   .gpuw/ollama.xz            Ollama v0.17.4 for the CPU (scripts/install-ollama.sh), stripped, xz
#   .gpuw/ollama-src.tar.gz    CMakeLists.txt, CMakePresets.json and ml/backend/ggml/ggml
#                              of the Ollama module, to build ggml-cuda on the device
#
# Then, on the device, from the repository root: scripts/gpu-ollama/device.sh
# (with the device tool: carry [".gpuw", "bin"]). About 40 MB travel.
set -euo pipefail

cd "$(dirname "$0")/../.."
VERSION="${OLLAMA_VERSION:-v0.17.4}"
W=.gpuw
log() { printf 'prepare: %s\n' "$*" >&2; }
mkdir -p "$W" bin

log "building bin/runexp (cgo, -buildvcs)"
CGO_ENABLED=1 CGO_CFLAGS=-Wno-deprecated-declarations \
	go build -buildvcs=true -ldflags='-s -w' -o bin/runexp ./cmd/runexp
bin/runexp version >&2 || true

BIN=$(scripts/install-ollama.sh | tail -n 1)
if [[ ! -s "$W/ollama.xz" || "$BIN" -nt "$W/ollama.xz" ]]; then
	log "compressing $BIN"
	strip -o "$W/ollama.tmp" "$BIN" 2>/dev/null || cp "$BIN" "$W/ollama.tmp"
	xz -T0 -6 -c "$W/ollama.tmp" >"$W/ollama.xz.tmp"
	mv "$W/ollama.xz.tmp" "$W/ollama.xz"
	rm -f "$W/ollama.tmp"
fi

log "ggml sources of github.com/ollama/ollama@$VERSION"
DIR=$(go mod download -json "github.com/ollama/ollama@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$DIR/ml/backend/ggml/ggml" ]] || { log "no ggml sources under '$DIR'"; exit 1; }
# The module cache is read-only; give the owner write access in the archive.
tar -czf "$W/ollama-src.tar.gz" --mode=u+w -C "$DIR" CMakeLists.txt CMakePresets.json ml/backend/ggml/ggml

du -ch bin/runexp "$W"/ollama.xz "$W"/ollama-src.tar.gz | sed 's/^/prepare: /' >&2
log "ready: carry [\".gpuw\", \"bin\"] and run scripts/gpu-ollama/device.sh on the GPU machine"
