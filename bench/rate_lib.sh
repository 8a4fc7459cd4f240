# shellcheck shell=bash disable=SC2034  # RATE_* variables are for the scripts that source this
# Shared by the production-rate benchmark scripts (bench/rate.sh, rate_capture.sh,
# rate_offline.sh, rate_live.sh). Sourcing it sources the namespace lab (tests/e2e/lib/lab.sh).

RATE_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/e2e/lib/lab.sh
source "$RATE_HERE/../tests/e2e/lib/lab.sh"
RATE_TOOLS="$RATE_HERE/rate_tools.py"
RATE_WRK_LUA="$RATE_HERE/rate_wrk.lua"
# The server's listen backlog and SYN queue: sized for ~20k connections/s, the same on the
# online server and on the target.
RATE_BACKLOG=65535

rate_load() { cut -d' ' -f1-3 /proc/loadavg; }

# rate_run_args SCRIPT USAGE FLAVOUR TCPCOPY INTERCEPT OUT_DIR : checks the arguments every run
# script takes (FLAVOUR ours|original, two executables) or stops SCRIPT with exit 2; creates
# OUT_DIR. Sets RATE_TCPCOPY, RATE_INTERCEPT and RATE_OUT to absolute paths.
rate_run_args() {
  local script=$1 usage=$2 flavour=$3 b
  [[ $flavour == ours || $flavour == original ]] || {
    echo "$script: the first argument must be 'ours' or 'original' ($usage)" >&2
    exit 2
  }
  for b in "$4" "$5"; do
    [[ -x $b ]] || {
      echo "$script: $b is not an executable" >&2
      exit 2
    }
  done
  RATE_TCPCOPY=$(realpath "$4")
  RATE_INTERCEPT=$(realpath "$5")
  mkdir -p "$6"
  RATE_OUT=$(realpath "$6")
}

# rate_start_intercept ours|original BIN BIND_IP OUT_DIR : intercept on the assistant, capturing
# the target's answers on its target-side device, under rusage.py (OUT_DIR/intercept-rusage.json);
# returns once it listens. The original gets its own flags (-l LOG). Sets RATE_INTERCEPT_PID.
rate_start_intercept() {
  local flavour=$1 bin=$2 bind=$3 out=$4
  local args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -b "$bind")
  if [[ $flavour == ours ]]; then
    args+=(-p "$LAB_TUNNEL_PORT" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0)
  else
    args+=(-l "$LAB_DIR/intercept-own.log")
  fi
  lab_bg intercept "$LAB_NS_ASSIST" python3 "$RATE_HERE/rusage.py" "$out/intercept-rusage.json" -- "$bin" "${args[@]}"
  RATE_INTERCEPT_PID=$LAB_LAST_PID
  lab_wait_port "$LAB_NS_ASSIST" "$bind" "$LAB_TUNNEL_PORT" 15
}

