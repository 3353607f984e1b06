#!/usr/bin/env bash
# Isthmus data-plane benchmark (the future `npm run bench`; never part of `npm test`).
#
# The same load, on loopback, against:
#   direct            client -> upstream (no proxy): the ceiling
#   haproxy           HAProxy, nbthread 1 (HTTP mode; TCP mode in the tcp scenario)
#   nginx             nginx, 1 worker, upstream keep-alive pool
#   isthmus           `isthmus run --concurrency 1`, realistic config: REALISTIC_SERVICES
#                     virtual hosts, header/URI/regex matches, a 90/10 split, default
#                     retries, metrics, access log on (text, to a file)
#   isthmus-catchall  one service, one catch-all route, access log off (metrics stay on:
#                     they cannot be switched off) -> the feature cost is the delta
#   isthmus-1k        the realistic config with BIG_SERVICES services (RSS goal; h1-sat)
#   isthmus-c2        realistic config, --concurrency 2 on both cores (scaling; h1-sat)
#   undici            minimal node:http + undici.Pool proxy (peers/undici-proxy.mjs)
#   node-http-proxy   the http-proxy package with a keep-alive agent (peers/http-proxy.mjs)
#   node-tcp          raw Node socket pipe (peers/tcp-pipe.mjs; tcp scenario)
# Upstream: nginx returning a fixed BODY_BYTES 200 over HTTP/1.1 and h2c.
#
# Scenarios:
#   h1-sat   wrk, 1 thread, CONNS keep-alive connections, DURATION s (after WARMUP s)
#   h1-rate  h2load --h1, RATE req/s in total over RATE_CONNS connections, RATE_DURATION s;
#            p50/p99 from h2load's per-request log
#   h2-sat   h2load h2c (prior knowledge), H2_CONNS connections x H2_STREAMS streams
#   tcp      wrk h1-sat load through L4 proxies: HAProxy TCP mode, the Node pipe, and
#            Isthmus as an ingress gateway with a TCP server and a VirtualService tcp route
#
# Fairness: wrk/h2load are pinned to LOADGEN_CPU (default 0); every proxy and the upstream
# are pinned to SUT_CPU (default 1), so the proxy pays for its CPU in upstream throughput,
# like a sidecar sharing its pod's CPU. Each proxy runs one worker and is restarted for
# every (target, scenario), so peak RSS is that scenario's. CPU = utime+stime of the proxy's
# whole process tree from /proc/<pid>/stat, before/after the measured window, divided by
# the requests completed. Every target gets the same Host header (Isthmus routes by it).
#
# Knobs (environment): DURATION=10 RUNS=1 (median across runs) SCENARIOS TARGETS WARMUP=2
#   CONNS=32 RATE=2000 RATE_CONNS=16 RATE_DURATION=DURATION H2_CONNS=4 H2_STREAMS=16
#   BODY_BYTES=1024 LOADGEN_CPU=0 SUT_CPU=1 REALISTIC_SERVICES=200 BIG_SERVICES=1000
#   BASE_PORT=19100 RUN_ID=<date> SKIP_BUILD=1 KEEP_WORK=1
#   NOISE_LIMIT=10 MAX_ATTEMPTS=3 NOISE_BACKOFF=5: the machine may be shared; a measurement
#   during which other processes used > NOISE_LIMIT % of a core (on the proxy's core, or any
#   process not ours) is repeated, up to MAX_ATTEMPTS, NOISE_BACKOFF s apart. The last
#   attempt is kept either way and flagged in the report. Before each measurement the
#   harness also waits (up to QUIET_TIMEOUT=120 s) until the machine is below QUIET_LIMIT=10 %
#   busy, so a test run or build elsewhere is waited out instead of measured.
# Quick check (< 1 min): DURATION=3 SCENARIOS=h1-sat TARGETS="haproxy isthmus" bench/proxy/run.sh
# `direct` is always measured first (the x direct column needs it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

