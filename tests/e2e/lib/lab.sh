# shellcheck shell=bash disable=SC2034  # the LAB_* variables are for the scripts that source this
# The replay lab: network namespaces joined by veth pairs, real servers inside them, and a
# teardown that runs on every exit path. Source this file, then:
#
#   lab_init mytest          # unique names, temp dir, EXIT/INT/TERM trap
#   lab_up                   # namespaces, links, addresses, routes, sysctls
#   lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
#   ...
#
# Topology and addresses: docs/lab.md. Everything stays inside the namespaces created here:
# no namespace has a default route or a link to the root namespace.
#
# Safety rules the functions keep: only PIDs started through this library are signalled (plus
# any process still inside one of this lab's own namespaces at teardown, which can only be
# ours); namespace names carry the tag and $$; the temp dir is removed at the end unless
# LAB_KEEP=1.

# ---------------------------------------------------------------------------------------------
# Fixed addressing (see docs/lab.md)
LAB_TC_IP=198.18.1.1              # tc end of the tc<->target link
LAB_TARGET_IP=198.18.1.2          # the target server as offline tcpcopy sees it
LAB_TARGET_ASSIST_SIDE_IP=198.18.2.2
LAB_ASSIST_IP=198.18.2.1          # the target's next hop for every client network
LAB_TC_TUNNEL_IP=198.18.3.1
LAB_ASSIST_TUNNEL_IP=198.18.3.2   # intercept listens here for tcpcopy's tunnel
LAB_ONLINE_IP=192.0.2.1           # the online server, as the real clients see it
LAB_ONLINE_TARGET_SIDE_IP=198.18.4.1
LAB_TARGET_LIVE_IP=198.18.4.2     # the target server as live tcpcopy (in online) sees it
LAB_ONLINE_TUNNEL_IP=198.18.5.1   # live tcpcopy's end of the online<->assist tunnel link
LAB_ASSIST_LIVE_TUNNEL_IP=198.18.5.2  # intercept's tunnel address as live tcpcopy reaches it
LAB_CLIENT_IP=192.0.2.10          # primary client address
LAB_CLIENT_IPS="192.0.2.10 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 192.0.2.16 192.0.2.17 192.0.2.18 192.0.2.19 192.0.2.20"
LAB_CLIENT_NETS="192.0.2.0/24 198.51.100.0/24 203.0.113.0/24"
LAB_TUNNEL_PORT=36524
# The networks tcpcopy reaches intercept from in the lab (its tunnel ends 198.18.3.1, 198.18.5.1):
# intercept refuses to listen on a lab address open to anyone, so lab intercepts get --allow.
LAB_TUNNEL_ALLOW=198.18.0.0/15

# Interface names, each inside its own namespace ("to-<peer>").
LAB_IF_TC_TARGET=to-target        # in tc: towards the target (replayed packets leave here)
LAB_IF_TC_ASSIST=to-assist        # in tc: the tunnel link
LAB_IF_TARGET_TC=to-tc            # in target
LAB_IF_TARGET_ASSIST=to-assist    # in target: responses for client networks leave here
LAB_IF_TARGET_ONLINE=to-online    # in target
LAB_IF_ASSIST_TARGET=to-target    # in assist: intercept captures responses here
LAB_IF_ASSIST_TC=to-tc            # in assist: the tunnel link
LAB_IF_CLIENT_ONLINE=to-online    # in client
LAB_IF_ONLINE_CLIENT=to-client    # in online: live capture of client traffic
LAB_IF_ONLINE_TARGET=to-target    # in online: live replay leaves here
LAB_IF_ONLINE_ASSIST=to-assist    # in online: live tcpcopy's tunnel to intercept
LAB_IF_ASSIST_ONLINE=to-online    # in assist: the live tunnel link

LAB_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

# ---------------------------------------------------------------------------------------------
# State
LAB_TAG=
LAB_DIR=
LAB_NAMESPACES=()
LAB_PIDS=()
LAB_PID_NAMES=()
LAB_TEARDOWN_HOOKS=()
declare -gA _lab_monitors=()
declare -gA _lab_nginx_where=()
_lab_settle_seq=0
_lab_down_done=0

lab_log() { printf '[lab %s] %s\n' "${LAB_TAG:-?}" "$*" >&2; }
lab_die() {
  printf '[lab %s] FAIL: %s\n' "${LAB_TAG:-?}" "$*" >&2
  exit 1
}

