#!/usr/bin/env bash
# CPU profile of Isthmus under the h1-sat load (wrk, 1 thread, CONNS keep-alive connections;
# LOAD=h2: h2load h2c, H2_CONNS x H2_STREAMS), pinned like run.sh: the load generator on
# LOADGEN_CPU, Isthmus + the nginx upstream on SUT_CPU.
# Isthmus runs with `node --cpu-prof`; the profile is written when it exits on SIGTERM.
# Prints the load generator's result and the top self-time functions and areas of the measured window
# (start-up and warm-up samples are left out). With perf available (PERF=1, the default
# when `perf` exists and we are root), `perf record -e cpu-clock -g` runs over the same
# window and prints the kernel / node / JIT split of Isthmus's on-CPU time and the syscalls
# the kernel time is spent under; then the same perf window is taken of HAProxy for
# comparison (COMPARE_HAPROXY=1).
#
#   bench/proxy/profile.sh                    # realistic config (as target `isthmus`)
#   CONFIG=catchall bench/proxy/profile.sh    # one catch-all route, access log off
#
# Knobs: DURATION=10 WARMUP=2 CONNS=32 CONFIG=realistic|catchall SERVICES=200 TOP=25
#   PERF=0|1 COMPARE_HAPROXY=0|1 LOAD=h1|h2 H2_CONNS=4 H2_STREAMS=16
#   LOADGEN_CPU=0 SUT_CPU=1 BASE_PORT=19300 SKIP_BUILD=1 KEEP_WORK=1
# Output: bench/proxy/results/profile-<date>/ (the .cpuprofile opens in Chrome DevTools).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} CONNS=${CONNS:-32}
CONFIG=${CONFIG:-realistic} SERVICES=${SERVICES:-200} TOP=${TOP:-25}
LOAD=${LOAD:-h1} H2_CONNS=${H2_CONNS:-4} H2_STREAMS=${H2_STREAMS:-16}
LOADGEN_CPU=${LOADGEN_CPU:-0} SUT_CPU=${SUT_CPU:-1} BASE_PORT=${BASE_PORT:-19300}
OUT="$HERE/results/profile-$(date +%Y%m%d-%H%M%S)"
PERF_DEFAULT=0
command -v perf >/dev/null && [[ $(id -u) == 0 ]] && PERF_DEFAULT=1
PERF=${PERF:-$PERF_DEFAULT} COMPARE_HAPROXY=${COMPARE_HAPROXY:-1}
UP_H1=$BASE_PORT UP_H2=$((BASE_PORT + 1)) PROXY=$((BASE_PORT + 2)) ADMIN=$((BASE_PORT + 3))
HAP_H1=$((BASE_PORT + 4)) HAP_H2=$((BASE_PORT + 5)) HAP_TCP=$((BASE_PORT + 6))

WORK="$(mktemp -d /tmp/isthmus-profile.XXXXXX)"
trap cleanup_work EXIT
trap 'exit 130' INT TERM

ensure_tools
ensure_isthmus_build
for p in $UP_H1 $UP_H2 $PROXY $ADMIN $HAP_H1 $HAP_H2 $HAP_TCP; do port_busy "$p" && die "port $p is in use (set BASE_PORT)"; done
mkdir -p "$OUT"
HOST=$(node "$HERE/tool.mjs" host)
write_upstream_config "$WORK/upstream" "$UP_H1" "$UP_H2" 1024
node "$HERE/tool.mjs" gen-config "$WORK/cfg" "$CONFIG" "$UP_H1" "$SERVICES"
extra=()
[[ $CONFIG == catchall ]] && extra=(--no-access-log)

start_sut upstream "$SUT_CPU" nginx -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf"
wait_port "$UP_H1" 10 || die "upstream did not start"

started=$EPOCHREALTIME
start_sut isthmus "$SUT_CPU" node --cpu-prof --cpu-prof-dir="$OUT" "$ROOT/dist/cli/main.js" run -f "$WORK/cfg" \
  --concurrency 1 --admin-port "$ADMIN" --outbound-port "$PROXY" --drain-timeout 1 "${extra[@]}"
ISTHMUS_PID=$SUT_PID

