#!/usr/bin/env bash
# bench/compare.sh: runexp's load engine against the seed's python client
# (bench/batch_client.py, python3-aiohttp) and wrk, all against the same
# loopback stub (bench/stub, internal/load/loadtest) on this machine, plus
# runexp's own scaling, memory, lag and TTFT-accuracy figures.
# Prints markdown.
#
#   bench/compare.sh            # DUR=5 seconds per throughput run, REPS=3
#   DUR=3 REPS=1 bench/compare.sh
#
# Every tool shares the CPUs with the stub; the stub's CPU use during each
# run is reported. Throughput rows are the median of REPS interleaved runs.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-5}
REPS=${REPS:-3}
PY=${PY:-/usr/bin/python3}
TOKENS=32
CLK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
STUB_PID=""

cleanup() {
	[ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---- dependencies -----------------------------------------------------------
have_wrk=1 have_py=1 have_time=1
missing=()
command -v go >/dev/null || { echo "go is required" >&2; exit 2; }
[ -x "$PY" ] || { echo "$PY is required (JSON parsing)" >&2; exit 2; }
command -v wrk >/dev/null || { have_wrk=0; missing+=(wrk); }
"$PY" -c 'import aiohttp' 2>/dev/null || { have_py=0; missing+=(python3-aiohttp); }
[ -x /usr/bin/time ] || { have_time=0; missing+=(time); }
if [ ${#missing[@]} -gt 0 ]; then
	echo "> missing: ${missing[*]} (apt-get install -y ${missing[*]}); their rows are skipped" >&2
fi

go build -o "$TMP/stub" ./bench/stub
go build -o "$TMP/loadcli" ./bench/loadcli

# ---- helpers ----------------------------------------------------------------
start_stub() { # flags...; sets STUB_PID, URL
	[ -n "$STUB_PID" ] && { kill "$STUB_PID" 2>/dev/null || true; wait "$STUB_PID" 2>/dev/null || true; }
	"$TMP/stub" "$@" >"$TMP/stub.out" 2>&1 &
	STUB_PID=$!
	for _ in $(seq 100); do
		URL=$(sed -n 's/^listening on //p' "$TMP/stub.out")
		[ -n "$URL" ] && return 0
		sleep 0.05
	done
	echo "stub did not start" >&2
	exit 1
}
stub_ticks() { awk '{print $14+$15}' "/proc/$STUB_PID/stat"; }
now() { date +%s.%N; }
# measure OUT CMD...: runs CMD (stdout to OUT), appends "stub CPU %" to OUT.cpu
measure() {
	local out=$1
	shift
	local c0 t0 c1 t1
	c0=$(stub_ticks)
	t0=$(now)
	"$@" >"$out" 2>"$out.err" || true
	c1=$(stub_ticks)
	t1=$(now)
	"$PY" -c "print(round(($c1-$c0)/$CLK/($t1-$t0)*100))" >"$out.cpu"
}
json() { # FILE EXPR (python, j = parsed JSON)
	"$PY" -c "import json,sys; j=json.load(open('$1')); print($2)"
}
median() { "$PY" -c "import statistics,sys; v=[float(x) for x in sys.argv[1:] if x!='']; print(round(statistics.median(v),1) if v else '')" "$@"; }
BODY_NS="{\"model\":\"m\",\"prompt\":\"Explain memory fragmentation in one short sentence.\",\"max_tokens\":$TOKENS}"
BODY_ST="{\"model\":\"m\",\"prompt\":\"Explain memory fragmentation in one short sentence.\",\"max_tokens\":$TOKENS,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

run_runexp() { # OUT C STREAM(0/1) [extra flags]
	local out=$1 c=$2 st=$3
	shift 3
	local sflag=()
	[ "$st" = 1 ] && sflag=(--stream)
	measure "$out" "$TMP/loadcli" --url "$URL" --model m --mode concurrent --concurrency "$c" \
		--duration "${DUR}s" --max-tokens $TOKENS --warmup "$c" --json "${sflag[@]}" "$@"
}
runexp_rps() { json "$1" "round(j[0]['request_throughput'],1) if j[0]['failed']==0 else 'FAILED'"; }
run_wrk() { # OUT C BODY
	local t=2
	[ "$2" -lt 2 ] && t=1
	WRK_BODY=$3 measure "$1" wrk -t$t -c"$2" -d"${DUR}s" -s bench/wrk/post.lua "$URL/v1/completions"
}
wrk_rps() {
	if grep -q "Non-2xx\|Socket errors" "$1"; then echo FAILED; return; fi
	awk '/Requests\/sec/ {print $2}' "$1"
}
run_py() { measure "$1" "$PY" bench/batch_client.py --url "$URL/v1/completions" -n "$2" --model m --max-tokens $TOKENS --seconds "$DUR"; }
py_rps() { tail -1 "$1" | "$PY" -c "import json,sys; print(round(json.load(sys.stdin)['req_per_s'],1))"; }
cpus() { median $(cat "$@" 2>/dev/null); }

echo "## runexp load engine vs seed client vs wrk"
echo
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -sr), $(go version | cut -d' ' -f3)."
echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; figures are medians of $REPS interleaved runs of ${DUR}s)."
echo "Stub: bench/stub (Go, internal/load/loadtest), zero think time, $TOKENS tokens per response, one flush per SSE event; scripted times count from the request's arrival at the stub's socket (kernel receive timestamp) and wake on a timerfd."
echo

# ---- throughput against the zero-think stub ---------------------------------
start_stub -tokens $TOKENS
declare -A R
for rep in $(seq "$REPS"); do
	if [ $have_py = 1 ]; then run_py "$TMP/py.ns.$rep" 32; R[py.ns]+="$(py_rps "$TMP/py.ns.$rep") "; fi
	if [ $have_wrk = 1 ]; then
		run_wrk "$TMP/wrk.ns.$rep" 32 "$BODY_NS"; R[wrk.ns]+="$(wrk_rps "$TMP/wrk.ns.$rep") "
		run_wrk "$TMP/wrk.st.$rep" 32 "$BODY_ST"; R[wrk.st]+="$(wrk_rps "$TMP/wrk.st.$rep") "
	fi
	run_runexp "$TMP/rx.ns.$rep" 32 0; R[rx.ns]+="$(runexp_rps "$TMP/rx.ns.$rep") "
	run_runexp "$TMP/rx.st.$rep" 32 1; R[rx.st]+="$(runexp_rps "$TMP/rx.st.$rep") "
done
py_ns=$(median ${R[py.ns]:-}); wrk_ns=$(median ${R[wrk.ns]:-}); wrk_st=$(median ${R[wrk.st]:-})
rx_ns=$(median ${R[rx.ns]}); rx_st=$(median ${R[rx.st]})
tok() { [ -n "$1" ] && "$PY" -c "print(round($1*$TOKENS))" || true; }

echo "### Peers at concurrency 32 (zero-think stub)"
echo
echo "| client | requests | c | req/s (median) | tok/s | runs (req/s) | stub CPU % |"
echo "|---|---|---:|---:|---:|---|---:|"
[ $have_py = 1 ] && echo "| seed batch_client.py (aiohttp, gather of 32) | non-stream | 32 | $py_ns | $(tok "$py_ns") | ${R[py.ns]} | $(cpus "$TMP"/py.ns.*.cpu) |"
[ $have_wrk = 1 ] && echo "| wrk (parses nothing) | non-stream | 32 | $wrk_ns | $(tok "$wrk_ns") | ${R[wrk.ns]} | $(cpus "$TMP"/wrk.ns.*.cpu) |"
echo "| runexp load | non-stream | 32 | $rx_ns | $(tok "$rx_ns") | ${R[rx.ns]} | $(cpus "$TMP"/rx.ns.*.cpu) |"
[ $have_wrk = 1 ] && echo "| wrk (parses nothing) | stream | 32 | $wrk_st | $(tok "$wrk_st") | ${R[wrk.st]} | $(cpus "$TMP"/wrk.st.*.cpu) |"
echo "| runexp load (parses + timestamps every chunk) | stream | 32 | $rx_st | $(tok "$rx_st") | ${R[rx.st]} | $(cpus "$TMP"/rx.st.*.cpu) |"
echo
echo "wrk's tok/s assumes the stub's $TOKENS tokens per response; runexp's come from the usage chunk."
echo

echo "### runexp scaling (streaming, zero-think stub)"
echo
echo "| c | req/s | tok/s | max_concurrent_requests | failed | median TTFT ms | stub CPU % |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for c in 1 32 256 1024; do
	run_runexp "$TMP/sc.$c" "$c" 1
	json "$TMP/sc.$c" "'| $c | %.1f | %.0f | %d | %d | %.3f | $(cat "$TMP/sc.$c.cpu") |' % (j[0]['request_throughput'], j[0]['output_throughput'], j[0]['max_concurrent_requests'], j[0]['failed'], j[0]['median_ttft_ms'])"
done
echo

# ---- memory at 1024 concurrent streams --------------------------------------
echo "### Memory, lag and TTFT accuracy"
echo
echo "| measurement | setup | result |"
echo "|---|---|---|"
if [ $have_time = 1 ]; then
	start_stub -tokens $TOKENS -itl 20ms
	/usr/bin/time -f "%M" -o "$TMP/rss" "$TMP/loadcli" --url "$URL" --model m --mode concurrent --concurrency 1024 \
		--requests 4096 --max-tokens $TOKENS --stream --json >"$TMP/rss.json" 2>"$TMP/rss.err" || true
	rss_kb=$(tail -1 "$TMP/rss")
	echo "| peak RSS (VmHWM) of the generator | 1024 concurrent streams, 4096 requests, stub ITL 20 ms x $TOKENS tokens | $(( rss_kb / 1024 )) MiB; $(json "$TMP/rss.json" "'achieved max_concurrent_requests %d, completed %d, failed %d' % (j[0]['max_concurrent_requests'], j[0]['completed'], j[0]['failed'])") |"
fi

# ---- lag and TTFT against a 50 ms / 10 ms stub ------------------------------
# Each is run REPS times; the goal uses the median run. These figures react
# to other tenants of the machine (see the load average): a descheduled
# dispatcher shows up as lag.
start_stub -tokens $TOKENS -ttft 50ms -itl 10ms
stats_reset() { "$PY" -c "import urllib.request; urllib.request.urlopen('$URL/loadtest/stats?reset=1').read()"; }
stats() { "$PY" -c "import json,urllib.request; print(json.load(urllib.request.urlopen('$URL/loadtest/stats'))['$1'])"; }
LAGS="" TTFT_OPENS="" TTFT1S="" TTFT256S=""
for rep in $(seq "$REPS"); do
	stats_reset
	measure "$TMP/lag.$rep" "$TMP/loadcli" --url "$URL" --model m --mode rate --rate 640 --arrival poisson --seed "$rep" \
		--max-in-flight 256 --duration "${DUR}s" --max-tokens $TOKENS --stream --warmup 64 --json
	srv=$(stats first_token_p50_ms)
	json "$TMP/lag.$rep" "'| generator lag, open loop, run $rep | poisson 640 req/s for ${DUR}s, max_in_flight 256, stub 50 ms / 10 ms; load avg $(cut -d' ' -f1 /proc/loadavg) | lag p50 %.3f ms, **p99 %.3f ms**, max %.3f ms; %d sent, %d dropped, %d failed, achieved max_concurrent_requests %d; median TTFT %.3f ms (**%+.3f ms**), stub-side first-token p50 %.3f ms (from arrival at its socket); stub CPU %s %% |' % (j[0]['lag_p50_ms'], j[0]['lag_p99_ms'], j[0]['lag_max_ms'], j[0]['completed']+j[0]['failed'], j[0]['dropped'], j[0]['failed'], j[0]['max_concurrent_requests'], j[0]['median_ttft_ms'], j[0]['median_ttft_ms']-50, $srv, '$(cat "$TMP/lag.$rep.cpu")')"
	LAGS+="$(json "$TMP/lag.$rep" "round(j[0]['lag_p99_ms'],2)") "
	TTFT_OPENS+="$(json "$TMP/lag.$rep" "j[0]['median_ttft_ms']-50") "
done
for rep in $(seq "$REPS"); do
	for c in 1 256; do
		n=12
		[ "$c" = 256 ] && n=1024
		stats_reset
		measure "$TMP/ttft.$c.$rep" "$TMP/loadcli" --url "$URL" --model m --mode concurrent --concurrency $c --requests $n \
			--max-tokens $TOKENS --stream --warmup $c --json
		srv=$(stats first_token_p50_ms)
		json "$TMP/ttft.$c.$rep" "'| TTFT accuracy, closed loop c=$c, run $rep | $n requests (+$c warm-up), stub TTFT 50 ms, ITL 10 ms; load avg $(cut -d' ' -f1 /proc/loadavg) | median TTFT %.3f ms (**%+.3f ms**), p90 %.3f ms; median ITL %.3f ms (%+.3f); median TPOT %.3f ms; stub-side first-token p50 %.3f ms (from arrival at its socket); stub CPU %s %% |' % (j[0]['median_ttft_ms'], j[0]['median_ttft_ms']-50, j[0]['p90_ttft_ms'], j[0]['median_itl_ms'], j[0]['median_itl_ms']-10, j[0]['median_tpot_ms'], $srv, '$(cat "$TMP/ttft.$c.$rep.cpu")')"
	done
	TTFT1S+="$(json "$TMP/ttft.1.$rep" "j[0]['median_ttft_ms']-50") "
	TTFT256S+="$(json "$TMP/ttft.256.$rep" "j[0]['median_ttft_ms']-50") "
done
med3() { "$PY" -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]),3))" "$@"; }
LAG_P99=$(med3 $LAGS)
TTFT_OPEN=$(med3 $TTFT_OPENS)
TTFT1=$(med3 $TTFT1S)
TTFT256=$(med3 $TTFT256S)
RSS_MIB=$([ $have_time = 1 ] && echo $(( rss_kb / 1024 )) || echo "")
echo