export RUNS=${RUNS:-1} DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} CONNS=${CONNS:-32}
export RATE=${RATE:-2000} RATE_CONNS=${RATE_CONNS:-16} RATE_DURATION=${RATE_DURATION:-$DURATION}
export H2_CONNS=${H2_CONNS:-4} H2_STREAMS=${H2_STREAMS:-16} BODY_BYTES=${BODY_BYTES:-1024}
export LOADGEN_CPU=${LOADGEN_CPU:-0} SUT_CPU=${SUT_CPU:-1}
export REALISTIC_SERVICES=${REALISTIC_SERVICES:-200} BIG_SERVICES=${BIG_SERVICES:-1000}
export SCENARIOS=${SCENARIOS:-"h1-sat h1-rate h2-sat tcp"}
export TARGETS=${TARGETS:-"haproxy nginx isthmus isthmus-catchall isthmus-1k isthmus-c2 undici node-http-proxy node-tcp"}
export RUN_ID=${RUN_ID:-$(date +%Y%m%d-%H%M%S)}
NOISE_LIMIT=${NOISE_LIMIT:-10} MAX_ATTEMPTS=${MAX_ATTEMPTS:-3} NOISE_BACKOFF=${NOISE_BACKOFF:-5}
QUIET_LIMIT=${QUIET_LIMIT:-10} QUIET_TIMEOUT=${QUIET_TIMEOUT:-120}
export CLK_TCK
CLK_TCK=$(getconf CLK_TCK)
BASE_PORT=${BASE_PORT:-19100}
TARGETS="direct ${TARGETS//direct/}"
for x in $SCENARIOS; do [[ " h1-sat h1-rate h2-sat tcp " == *" $x "* ]] || die "unknown scenario $x (h1-sat h1-rate h2-sat tcp)"; done
for x in $TARGETS; do
  [[ " direct haproxy nginx isthmus isthmus-catchall isthmus-1k isthmus-c2 undici node-http-proxy node-tcp " == *" $x "* ]] || die "unknown target $x"
done

UP_H1=$BASE_PORT UP_H2=$((BASE_PORT + 1))
NGX_H1=$((BASE_PORT + 10)) NGX_H2=$((BASE_PORT + 11))
HAP_H1=$((BASE_PORT + 20)) HAP_H2=$((BASE_PORT + 21)) HAP_TCP=$((BASE_PORT + 22))
HTTPPROXY=$((BASE_PORT + 30))
UND_H1=$((BASE_PORT + 40)) UND_H2=$((BASE_PORT + 41))
TCPPIPE=$((BASE_PORT + 50))
ISTHMUS=$((BASE_PORT + 60)) ISTHMUS_ADMIN=$((BASE_PORT + 61)) ISTHMUS_TCP=$((BASE_PORT + 62))

WORK="$(mktemp -d /tmp/isthmus-bench.XXXXXX)"
trap cleanup_work EXIT
trap 'exit 130' INT TERM

ensure_tools
ensure_peer_deps
ensure_isthmus_build
ulimit -n 65536 2>/dev/null || true
for p in $UP_H1 $UP_H2 $NGX_H1 $NGX_H2 $HAP_H1 $HAP_H2 $HAP_TCP $HTTPPROXY $UND_H1 $UND_H2 $TCPPIPE $ISTHMUS $ISTHMUS_ADMIN $ISTHMUS_TCP; do
  port_busy "$p" && die "port $p is in use (set BASE_PORT)"
done

export TARGET_HOST
TARGET_HOST=$(node "$HERE/tool.mjs" host)
write_upstream_config "$WORK/upstream" "$UP_H1" "$UP_H2" "$BODY_BYTES"
write_nginx_proxy_config "$WORK/nginx" "$NGX_H1" "$NGX_H2" "$UP_H1"
write_haproxy_config "$WORK/haproxy.cfg" "$HAP_H1" "$HAP_H2" "$HAP_TCP" "$UP_H1"
node "$HERE/tool.mjs" gen-config "$WORK/cfg-realistic" realistic "$UP_H1" "$REALISTIC_SERVICES"
node "$HERE/tool.mjs" gen-config "$WORK/cfg-catchall" catchall "$UP_H1"
node "$HERE/tool.mjs" gen-config "$WORK/cfg-1k" realistic "$UP_H1" "$BIG_SERVICES"
node "$HERE/tool.mjs" gen-config "$WORK/cfg-tcp" tcp "$UP_H1" "$ISTHMUS_TCP"
node "$HERE/tool.mjs" meta "$WORK/meta.json" "$ROOT"
ROWS="$WORK/rows.jsonl"
: >"$ROWS"

