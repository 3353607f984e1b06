# Shared shell helpers for bench/proxy/run.sh and profile.sh (sourced, not executed).
# Expects HERE (bench/proxy), ROOT (repo root) and WORK (scratch dir) to be set by the caller.

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites ----------------------------------------------------------------------
# System tools: installed with apt-get (root only) the first time they are missing.
ensure_tools() {
  local missing=() bin
  for bin in nginx haproxy wrk h2load; do command -v "$bin" >/dev/null || missing+=("$bin"); done
  if ((${#missing[@]} > 0)); then
    [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root, or apt-get install nginx-light haproxy wrk nghttp2-client"
    log "installing nginx-light haproxy wrk nghttp2-client (missing: ${missing[*]})"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light haproxy wrk nghttp2-client >&2
  fi
  for bin in taskset setsid timeout ss node npm; do command -v "$bin" >/dev/null || die "missing $bin"; done
}

# The Node peers' packages (pinned in bench/proxy/package.json), into bench/proxy/node_modules.
ensure_peer_deps() {
  [[ -d "$HERE/node_modules/undici" && -d "$HERE/node_modules/http-proxy" ]] && return 0
  log "npm install in bench/proxy (http-proxy, undici for the Node peers)"
  (cd "$HERE" && npm install --no-audit --no-fund >&2)
}

# Isthmus is measured from dist/, like `isthmus run` in production. SKIP_BUILD=1 uses dist/ as is.
ensure_isthmus_build() {
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "npm run build"
    if ! (cd "$ROOT" && npm run build >"$WORK/build.log" 2>&1); then
      [[ -f "$ROOT/dist/cli/main.js" ]] || { cat "$WORK/build.log" >&2; die "build failed and there is no dist/"; }
      log "warning: npm run build failed (see below); measuring the existing dist/"
      tail -n 15 "$WORK/build.log" >&2
    fi
  fi
  [[ -f "$ROOT/dist/cli/main.js" ]] || die "no dist/cli/main.js (run npm run build)"
}

# --- processes --------------------------------------------------------------------------
port_busy() { ss -ltnH "sport = :$1" | grep -q LISTEN; }

wait_port() { # port timeout_s
  local deadline=$((SECONDS + ${2:-10}))
  while ((SECONDS < deadline)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

wait_line() { # file regex timeout_s
  local deadline=$((SECONDS + ${3:-30}))
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# start_sut NAME CPUS CMD...: runs CMD pinned to CPUS in its own session (so the whole tree
# can be signalled), stdout -> $WORK/NAME.out, stderr -> $WORK/NAME.err. Sets SUT_PID.
start_sut() {
  local name=$1 cpus=$2
  shift 2
  setsid taskset -c "$cpus" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  SUT_PID=$!
  echo "$SUT_PID" >>"$WORK/pids"
}

# TERM the process group, give it 5 s (Isthmus drains), then KILL.
stop_pid() {
  local pid=$1 i
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup_work() {
  local pid
  if [[ -f "$WORK/pids" ]]; then
    while read -r pid; do kill -0 "$pid" 2>/dev/null && stop_pid "$pid"; done <"$WORK/pids"
  fi
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "scratch dir kept: $WORK"; else rm -rf "$WORK"; fi
}

# Load generator, pinned to its own core, with a hard time limit.
LG() { local limit=$1; shift; timeout "$limit" taskset -c "$LOADGEN_CPU" "$@"; }


# --- configs ----------------------------------------------------------------------------
# nginx upstream: a fixed 200 body over HTTP/1.1 and h2c, one worker, no logging.
write_upstream_config() { # dir h1Port h2Port bodyBytes
  local dir=$1 body
  body=$(head -c "$4" /dev/zero | tr '\0' 'x')
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$2 backlog=4096;
    listen 127.0.0.1:$3 http2 backlog=4096;
    location / { default_type text/plain; return 200 "$body"; }
  }
}
EOF
}

# nginx as the proxy: one worker, upstream keep-alive pool, h1 and h2c fronts.
write_nginx_proxy_config() { # dir h1Port h2Port upstreamPort
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  upstream bench_upstream {
    server 127.0.0.1:$4;
    keepalive 256;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$2 backlog=4096;
    listen 127.0.0.1:$3 http2 backlog=4096;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

# HAProxy: one thread; HTTP (h1 + h2c fronts, connection reuse) and a TCP-mode front.
write_haproxy_config() { # file h1Port h2Port tcpPort upstreamPort
  cat >"$1" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  timeout connect 5s
  timeout client 300s
  timeout server 300s
frontend http_in
  mode http
  option http-keep-alive
  bind 127.0.0.1:$2
  bind 127.0.0.1:$3 proto h2
  default_backend http_up
backend http_up
  mode http
  http-reuse always
  server s1 127.0.0.1:$5
frontend tcp_in
  mode tcp
  bind 127.0.0.1:$4
  default_backend tcp_up
backend tcp_up
  mode tcp
  server s1 127.0.0.1:$5
EOF
}