lab_require_root() {
  ((EUID == 0)) || lab_die "must run as root (network namespaces); try: sudo bash $0"
}

# lab_require_cmd CMD... : a missing tool is a failure, never a skip.
lab_require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || lab_die "required command '$c' not found (run scripts/setup.sh)"
  done
}

# lab_daemon BUILD_DIR NAME : prints the path of a built daemon (tcpcopy, intercept) or fails
# the test with a clear message; a missing daemon is a failure, never a skip.
lab_daemon() {
  local path="$1/$2/$2"
  [[ -x $path ]] || lab_die "$path not built (cmake --build $1 --target $2)"
  realpath "$path"
}

# lab_on_teardown CMD... : run CMD (a string, eval'd) first thing in lab_down. Tests add their
# own clean-up here instead of replacing the lab's EXIT trap.
lab_on_teardown() {
  LAB_TEARDOWN_HOOKS+=("$*")
}

# lab_init TAG : names, temp dir and the teardown trap. Call once per test process.
lab_init() {
  local tag=${1:?lab_init needs a tag}
  [[ $tag =~ ^[a-z][a-z0-9]{0,11}$ ]] || lab_die "tag '$tag' must be [a-z][a-z0-9]{0,11}"
  lab_require_root
  lab_require_cmd ip ss sysctl
  LAB_TAG="$tag$$"
  LAB_NS_CLIENT="$LAB_TAG-client"
  LAB_NS_ONLINE="$LAB_TAG-online"
  LAB_NS_TC="$LAB_TAG-tc"
  LAB_NS_TARGET="$LAB_TAG-target"
  LAB_NS_ASSIST="$LAB_TAG-assist"
  LAB_DIR=$(mktemp -d "/tmp/lab-$LAB_TAG-XXXXXX")
  _lab_down_done=0
  trap '_lab_on_exit' EXIT
  trap '_lab_on_signal INT 130' INT
  trap '_lab_on_signal TERM 143' TERM
  export LAB_REPO_ROOT LAB_TAG LAB_DIR LAB_NS_CLIENT LAB_NS_ONLINE LAB_NS_TC LAB_NS_TARGET LAB_NS_ASSIST
  export LAB_TC_IP LAB_TARGET_IP LAB_TARGET_ASSIST_SIDE_IP LAB_ASSIST_IP LAB_TC_TUNNEL_IP \
    LAB_ASSIST_TUNNEL_IP LAB_ONLINE_IP LAB_ONLINE_TARGET_SIDE_IP LAB_TARGET_LIVE_IP \
    LAB_CLIENT_IP LAB_CLIENT_IPS LAB_CLIENT_NETS LAB_TUNNEL_PORT LAB_TUNNEL_ALLOW LAB_ONLINE_TUNNEL_IP \
    LAB_ASSIST_LIVE_TUNNEL_IP
  export LAB_IF_TC_TARGET LAB_IF_TC_ASSIST LAB_IF_TARGET_TC LAB_IF_TARGET_ASSIST \
    LAB_IF_TARGET_ONLINE LAB_IF_ASSIST_TARGET LAB_IF_ASSIST_TC LAB_IF_CLIENT_ONLINE \
    LAB_IF_ONLINE_CLIENT LAB_IF_ONLINE_TARGET LAB_IF_ONLINE_ASSIST LAB_IF_ASSIST_ONLINE
}

_lab_on_exit() {
  local rc=$?
  lab_down "$rc"
  exit "$rc"
}

_lab_on_signal() {
  lab_log "caught SIG$1, tearing down"
  trap - EXIT
  lab_down "$2"
  exit "$2"
}

# ---------------------------------------------------------------------------------------------
# Topology

# lab_ns_exec NS CMD... : run a command inside a lab namespace.
lab_ns_exec() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

