#!/usr/bin/env bash
# device.sh — run ON THE GPU MACHINE from the repository root, after
# scripts/gpu-ollama/prepare.sh here (carry .gpuw/ and bin/). Needs CUDA
# (nvcc, cuBLAS), cmake, ninja and a C++ compiler there; no Go, no network.
#
#   1. unpacks Ollama and the ggml sources into .gpuw/src,
#   2. writes the phi3-mini-shaped model (7.6 GB) in the background,
#   3. builds ggml-cuda for CUDA_ARCH (default 90) with Ollama's developer
#      layout: the binary in .gpuw/src next to build/lib/ollama/libggml-*.so,
#   4. runs $EXPERIMENT (default experiments/ollama-gpu.yaml) with runexp,
#      stopped with Ctrl-C once $RUN_LIMIT seconds have passed since this
#      script started, if set: the build counts (finished points
#      are kept); RESUME=1 continues the latest run of that experiment
#      (on a fresh machine: the one in .gpuw/resume.tar.gz, a run.tar.gz
#      an earlier call returned); RUNEXP_ARGS adds runexp flags,
#   5. puts the run directory (without model, blobs and Ollama's home) in
#      $OUT/run.tar.gz and the console log in $OUT/console.txt.
#
# Steps already done (a warm machine) are skipped. Exit status: runexp's.
set -uo pipefail

W=$PWD/.gpuw
OUT=${OUT:-$W/out}
ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT" "$W/src" "$W/runs"
exec > >(tee -a "$OUT/console.txt") 2>&1
t0=$(date +%s)
say() { printf '[device %4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
die() { say "FAILED: $*"; exit 2; }

say "host $(hostname), $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1)"
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
[[ -x $NVCC ]] || NVCC=$(command -v nvcc) || die "nvcc not found"
say "$($NVCC --version | tail -n 1); $(cmake --version | head -n 1); ninja $(ninja --version)"

OLLAMA=$W/src/ollama
if [[ ! -x $OLLAMA ]]; then
	tar -xzf "$W/ollama-src.tar.gz" -C "$W/src" || die "unpacking the ggml sources"
	xz -dc "$W/ollama.xz" >"$OLLAMA.tmp" && chmod +x "$OLLAMA.tmp" && mv "$OLLAMA.tmp" "$OLLAMA" || die "unpacking ollama"
fi
"$OLLAMA" --version 2>&1 | tail -n 1

# The model lives beside the runs (same file system: it is hard-linked into each server's blobs).
GGUF=$W/runs/model.gguf
gpid=
if [[ ! -s $GGUF || ! -s $GGUF.json ]]; then
	say "writing the model in the background"
	(bin/runexp gguf --shape phi3-mini --name random-llama-3p8b --out "$GGUF.tmp" --sidecar "$GGUF.json" &&
		mv "$GGUF.tmp" "$GGUF" && say "model written") >"$W/gguf.log" 2>&1 &
	gpid=$!
fi

LIB=$W/src/build/lib/ollama
if [[ ! -s $LIB/libggml-cuda.so ]]; then
	say "cmake (sm_$ARCH)"
	cmake -S "$W/src" -B "$W/src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="$NVCC" >"$W/cmake.log" 2>&1 ||
		{ tail -n 30 "$W/cmake.log"; die cmake; }
	say "ninja -j$JOBS ggml-cuda"
	ninja -C "$W/src/build" -j"$JOBS" ggml-cuda >"$W/ninja.log" 2>&1 || { tail -n 40 "$W/ninja.log"; die ninja; }
	tail -n 1 "$W/ninja.log"
fi
ls -la "$LIB"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

if [[ -n $gpid ]]; then
	wait "$gpid" || { cat "$W/gguf.log"; die "writing the model"; }
	cat "$W/gguf.log"
fi
ls -la "$GGUF"

EXPERIMENT=${EXPERIMENT:-experiments/ollama-gpu.yaml}
NAME=$(basename "$EXPERIMENT" .yaml)
args=(--set ollama="$OLLAMA" --set model_from=file --set gguf="$GGUF" --out "$W/runs")
read -ra extra <<<"${RUNEXP_ARGS:-}" # more runexp flags, e.g. --set relaunches=2
args+=("${extra[@]}")
if [[ ${RESUME:-} == 1 ]]; then
	prev=$(ls -d "$W/runs/$NAME"/[0-9]*/ 2>/dev/null | tail -n 1)
	if [[ -z $prev && -s $W/resume.tar.gz ]]; then
		# a fresh machine: the run.tar.gz an earlier call returned, carried back in .gpuw
		mkdir -p "$W/runs/$NAME" && tar -xzf "$W/resume.tar.gz" -C "$W/runs/$NAME" || die "unpacking resume.tar.gz"
		prev=$(ls -d "$W/runs/$NAME"/[0-9]*/ 2>/dev/null | tail -n 1)
	fi
	[[ -n $prev ]] || die "RESUME=1: no earlier run of $NAME under $W/runs"
	args+=(--resume "${prev%/}")
fi
limit=()
if [[ -n ${RUN_LIMIT:-} ]]; then
	# The device's command limit counts from the script's start, the
	# CUDA build included (145–210 s on an H200), so the deadline does too.
	left=$((RUN_LIMIT - ($(date +%s) - t0)))
	((left > 30)) || die "RUN_LIMIT=$RUN_LIMIT: only ${left}s left after the build"
	limit=(timeout -s INT -k 30 "$left")
fi
say "runexp $EXPERIMENT ${args[*]}"
"${limit[@]}" bin/runexp "$EXPERIMENT" "${args[@]}"
rc=$?
say "runexp exited with $rc"

run=$(ls -d "$W/runs/$NAME"/[0-9]*/ 2>/dev/null | tail -n 1)
if [[ -n $run ]]; then
	run=${run%/}
	tar -czf "$OUT/run.tar.gz" --exclude=models --exclude=home --exclude='*.gguf' \
		-C "$(dirname "$run")" "$(basename "$run")"
	say "$OUT/run.tar.gz: $(du -h "$OUT/run.tar.gz" | cut -f1) ($(basename "$run"))"
fi
tail -n 5 "$W/ninja.log" >"$OUT/build.txt" 2>/dev/null
exit $rc