# plan TARGET SCENARIO -> "run", "skip" (not part of this scenario) or "n/a:<why>" (a row
# saying the target cannot do it).
plan() {
  case "$2:$1" in
    h1-sat:node-tcp | h1-rate:node-tcp | h1-rate:isthmus-1k | h1-rate:isthmus-c2) echo skip ;;
    h1-sat:* | h1-rate:*) echo run ;;
    h2-sat:direct | h2-sat:haproxy | h2-sat:nginx | h2-sat:isthmus | h2-sat:isthmus-catchall | h2-sat:undici) echo run ;;
    h2-sat:node-http-proxy) echo "n/a:no HTTP/2 front end" ;;
    tcp:direct | tcp:haproxy | tcp:node-tcp | tcp:isthmus) echo run ;;
    *) echo skip ;;
  esac
}

# port TARGET SCENARIO -> where the load goes
port_of() {
  case "$2:$1" in
    h2-sat:direct) echo "$UP_H2" ;; h2-sat:haproxy) echo "$HAP_H2" ;; h2-sat:nginx) echo "$NGX_H2" ;; h2-sat:undici) echo "$UND_H2" ;;
    tcp:haproxy) echo "$HAP_TCP" ;; tcp:isthmus) echo "$ISTHMUS_TCP" ;;
    *:direct) echo "$UP_H1" ;; *:haproxy) echo "$HAP_H1" ;; *:nginx) echo "$NGX_H1" ;; *:undici) echo "$UND_H1" ;;
    *:node-http-proxy) echo "$HTTPPROXY" ;; *:node-tcp) echo "$TCPPIPE" ;; *:isthmus*) echo "$ISTHMUS" ;;
  esac
}

# start_target TARGET SCENARIO -> sets SUT_PID ("" for direct) and SUT_CPUS; returns 1 when
# it does not come up. In the tcp scenario Isthmus runs as a gateway with one TCP server.
start_target() {
  SUT_PID="" SUT_CPUS=$SUT_CPU
  local cfg=cfg-realistic conc=1 extra=() ports
  [[ ${2:-} == tcp && $1 == isthmus ]] && cfg=cfg-tcp extra=(--role gateway --labels istio=ingressgateway)
  case $1 in
    direct) return 0 ;;
    haproxy) start_sut haproxy "$SUT_CPU" haproxy -db -f "$WORK/haproxy.cfg" ;;
    nginx) start_sut nginx "$SUT_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" ;;
    undici) start_sut undici "$SUT_CPU" node "$HERE/peers/undici-proxy.mjs" "$UND_H1" 127.0.0.1 "$UP_H1" "$UND_H2" ;;
    node-http-proxy) start_sut node-http-proxy "$SUT_CPU" node "$HERE/peers/http-proxy.mjs" "$HTTPPROXY" 127.0.0.1 "$UP_H1" ;;
    node-tcp) start_sut node-tcp "$SUT_CPU" node "$HERE/peers/tcp-pipe.mjs" "$TCPPIPE" 127.0.0.1 "$UP_H1" ;;
    isthmus) ;;
    isthmus-catchall) cfg=cfg-catchall extra=(--no-access-log) ;;
    isthmus-1k) cfg=cfg-1k ;;
    isthmus-c2) conc=2 SUT_CPUS="$LOADGEN_CPU,$SUT_CPU" ;;
    *) die "unknown target $1" ;;
  esac
  if [[ $1 == isthmus* ]]; then
    # Access log (when on) goes to stdout = $WORK/<target>.out, a regular file.
    start_sut "$1" "$SUT_CPUS" node "$ROOT/dist/cli/main.js" run -f "$WORK/$cfg" --concurrency "$conc" \
      --admin-port "$ISTHMUS_ADMIN" --outbound-port "$ISTHMUS" --drain-timeout 1 "${extra[@]}"
    wait_line "$WORK/$1.err" '^ready' 60 || { tail -n 20 "$WORK/$1.err" >&2; return 1; }
  fi
  local p
  ports="$(port_of "$1" h1-sat) $(port_of "$1" h2-sat) $( [[ $1 == haproxy ]] && echo "$HAP_TCP")"
  [[ $cfg == cfg-tcp ]] && ports=$ISTHMUS_TCP
  for p in $ports; do
    wait_port "$p" 15 || { log "$1 did not open port $p"; tail -n 20 "$WORK/$1.err" >&2; return 1; }
  done
}

warm_up() { # scenario port
  if [[ $1 == h2-sat ]]; then
    LG $((WARMUP + 10)) h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$WARMUP" -H ":authority: $TARGET_HOST" "http://127.0.0.1:$2/" >/dev/null 2>&1 || true
  else
    LG $((WARMUP + 10)) wrk -t1 -c"$CONNS" -d"${WARMUP}s" -H "Host: $TARGET_HOST" "http://127.0.0.1:$2/" >/dev/null 2>&1 || true
  fi
}