_lab_add_ns() {
  ip netns add "$1" || lab_die "cannot create namespace $1"
  LAB_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# _lab_link NS_A IF_A NS_B IF_B : a veth pair created directly inside the two namespaces, so
# its names never appear in (or clash with) the root namespace.
_lab_link() {
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
    lab_die "cannot create veth $1:$2 <-> $3:$4"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

_lab_sysctl() {
  local ns=$1
  shift
  ip netns exec "$ns" sysctl -q -w "$@" >/dev/null || lab_die "sysctl $* in $ns failed"
}

lab_up() {
  [[ -n $LAB_TAG ]] || lab_die "lab_up before lab_init"
  local ns
  for ns in "$LAB_NS_CLIENT" "$LAB_NS_ONLINE" "$LAB_NS_TC" "$LAB_NS_TARGET" "$LAB_NS_ASSIST"; do
    _lab_add_ns "$ns"
  done

  _lab_link "$LAB_NS_TC" "$LAB_IF_TC_TARGET" "$LAB_NS_TARGET" "$LAB_IF_TARGET_TC"
  _lab_link "$LAB_NS_TARGET" "$LAB_IF_TARGET_ASSIST" "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TARGET"
  _lab_link "$LAB_NS_TC" "$LAB_IF_TC_ASSIST" "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TC"
  _lab_link "$LAB_NS_CLIENT" "$LAB_IF_CLIENT_ONLINE" "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT"
  _lab_link "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_TARGET" "$LAB_NS_TARGET" "$LAB_IF_TARGET_ONLINE"
  _lab_link "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_ASSIST" "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_ONLINE"

  ip -n "$LAB_NS_TC" addr add "$LAB_TC_IP/24" dev "$LAB_IF_TC_TARGET"
  ip -n "$LAB_NS_TARGET" addr add "$LAB_TARGET_IP/24" dev "$LAB_IF_TARGET_TC"
  ip -n "$LAB_NS_TARGET" addr add "$LAB_TARGET_ASSIST_SIDE_IP/24" dev "$LAB_IF_TARGET_ASSIST"
  ip -n "$LAB_NS_ASSIST" addr add "$LAB_ASSIST_IP/24" dev "$LAB_IF_ASSIST_TARGET"
  ip -n "$LAB_NS_TC" addr add "$LAB_TC_TUNNEL_IP/24" dev "$LAB_IF_TC_ASSIST"
  ip -n "$LAB_NS_ASSIST" addr add "$LAB_ASSIST_TUNNEL_IP/24" dev "$LAB_IF_ASSIST_TC"
  ip -n "$LAB_NS_ONLINE" addr add "$LAB_ONLINE_IP/24" dev "$LAB_IF_ONLINE_CLIENT"
  ip -n "$LAB_NS_ONLINE" addr add "$LAB_ONLINE_TARGET_SIDE_IP/24" dev "$LAB_IF_ONLINE_TARGET"
  ip -n "$LAB_NS_TARGET" addr add "$LAB_TARGET_LIVE_IP/24" dev "$LAB_IF_TARGET_ONLINE"
  ip -n "$LAB_NS_ONLINE" addr add "$LAB_ONLINE_TUNNEL_IP/24" dev "$LAB_IF_ONLINE_ASSIST"
  ip -n "$LAB_NS_ASSIST" addr add "$LAB_ASSIST_LIVE_TUNNEL_IP/24" dev "$LAB_IF_ASSIST_ONLINE"
  local ip
  for ip in $LAB_CLIENT_IPS; do
    ip -n "$LAB_NS_CLIENT" addr add "$ip/24" dev "$LAB_IF_CLIENT_ONLINE"
  done

  # The target answers every client network through the assistant, never directly.
  local net
  for net in $LAB_CLIENT_NETS; do
    ip -n "$LAB_NS_TARGET" route add "$net" via "$LAB_ASSIST_IP" dev "$LAB_IF_TARGET_ASSIST"
  done
  # Replayed packets from client addresses arrive on to-tc/to-online while the route back
  # points at the assistant: strict reverse-path filtering would drop them.
  local ifc
  for ifc in all default lo "$LAB_IF_TARGET_TC" "$LAB_IF_TARGET_ASSIST" "$LAB_IF_TARGET_ONLINE"; do
    _lab_sysctl "$LAB_NS_TARGET" "net.ipv4.conf.$ifc.rp_filter=0"
  done
  # The assistant receives the target's responses for client addresses and must swallow
  # them: intercept reads them with libpcap, the kernel drops them.
  _lab_sysctl "$LAB_NS_ASSIST" net.ipv4.ip_forward=0
  for ns in "$LAB_NS_CLIENT" "$LAB_NS_ONLINE" "$LAB_NS_TC" "$LAB_NS_TARGET"; do
    _lab_sysctl "$ns" net.ipv4.ip_forward=0
  done

  for ns in "${LAB_NAMESPACES[@]}"; do
    if ip -n "$ns" route show default | grep -q .; then
      lab_die "namespace $ns has a default route"
    fi
  done
  lab_log "up: namespaces ${LAB_NAMESPACES[*]}; temp dir $LAB_DIR"
}

# lab_up_v6 : after lab_up, the same topology in IPv6 (docs/lab.md, "IPv6"): hosts in the ULA
# prefix fd00:198:18::/48 (198.18.X.Y becomes fd00:198:18:X::Y), clients in 2001:db8::/32. No
# duplicate address detection (nodad, accept_dad=0: addresses usable at once), forwarding off
# everywhere, the target's route for the client network via the assistant, and on the assistant
# a blackhole route for it (the responses stop there without ICMPv6 errors back to the target;
# still no default route anywhere).
LAB6_TC_IP=fd00:198:18:1::1
LAB6_TARGET_IP=fd00:198:18:1::2
LAB6_TARGET_ASSIST_SIDE_IP=fd00:198:18:2::2
LAB6_ASSIST_IP=fd00:198:18:2::1
LAB6_TC_TUNNEL_IP=fd00:198:18:3::1
LAB6_ASSIST_TUNNEL_IP=fd00:198:18:3::2
LAB6_ONLINE_IP=2001:db8::1
LAB6_ONLINE_TARGET_SIDE_IP=fd00:198:18:4::1
LAB6_TARGET_LIVE_IP=fd00:198:18:4::2
LAB6_ONLINE_TUNNEL_IP=fd00:198:18:5::1
LAB6_ASSIST_LIVE_TUNNEL_IP=fd00:198:18:5::2
LAB6_CLIENT_IP=2001:db8::10
LAB6_CLIENT_NET=2001:db8::/32
LAB6_TUNNEL_ALLOW=fd00:198:18::/48
_lab_addr6() { # NS ADDR DEV
  ip -n "$1" -6 addr add "$2/64" dev "$3" nodad || lab_die "cannot add $2 in $1"
}
lab_up_v6() {
  ((${#LAB_NAMESPACES[@]} > 0)) || lab_die "lab_up_v6 before lab_up"
  local ns
  for ns in "${LAB_NAMESPACES[@]}"; do
    _lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.forwarding=0
  done
  _lab_addr6 "$LAB_NS_TC" "$LAB6_TC_IP" "$LAB_IF_TC_TARGET"
  _lab_addr6 "$LAB_NS_TARGET" "$LAB6_TARGET_IP" "$LAB_IF_TARGET_TC"
  _lab_addr6 "$LAB_NS_TARGET" "$LAB6_TARGET_ASSIST_SIDE_IP" "$LAB_IF_TARGET_ASSIST"
  _lab_addr6 "$LAB_NS_ASSIST" "$LAB6_ASSIST_IP" "$LAB_IF_ASSIST_TARGET"
  _lab_addr6 "$LAB_NS_TC" "$LAB6_TC_TUNNEL_IP" "$LAB_IF_TC_ASSIST"
  _lab_addr6 "$LAB_NS_ASSIST" "$LAB6_ASSIST_TUNNEL_IP" "$LAB_IF_ASSIST_TC"
  _lab_addr6 "$LAB_NS_ONLINE" "$LAB6_ONLINE_IP" "$LAB_IF_ONLINE_CLIENT"
  _lab_addr6 "$LAB_NS_ONLINE" "$LAB6_ONLINE_TARGET_SIDE_IP" "$LAB_IF_ONLINE_TARGET"
  _lab_addr6 "$LAB_NS_TARGET" "$LAB6_TARGET_LIVE_IP" "$LAB_IF_TARGET_ONLINE"
  _lab_addr6 "$LAB_NS_ONLINE" "$LAB6_ONLINE_TUNNEL_IP" "$LAB_IF_ONLINE_ASSIST"
  _lab_addr6 "$LAB_NS_ASSIST" "$LAB6_ASSIST_LIVE_TUNNEL_IP" "$LAB_IF_ASSIST_ONLINE"
  _lab_addr6 "$LAB_NS_CLIENT" "$LAB6_CLIENT_IP" "$LAB_IF_CLIENT_ONLINE"
  ip -n "$LAB_NS_TARGET" -6 route add "$LAB6_CLIENT_NET" via "$LAB6_ASSIST_IP" dev "$LAB_IF_TARGET_ASSIST" ||
    lab_die "cannot route $LAB6_CLIENT_NET in the target"
  ip -n "$LAB_NS_ASSIST" -6 route add blackhole "$LAB6_CLIENT_NET" ||
    lab_die "cannot add the blackhole route in the assistant"
  for ns in "${LAB_NAMESPACES[@]}"; do
    if ip -n "$ns" -6 route show default | grep -q .; then
      lab_die "namespace $ns has an IPv6 default route"
    fi
  done
  export LAB6_TC_IP LAB6_TARGET_IP LAB6_TARGET_ASSIST_SIDE_IP LAB6_ASSIST_IP LAB6_TC_TUNNEL_IP \
    LAB6_ASSIST_TUNNEL_IP LAB6_ONLINE_IP LAB6_ONLINE_TARGET_SIDE_IP LAB6_TARGET_LIVE_IP \
    LAB6_ONLINE_TUNNEL_IP LAB6_ASSIST_LIVE_TUNNEL_IP LAB6_CLIENT_IP LAB6_CLIENT_NET LAB6_TUNNEL_ALLOW
  lab_log "IPv6 up: hosts in fd00:198:18::/48, clients in $LAB6_CLIENT_NET"
}

# lab_url IP PORT PATH : http://IP:PORT/PATH, an IPv6 address in brackets.
lab_url() {
  if [[ $1 == *:* ]]; then echo "http://[$1]:$2$3"; else echo "http://$1:$2$3"; fi
}

# lab_offload NS IFACE on|off : switch TSO/GSO/GRO and checksum offload of one veth end.
# The lab leaves offloads as the kernel sets them; tests that need them off say so.
lab_offload() {
  lab_require_cmd ethtool
  ip netns exec "$1" ethtool -K "$2" tso "$3" gso "$3" gro "$3" tx "$3" rx "$3" >/dev/null ||
    lab_die "ethtool -K $2 in $1 failed"
}

# ---------------------------------------------------------------------------------------------
# Processes

# lab_bg NAME NS CMD... : start CMD in the background inside NS (or in the root namespace when
# NS is "-"), stdout+stderr to $LAB_DIR/NAME.log; sets LAB_LAST_PID and registers the PID for
# teardown. `ip netns exec` execs the command, so the PID is the command's own.
lab_bg() {
  local name=$1 ns=$2
  shift 2
  if [[ $ns == - ]]; then
    "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  else
    ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  fi
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
  LAB_PID_NAMES+=("$name")
}

# _lab_descendants PID : every live descendant of PID (children first), by walking /proc.
_lab_descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do
    _lab_descendants "$child"
    echo "$child"
  done
}

# lab_stop PID [TIMEOUT_S] : TERM, wait, then KILL one process we started and its descendants.
lab_stop() {
  local pid=$1 timeout=${2:-5} i
  kill -0 "$pid" 2>/dev/null || return 0
  local kids
  kids=$(_lab_descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    lab_log "pid $pid ignored TERM for ${timeout}s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local k
  for k in $kids; do
    kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null
  done
  wait "$pid" 2>/dev/null || true
}

# lab_alive PID : true while a process we started runs (a zombie, dead but not yet waited for,
# counts as gone: kill -0 alone would still succeed on it).
lab_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# lab_wait_exit PID TIMEOUT_S : wait for a process we started to exit by itself; returns its
# exit status, or 124 if it is still running at the deadline (it is left running).
lab_wait_exit() {
  local pid=$1 timeout=$2 i
  for ((i = 0; i < timeout * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      return "$rc"
    fi
    sleep 0.1
  done
  return 124
}

# lab_wait_port NS IP PORT [TIMEOUT_S] : wait until a TCP listener is bound to IP:PORT in NS (IP: IPv4,
# or IPv6 without brackets).
# Looks at the socket table instead of connecting, so servers log nothing.
lab_wait_port() {
  local ns=$1 ip=$2 port=$3 timeout=${4:-10} i
  for ((i = 0; i < timeout * 10; i++)); do
    if ip netns exec "$ns" ss -Hltn "sport = :$port" | awk '{print $4}' |
      grep -Eq "^(\[::\]|\*|0\.0\.0\.0|${ip//./\\.}|\[${ip//./\\.}\]):$port$"; then
      return 0
    fi
    sleep 0.1
  done
  lab_die "nothing listens on $ip:$port in $ns after ${timeout}s"
}

# lab_wait_file_match FILE REGEX [TIMEOUT_S]
lab_wait_file_match() {
  local file=$1 re=$2 timeout=${3:-10} i
  for ((i = 0; i < timeout * 10; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  lab_die "no line matching '$re' in $file after ${timeout}s"
}

# ---------------------------------------------------------------------------------------------
# Servers

# lab_start_nginx NS LISTEN_IP PORT : nginx with its own prefix under $LAB_DIR/nginx-PORT.
# LISTEN_IP may be a space-separated list, of IPv4 and IPv6 addresses (one listen each; the
# settle request goes to the first). Sets LAB_NGINX_ACCESS_LOG and LAB_NGINX_PID. Locations:
#   /            and any path: deterministic files; /index.html is small
#   /static/N    N in {1k 4k 16k 64k 256k 1m}: N bytes of a fixed pattern
#   /api/...     200 with the body "api <uri>\n" (any method, body discarded)
#   /upload      any method incl. POST up to 1 MB: nginx reads the whole body (it is
#                proxied to a sink server on a unix socket) and answers 200 "stored N\n"
# The access log line is exactly: $request_method $request_uri $content_length $request_length
lab_start_nginx() {
  local ns=$1 ips=$2 port=$3 ip listen=
  lab_require_cmd nginx
  for ip in $ips; do
    if [[ $ip == *:* ]]; then listen+="listen [$ip]:$port; "; else listen+="listen $ip:$port; "; fi
  done
  local d="$LAB_DIR/nginx-$ns-$port"
  mkdir -p "$d/html/static" "$d/tmp"
  printf 'lab index\n' >"$d/html/index.html"
  printf 'hello from the lab\n' >"$d/html/hello.txt"
  local size bytes
  for size in 1k 4k 16k 64k 256k 1m; do
    case $size in
      *k) bytes=$((${size%k} * 1024)) ;;
      *m) bytes=$((${size%m} * 1024 * 1024)) ;;
    esac
    # Deterministic content: the line "0123456789abcdef...\n" repeated, cut to size.
    # (process substitution: yes dies of SIGPIPE, which must not trip pipefail)
    head -c "$bytes" < <(yes '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') \
      >"$d/html/static/$size"
  done
  cat >"$d/nginx.conf" <<EOF
# Workers run as root: the lab's temp dir is private (0700) and lives only for one test.
user root;
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    log_format lab '\$request_method \$request_uri \$content_length \$request_length';
    access_log $d/access.log lab;
    # Who sent each request (client address:port), for tests of address rewriting (-c, -H).
    log_format peers '\$remote_addr \$remote_port';
    # lab_nginx_settle's sentinel requests are the lab's own, not the replay's.
    map \$request_uri \$lab_replayed { ~^/lab-settle- 0; default 1; }
    access_log $d/peers.log peers if=\$lab_replayed;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 65s;
    keepalive_requests 10000;
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    sendfile off;

    server {
        $listen
        root $d/html;
        location / { }
        location /api/ { return 200 "api \$request_uri\n"; }
        location /upload {
            proxy_pass http://unix:$d/sink.sock:;
            proxy_request_buffering on;
        }
    }
    # The sink behind /upload: receives the fully-read body from the server above.
    server {
        listen unix:$d/sink.sock;
        access_log off;
        location / { return 200 "stored \$content_length\n"; }
    }
}
EOF
  ip netns exec "$ns" nginx -t -q -e "$d/error.log" -c "$d/nginx.conf" ||
    lab_die "nginx config test failed, see $d/error.log"
  lab_bg "nginx-$ns-$port" "$ns" nginx -e "$d/error.log" -c "$d/nginx.conf"
  LAB_NGINX_PID=$LAB_LAST_PID
  LAB_NGINX_ACCESS_LOG="$d/access.log"
  LAB_NGINX_PEERS_LOG="$d/peers.log"
  LAB_NGINX_DIR=$d
  _lab_nginx_where[$d/access.log]="$ns ${ips%% *} $port"
  for ip in $ips; do lab_wait_port "$ns" "$ip" "$port"; done
}

# lab_nginx_settle [ACCESS_LOG] : returns once nginx has logged every request it had received
# when this was called (default: the nginx started last). Replaces "sleep a moment so late
# lines land": a sentinel request (GET /lab-settle-...) is sent from the server's own namespace
# and awaited in the log; nginx runs one worker, which handles the requests that arrived before
# the sentinel's connection before it reads the sentinel's request. The sentinel lines are left
# out by lab_requests_nginx and lab_nginx_count (and never written to peers.log).
lab_nginx_settle() {
  local log=${1:-$LAB_NGINX_ACCESS_LOG} ns ip port
  [[ -n ${_lab_nginx_where[$log]:-} ]] || lab_die "no lab nginx writes $log"
  read -r ns ip port <<<"${_lab_nginx_where[$log]}"
  _lab_settle_seq=$((_lab_settle_seq + 1))
  local path="/lab-settle-$LAB_TAG-$_lab_settle_seq"
  ip netns exec "$ns" bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET %s HTTP/1.0\r\n\r\n" "$3" >&3 && cat <&3 >/dev/null' \
    settle "$ip" "$port" "$path" || lab_die "nginx at $ip:$port did not answer the settle request"
  lab_wait_file_match "$log" "^GET $path " 30
}

# lab_nginx_count ACCESS_LOG : requests in the log, the settle sentinels left out.
lab_nginx_count() {
  grep -vc ' /lab-settle-' "$1" || true
}

# lab_start_redis NS IP PORT : redis-server with no persistence, in $LAB_DIR/redis-NS-PORT. IP
# may be a space-separated list (IPv4 and IPv6). Sets LAB_REDIS_PID.
lab_start_redis() {
  local ns=$1 ips=$2 port=$3 ip
  lab_require_cmd redis-server redis-cli
  local d="$LAB_DIR/redis-$ns-$port"
  mkdir -p "$d"
  cat >"$d/redis.conf" <<EOF
bind $ips
port $port
protected-mode no
daemonize no
dir $d
pidfile $d/redis.pid
logfile $d/redis.log
save ""
appendonly no
EOF
  lab_bg "redis-$ns-$port" "$ns" redis-server "$d/redis.conf"
  LAB_REDIS_PID=$LAB_LAST_PID
  LAB_REDIS_DIR=$d
  for ip in $ips; do lab_wait_port "$ns" "$ip" "$port"; done
}

# lab_redis_monitor_start NS IP PORT FILE : record every command the server receives.
# Raw MONITOR output goes to FILE.raw; lab_redis_monitor_stop writes FILE normalised.
lab_redis_monitor_start() {
  local ns=$1 ip=$2 port=$3 file=$4
  _lab_monitor_ns=$ns _lab_monitor_ip=$ip _lab_monitor_port=$port _lab_monitor_file=$file
  ip netns exec "$ns" redis-cli -h "$ip" -p "$port" MONITOR >"$file.raw" 2>&1 </dev/null &
  _lab_monitor_pid=$!
  _lab_monitors[$file]="$ns $ip $port $_lab_monitor_pid"
  LAB_PIDS+=("$_lab_monitor_pid")
  LAB_PID_NAMES+=(redis-monitor)
  lab_wait_file_match "$file.raw" '^OK$' 10
}

# lab_redis_monitor_stop [FILE] : sends a sentinel command, waits until MONITOR has printed it
# (so every earlier command is in the file), stops the monitor, and writes the normalised
# commands (arguments only, no timestamp, db or client) one per line to FILE. Without FILE it
# stops the monitor started last; with FILE, the one writing FILE (several may run at once).
lab_redis_monitor_stop() {
  if [[ -n ${1:-} ]]; then
    [[ -n ${_lab_monitors[$1]:-} ]] || lab_die "no redis monitor writes $1"
    read -r _lab_monitor_ns _lab_monitor_ip _lab_monitor_port _lab_monitor_pid <<<"${_lab_monitors[$1]}"
    _lab_monitor_file=$1
  fi
  local sentinel="lab-monitor-sentinel-$LAB_TAG-$RANDOM"
  ip netns exec "$_lab_monitor_ns" redis-cli -h "$_lab_monitor_ip" -p "$_lab_monitor_port" \
    ECHO "$sentinel" >/dev/null || lab_die "redis at $_lab_monitor_ip:$_lab_monitor_port unreachable"
  lab_wait_file_match "$_lab_monitor_file.raw" "\"ECHO\" \"$sentinel\"" 10
  lab_stop "$_lab_monitor_pid"
  # (no command at all is a result for the caller to judge, not a failed pipeline under pipefail)
  { grep -v -F "\"$sentinel\"" "$_lab_monitor_file.raw" | grep -v '^OK$' || true; } |
    sed -E 's/^[0-9]+\.[0-9]+ \[[0-9]+ [^ ]+\] //' >"$_lab_monitor_file"
  unset '_lab_monitors[$_lab_monitor_file]'
}

# lab_requests_nginx ACCESS_LOG : the normalised sorted request multiset (settle sentinels out).
lab_requests_nginx() {
  { grep -v ' /lab-settle-' "$1" || true; } | LC_ALL=C sort
}

# lab_requests_redis MONITOR_FILE : the normalised sorted command multiset.
lab_requests_redis() {
  LC_ALL=C sort "$1"
}

# lab_capture_start NAME NS IFACE [FILTER...] : tcpdump to $LAB_DIR/NAME.pcap, returns once it
# listens. Sets LAB_LAST_PID. Stop it with lab_capture_stop.
lab_capture_start() {
  local name=$1 ns=$2 ifc=$3
  shift 3
  lab_require_cmd tcpdump
  lab_bg "$name.tcpdump" "$ns" tcpdump -i "$ifc" -s 65535 -U -n -w "$LAB_DIR/$name.pcap" "$@"
  lab_wait_file_match "$LAB_DIR/$name.tcpdump.log" 'listening on' 10
}

# lab_capture_stop PID PCAP FILTER [COUNT] [TIMEOUT_S] : stop a capture once its file holds at
# least COUNT (default 1) packets matching the tcpdump FILTER (one word: quote it). tcpdump drops
# what it has not yet read from the kernel when it is signalled, so the caller names the packet
# that must be in the file first: the last one it expects, or a sentinel it sent after the
# packets that matter (tcpdump -U writes packets in arrival order). Fails the test when they are
# not there after TIMEOUT_S (default 30) seconds, a deadline for a broken capture only.
lab_capture_stop() {
  local pid=$1 file=$2 filter=$3 count=${4:-1} timeout=${5:-30} i
  local -a words
  read -ra words <<<"$filter"
  for ((i = 0; i < timeout * 10; i++)); do
    (($(lab_pcap_count "$file" "${words[@]}") >= count)) && break
    sleep 0.1
  done
  (($(lab_pcap_count "$file" "${words[@]}") >= count)) ||
    lab_die "capture $file: fewer than $count packets matching '$filter' after ${timeout}s"
  lab_stop "$pid"
}

# lab_capture_stop_quiet PID PCAP [QUIET_S] : for tools that record traffic of unknown extent
# (scripts/make-fixtures.sh, bench/make_capture.sh), never for a test's check: stop a capture
# once its file has not grown for QUIET_S seconds (default 1, at most 15 s of waiting).
lab_capture_stop_quiet() {
  local pid=$1 file=$2 quiet=${3:-1} size last=-1 still=0 i
  for ((i = 0; i < 150; i++)); do
    size=$(stat -c %s "$file" 2>/dev/null || echo 0)
    if [[ $size == "$last" ]]; then
      still=$((still + 1))
      ((still >= quiet * 10)) && break
    else
      still=0
      last=$size
    fi
    sleep 0.1
  done
  lab_stop "$pid"
}

# lab_pcap_count PCAP FILTER... : packets in a capture that match a tcpdump filter
lab_pcap_count() {
  local file=$1
  shift
  tcpdump -r "$file" -nn "$@" 2>/dev/null | wc -l
}

# ---------------------------------------------------------------------------------------------
# Teardown

# lab_down [RC] : idempotent. Stops our processes, then any process left in our namespaces,
# deletes the namespaces (their veths go with them) and removes the temp dir. With RC != 0 the
# tail of every log in the temp dir is printed first.
lab_down() {
  local rc=${1:-0}
  ((_lab_down_done)) && return 0
  _lab_down_done=1
  [[ -n $LAB_TAG ]] || return 0
  local hook
  for hook in "${LAB_TEARDOWN_HOOKS[@]}"; do
    eval "$hook" || lab_log "teardown hook failed: $hook"
  done
  local i
  for ((i = ${#LAB_PIDS[@]} - 1; i >= 0; i--)); do
    lab_stop "${LAB_PIDS[i]}" 3
  done
  local ns pid
  for ns in "${LAB_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      lab_log "killing leftover pid $pid in $ns"
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  for ns in "${LAB_NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
  done
  LAB_NAMESPACES=()
  if [[ -n $LAB_DIR && -d $LAB_DIR ]]; then
    if ((rc != 0)); then
      local f
      for f in "$LAB_DIR"/*.log "$LAB_DIR"/*/error.log "$LAB_DIR"/*/redis.log; do
        [[ -s $f ]] || continue
        printf '[lab %s] ---- tail of %s\n' "$LAB_TAG" "$f" >&2
        tail -n 20 "$f" >&2
      done
    fi
    if [[ ${LAB_KEEP:-0} == 1 ]]; then
      lab_log "LAB_KEEP=1: leaving $LAB_DIR"
    else
      rm -rf "$LAB_DIR"
    fi
  fi
}
