#!/usr/bin/env bash
# install-ollama.sh — build Ollama from the Go module proxy at a pinned
# version and cache the binary, so a machine that keeps its caches does not
# rebuild. Prints the binary's absolute path on the last line of stdout.
#
# Why v0.17.4: the Go module proxy serves v0.6.5, v0.11.10, v0.12.6,
# v0.13.5, v0.16.1, v0.16.2 and v0.17.4 (see
# ../shared/research/real-targets.md). v0.17.4 is the newest of these and it
# builds from the Go module proxy plus Debian packages alone: module zips
# drop llama.cpp's vendor/ directory, so the missing headers come from
# Debian (nlohmann-json3-dev, libstb-dev) and from the Go module
# github.com/gen2brain/malgo@v0.11.24, which ships miniaudio.h. It is also
# the version whose CPU and CUDA behaviour the research notes measured.
#
# Environment:
#   OLLAMA_VERSION   module version to build (default v0.17.4)
#   OLLAMA_BIN_DIR   where binaries are kept (default $XDG_CACHE_HOME or
#                    $HOME/.cache, then runexp/bin)
#   OLLAMA_FORCE=1   rebuild even if the binary exists
#
# Output: $OLLAMA_BIN_DIR/ollama-$OLLAMA_VERSION (stripped, version set).
# Cold build: about 3.5 min on 2 idle cores (6 min on a busy one); with the
# binary cached: instant.
set -euo pipefail

VERSION="${OLLAMA_VERSION:-v0.17.4}"
BIN_DIR="${OLLAMA_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/runexp/bin}"
TARGET="$BIN_DIR/ollama-$VERSION"
MALGO="github.com/gen2brain/malgo@v0.11.24"

log() { printf 'install-ollama: %s\n' "$*" >&2; }

mkdir -p "$BIN_DIR"

# Serialise concurrent installs into the same directory.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$BIN_DIR/.install-ollama.lock"
	flock 9
fi

if [[ -x "$TARGET" && "${OLLAMA_FORCE:-0}" != 1 ]]; then
	log "cached: $TARGET"
	echo "$TARGET"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	log "go not found in PATH"
	exit 1
}

# Debian headers that the module zip lacks. Install only when missing.
need_pkgs=()
[[ -f /usr/include/nlohmann/json_fwd.hpp ]] || need_pkgs+=(nlohmann-json3-dev)
[[ -f /usr/include/stb/stb_image.h ]] || need_pkgs+=(libstb-dev)
if ((${#need_pkgs[@]})); then
	SUDO=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || {
			log "need root or sudo to install ${need_pkgs[*]}"
			exit 1
		}
		SUDO=(sudo)
	fi
	log "apt-get install ${need_pkgs[*]}"
	"${SUDO[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

# miniaudio.h from a Go module, placed where llama.cpp's mtmd includes it.
log "go mod download $MALGO"
MALGO_DIR=$(cd / && go mod download -json "$MALGO" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -f "$MALGO_DIR/miniaudio.h" ]] || {
	log "miniaudio.h not found in $MALGO_DIR"
	exit 1
}

# The include dir must have a stable path: the -I flag is part of the Go
# build cache key of every cgo package, so a temporary path would make each
# rebuild cold (about 6 min instead of seconds with a warm GOCACHE).
INC="${XDG_CACHE_HOME:-$HOME/.cache}/runexp/include"
mkdir -p "$INC/miniaudio"
cmp -s "$MALGO_DIR/miniaudio.h" "$INC/miniaudio/miniaudio.h" ||
	cp "$MALGO_DIR/miniaudio.h" "$INC/miniaudio/miniaudio.h"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-ollama.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin"

log "building github.com/ollama/ollama@$VERSION (takes minutes on a small machine)"
start=$SECONDS
# nice: the build is long and the machine may be shared.
(cd / && CGO_ENABLED=1 CGO_CPPFLAGS="-I$INC ${CGO_CPPFLAGS:-}" GOBIN="$WORK/bin" GOFLAGS= \
	nice -n 10 go install \
	-ldflags "-s -w -X github.com/ollama/ollama/version.Version=${VERSION#v}" \
	"github.com/ollama/ollama@$VERSION")
log "built in $((SECONDS - start)) s"

# Atomic publish: a half-written binary never has the final name.
mv "$WORK/bin/ollama" "$TARGET.tmp.$$"
chmod 0755 "$TARGET.tmp.$$"
mv -f "$TARGET.tmp.$$" "$TARGET"
log "installed $TARGET ($(OLLAMA_HOST=127.0.0.1:9 "$TARGET" --version 2>&1 | tail -n1))"
echo "$TARGET"