# measure RUN TARGET SCENARIO ATTEMPT: one warm-up + measured window. Returns 3 when other
# processes used more than NOISE_LIMIT % of a core meanwhile and ATTEMPT < MAX_ATTEMPTS
# (the row is then kept aside in rows.jsonl.discarded and the caller measures again).
measure() {
  local run=$1 t=$2 sc=$3 attempt=$4 port out logf tool t0 t1 per
  port=$(port_of "$t" "$sc")
  out="$WORK/$run.$t.$sc.out" logf="$WORK/$run.$t.$sc.lat"
  node "$HERE/tool.mjs" wait-quiet "$QUIET_TIMEOUT" "$QUIET_LIMIT" || true
  warm_up "$sc" "$port"
  node "$HERE/tool.mjs" snap "$WORK/before" "${SUT_PID:--}" "$UPSTREAM_PID"
  t0=$EPOCHREALTIME
  case $sc in
    h1-sat | tcp)
      tool=wrk
      LG $((DURATION + 20)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency --timeout 5s -H "Host: $TARGET_HOST" "http://127.0.0.1:$port/" >"$out" 2>&1 || true ;;
    h1-rate)
      tool=h2load per=$(((RATE + RATE_CONNS - 1) / RATE_CONNS))
      LG $((RATE_DURATION + 20)) h2load --h1 -t1 -c"$RATE_CONNS" --rps="$per" -D "$RATE_DURATION" -H ":authority: $TARGET_HOST" \
        --log-file="$logf" "http://127.0.0.1:$port/" >"$out" 2>&1 || true ;;
    h2-sat)
      tool=h2load
      LG $((DURATION + 20)) h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" -H ":authority: $TARGET_HOST" \
        --log-file="$logf" "http://127.0.0.1:$port/" >"$out" 2>&1 || true ;;
  esac
  t1=$EPOCHREALTIME
  node "$HERE/tool.mjs" snap "$WORK/after" "${SUT_PID:--}" "$UPSTREAM_PID"
  node "$HERE/tool.mjs" record "$ROWS" run="$run" scenario="$sc" target="$t" tool="$tool" out="$out" log="$logf" \
    before="$WORK/before" after="$WORK/after" sutCpu="$SUT_CPUS" wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
    attempt="$attempt" maxAttempts="$MAX_ATTEMPTS" noiseLimit="$NOISE_LIMIT" || { local rc=$?; rm -f "$logf"; return $rc; }
  rm -f "$logf"
}

log "node $(node -v); loadgen on CPU $LOADGEN_CPU, proxies + upstream on CPU $SUT_CPU; Host: $TARGET_HOST"
log "targets: $TARGETS | scenarios: $SCENARIOS | ${DURATION}s x $RUNS run(s)"
start_sut upstream "$SUT_CPU" nginx -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf"
UPSTREAM_PID=$SUT_PID
wait_port "$UP_H1" 10 && wait_port "$UP_H2" 10 || { cat "$WORK/upstream.err" >&2; die "upstream did not start"; }

for r in $(seq 1 "$RUNS"); do
  for sc in $SCENARIOS; do
    for t in $TARGETS; do
      what=$(plan "$t" "$sc")
      case $what in
        skip) continue ;;
        n/a:*)
          log "run $r  $sc  $t: n/a (${what#n/a:})"
          node "$HERE/tool.mjs" na "$ROWS" run="$r" scenario="$sc" target="$t" note="${what#n/a:}"
          continue ;;
      esac
      log "run $r  $sc  $t"
      if ! start_target "$t" "$sc"; then
        node "$HERE/tool.mjs" na "$ROWS" run="$r" scenario="$sc" target="$t" status=failed note="did not start"
        stop_pid "$SUT_PID"
        continue
      fi
      for attempt in $(seq 1 "$MAX_ATTEMPTS"); do
        rc=0
        measure "$r" "$t" "$sc" "$attempt" || rc=$?
        ((rc == 3)) || break
        sleep "$NOISE_BACKOFF"
      done
      stop_pid "$SUT_PID"
    done
  done
done

mkdir -p "$HERE/results"
node "$HERE/tool.mjs" report "$ROWS" "$WORK/meta.json" "$HERE/results/$RUN_ID.json"