# load SECONDS PORT OUTFILE: the chosen load for SECONDS against PORT
load() {
  if [[ $LOAD == h2 ]]; then
    LG $(($1 + 20)) h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$1" -H ":authority: $HOST" "http://127.0.0.1:$2/" >"$3" 2>&1 || true
  else
    LG $(($1 + 20)) wrk -t1 -c"$CONNS" -d"${1}s" --latency -H "Host: $HOST" "http://127.0.0.1:$2/" >"$3" 2>&1 || true
  fi
}

# perf record over the measured window (on-CPU samples, kernel included)
PERF_PID=""
perf_start() { # pid label
  ((PERF == 1)) || return 0
  perf record -q -F 999 -e cpu-clock -g -p "$1" -o "$OUT/perf-$2.data" >"$WORK/perf-$2.log" 2>&1 &
  PERF_PID=$!
  sleep 0.3
}
perf_stop() {
  [[ -n "$PERF_PID" ]] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
}
perf_summary() { # label load-output
  ((PERF == 1)) && [[ -f "$OUT/perf-$1.data" ]] || return 0
  local requests
  requests=$(grep -oE '^ *[0-9]+ requests in|[0-9]+ done' "$2" | grep -oE '[0-9]+' | head -1)
  echo
  echo "== $1 =="
  perf script -i "$OUT/perf-$1.data" 2>/dev/null | node "$HERE/tool.mjs" perf-summary "$requests"
}
wait_line "$WORK/isthmus.err" '^ready' 60 || { cat "$WORK/isthmus.err" >&2; die "isthmus did not start"; }

log "warm-up ${WARMUP}s, then $LOAD load ${DURATION}s (config: $CONFIG)"
load "$WARMUP" "$PROXY" /dev/null
skip_ms=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
node "$HERE/tool.mjs" proc "$ISTHMUS_PID" >"$WORK/before.json"
perf_start "$ISTHMUS_PID" isthmus
load "$DURATION" "$PROXY" "$OUT/load.txt"
cat "$OUT/load.txt"
node "$HERE/tool.mjs" proc "$ISTHMUS_PID" >"$WORK/after.json"
perf_stop
# The profiler samples wall-clock time: while Isthmus is runnable but the upstream (same
# core) runs, samples still land on Isthmus, typically on the write that woke the upstream.
# Compare the profile's busy time with the CPU time the kernel charged to Isthmus.
cpu_ms=$(CLK_TCK=$(getconf CLK_TCK) node "$HERE/tool.mjs" cpu-ms "$WORK/before.json" "$WORK/after.json")

stop_pid "$ISTHMUS_PID" # SIGTERM -> drain -> normal exit -> V8 writes the profile
shopt -s nullglob
profiles=("$OUT"/*.cpuprofile)
((${#profiles[@]} > 0)) || die "no .cpuprofile written (did isthmus exit cleanly? see $WORK/isthmus.err)"
echo
{
  echo "CPU time charged to Isthmus by the kernel during the ${DURATION}s window: ${cpu_ms} ms"
  node "$HERE/tool.mjs" profile-summary --top "$TOP" --skip-ms "$skip_ms" "${profiles[@]}"
} | tee "$OUT/summary.txt"
{
  perf_summary isthmus "$OUT/load.txt"
  if ((PERF == 1 && COMPARE_HAPROXY == 1)); then
    write_haproxy_config "$WORK/haproxy.cfg" "$HAP_H1" "$HAP_H2" "$HAP_TCP" "$UP_H1"
    start_sut haproxy "$SUT_CPU" haproxy -db -f "$WORK/haproxy.cfg"
    HAP_PID=$SUT_PID
    hap_port=$HAP_H1
    [[ $LOAD == h2 ]] && hap_port=$HAP_H2
    wait_port "$hap_port" 10 || die "haproxy did not start"
    load "$WARMUP" "$hap_port" /dev/null
    perf_start "$HAP_PID" haproxy
    load "$DURATION" "$hap_port" "$OUT/load-haproxy.txt"
    perf_stop
    stop_pid "$HAP_PID"
    perf_summary haproxy "$OUT/load-haproxy.txt"
  fi
} | tee -a "$OUT/summary.txt"
log "profile: ${profiles[*]}"