# rate_keep_logs OUT_DIR : the daemons' logs into OUT_DIR, and intercept's counters at shutdown
# as OUT_DIR/intercept-stats.json (empty for the original, whose log says other things).
rate_keep_logs() {
  local f
  for f in "$LAB_DIR"/tcpcopy.log "$LAB_DIR"/intercept.log "$LAB_DIR"/*-own.log; do
    if [[ -e $f ]]; then cp "$f" "$1/"; fi
  done
  python3 "$RATE_TOOLS" intercept-stats "$LAB_DIR/intercept.log" >"$1/intercept-stats.json"
}

# rate_server_sysctls NS : a server namespace that takes ~20k connections/s.
rate_server_sysctls() {
  ip netns exec "$1" sysctl -q -w net.core.somaxconn=$RATE_BACKLOG \
    net.ipv4.tcp_max_syn_backlog=$RATE_BACKLOG >/dev/null || lab_die "server sysctls in $1 failed"
}

# rate_client_sysctls NS : many short connections from one address: the whole port range, and
# ports in TIME_WAIT reused.
rate_client_sysctls() {
  ip netns exec "$1" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1 \
    >/dev/null || lab_die "client sysctls in $1 failed"
}

# rate_raise_nofile : as many descriptors as allowed (up to 262144: nginx's 65536 connections
# per worker, wrk); every process started afterwards inherits it. Without CAP_SYS_RESOURCE the
# hard limit stays as it is. Sets RATE_NOFILE.
rate_raise_nofile() {
  ulimit -Hn 262144 2>/dev/null || true
  ulimit -Sn "$(ulimit -Hn)"
  RATE_NOFILE=$(ulimit -Sn)
}

# rate_start_nginx NS IP PORT : nginx configured for the rate, the same on the online server and
# on the target: one worker per core, 65536 connections each (fewer when the open-file limit
# cannot be raised: the limit less 1000), listen backlog $RATE_BACKLOG,
# every request answered "ok" from memory; the access log has "METHOD URI STATUS" per request,
# unbuffered. Sets RATE_NGINX_LOG, RATE_NGINX_PID, RATE_NGINX_DIR, RATE_NGINX_CONNECTIONS.
rate_start_nginx() {
  local ns=$1 ip=$2 port=$3
  local d="$LAB_DIR/rate-nginx-$ns-$port"
  mkdir -p "$d/tmp"
  rate_server_sysctls "$ns"
  rate_raise_nofile
  RATE_NGINX_CONNECTIONS=$((RATE_NOFILE - 1000 < 65536 ? RATE_NOFILE - 1000 : 65536))
  cat >"$d/nginx.conf" <<EOF
user root;
worker_processes $(nproc);
worker_rlimit_nofile $RATE_NOFILE;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $RATE_NGINX_CONNECTIONS; }
http {
    log_format rate '\$request_method \$request_uri \$status';
    access_log $d/access.log rate;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 65s;
    server {
        listen $ip:$port backlog=$RATE_BACKLOG;
        location / { return 200 "ok\n"; }
    }
}
EOF
  : >"$d/access.log"
  ip netns exec "$ns" nginx -t -q -e "$d/error.log" -c "$d/nginx.conf" ||
    lab_die "nginx config test failed, see $d/error.log"
  lab_bg "rate-nginx-$ns-$port" "$ns" nginx -e "$d/error.log" -c "$d/nginx.conf"
  RATE_NGINX_PID=$LAB_LAST_PID
  RATE_NGINX_LOG="$d/access.log"
  RATE_NGINX_DIR=$d
  lab_wait_port "$ns" "$ip" "$port"
}

# rate_netstat NS OUT.json : every TCP/IP counter of a namespace (nstat names).
rate_netstat() {
  ip netns exec "$1" cat /proc/net/netstat /proc/net/snmp >"$2.txt"
  python3 "$RATE_TOOLS" netstat "$2.txt" >"$2"
}

# rate_wait_quiet FILE QUIET_S MAX_S : returns once FILE has not grown for QUIET_S seconds (or
# after MAX_S); prints the seconds (0.1 s resolution) from the call to FILE's last growth.
rate_wait_quiet() {
  local file=$1 quiet=$((${2} * 1000000)) max=$((${3} * 1000000)) size last=-1 now
  local start=${EPOCHREALTIME/./}
  local grew=$start
  while :; do
    now=${EPOCHREALTIME/./}
    size=$(stat -c %s "$file" 2>/dev/null || echo 0)
    if [[ $size != "$last" ]]; then
      last=$size
      grew=$now
    elif ((now - grew >= quiet)); then
      break
    fi
    if ((now - start >= max)); then break; fi
    sleep 0.1
  done
  local d=$((grew - start))
  printf '%d.%d\n' $((d / 1000000)) $((d % 1000000 / 100000))
}

# rate_wrk NS SECONDS CONNECTIONS THREADS URL OUT : wrk with the unique-URI script.
rate_wrk() {
  local ns=$1 secs=$2 conns=$3 threads=$4 url=$5 out=$6
  ip netns exec "$ns" wrk -t "$threads" -c "$conns" -d "${secs}s" -s "$RATE_WRK_LUA" "$url" >"$out" 2>&1 ||
    lab_die "wrk failed: $(tail -n 3 "$out")"
  cat "$out" >&2
}

# rate_install : what the rate benchmark needs, on a fresh machine too: the project's packages
# (scripts/setup.sh without its build; it skips apt when they are all there) and the
# benchmark-only wrk. bench/rate.sh does it once and exports RATE_INSTALLED=1 for the runs.
rate_install() {
  if [[ ${RATE_INSTALLED:-0} == 1 ]]; then return 0; fi
  SETUP_SKIP_BUILD=1 bash "$RATE_HERE/../scripts/setup.sh" >&2 || lab_die "scripts/setup.sh failed"
  if command -v wrk >/dev/null; then return 0; fi
  lab_log "installing wrk (benchmark only)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q wrk >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } ||
    lab_die "cannot install wrk"
}