# ---- goals ------------------------------------------------------------------
goal() { # name measured target ok-expr
	local ok
	ok=$("$PY" -c "print('yes' if ($4) else 'NO')" 2>/dev/null || echo "n/a")
	echo "| $1 | $2 | $3 | $ok |"
}
ratio() { "$PY" -c "print(round($1/$2,2))" 2>/dev/null || echo ""; }
echo "### Goals"
echo
echo "| goal | measured | target | met |"
echo "|---|---|---|---|"
if [ $have_py = 1 ]; then r=$(ratio "$rx_ns" "$py_ns"); goal "non-stream c=32 vs seed client" "${r}x" ">= 3x" "$r >= 3"; fi
if [ $have_wrk = 1 ]; then
	r=$(ratio "$rx_ns" "$wrk_ns"); goal "non-stream c=32 vs wrk" "${r}x" ">= 0.5x" "$r >= 0.5"
	r=$(ratio "$rx_st" "$wrk_st"); goal "stream c=32 vs wrk" "${r}x" ">= 0.8x" "$r >= 0.8"
fi
[ -n "$RSS_MIB" ] && goal "RSS at 1024 concurrent streams" "$RSS_MIB MiB" "< 256 MiB" "$RSS_MIB < 256"
goal "generator lag p99, open loop c<=256 (median of $REPS runs: $LAGS)" "$(printf %.3f "$LAG_P99") ms" "< 5 ms" "$LAG_P99 < 5"
goal "TTFT p50 error c=1 (median of $REPS runs)" "$(printf %+.3f "$TTFT1") ms" "within 1 ms" "abs($TTFT1) <= 1"
goal "TTFT p50 error c=256, closed loop: 256 requests sent in lockstep (median of $REPS runs)" "$(printf %+.3f "$TTFT256") ms" "within 1 ms" "abs($TTFT256) <= 1"
goal "TTFT p50 error, open loop with <=256 in flight (median of $REPS runs)" "$(printf %+.3f "$TTFT_OPEN") ms" "within 1 ms" "abs($TTFT_OPEN) <= 1"
echo
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)."
