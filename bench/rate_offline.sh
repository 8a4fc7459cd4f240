#!/usr/bin/env bash
# One offline run of the production-rate benchmark (bench/rate.sh runs it): replays the capture
# of bench/rate_capture.sh in a fresh namespace lab, intercept on the assistant, nginx on the
# target configured like the capture's online server (bench/rate_lib.sh), and measures:
#   requests delivered, request by request (target access log vs the capture's golden list);
#   wall time of the replay; CPU seconds and peak RSS of tcpcopy and of intercept (both run under
#   bench/rusage.py; intercept is stopped with SIGTERM once the replay is over); tcpcopy's
#   --report JSON (ours only); the target namespace's TCP counters before/after.
#
# Usage: rate_offline.sh ours|original TCPCOPY INTERCEPT CAPTURE.pcap OUT_DIR [ACCELERATE]  (root)
#   ours:     tcpcopy -x 80-<target>:80 -s <intercept> -i CAPTURE -a ACCELERATE --report ...
#             intercept -i <dev> -F 'tcp and src port 80' -p 36524 -b <tunnel address>
#   original: the flags of the original C TCPCopy 1.x (binaries the user built):
#             tcpcopy -x 80-<target>:80 -s <intercept> -i CAPTURE -a ACCELERATE -l LOG
#             intercept -i <dev> -F 'tcp and src port 80' -b <tunnel address> -l LOG
#   ACCELERATE: tcpcopy -a, default 1 (the capture's own pace).
# Environment: RATE_TIMEOUT (seconds to wait for tcpcopy to finish, default 900).
# Writes into OUT_DIR: meta.json, deliver.json, target-net.json, tcpcopy-rusage.json,
# intercept-rusage.json, tcpcopy-report.json (ours), the daemons' logs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=rate_lib.sh
source "$here/rate_lib.sh"
usage="usage: rate_offline.sh ours|original TCPCOPY INTERCEPT CAPTURE.pcap OUT_DIR [ACCELERATE]"
flavour=${1:?$usage}
capture=$(realpath -m "${4:?$usage}")
accelerate=${6:-1}
timeout=${RATE_TIMEOUT:-900}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || {
  echo "rate_offline.sh: RATE_TIMEOUT must be a positive number of seconds" >&2
  exit 2
}
rate_run_args rate_offline.sh "$usage" "$flavour" "${2:?$usage}" "${3:?$usage}" "${5:?$usage}"
tcpcopy_bin=$RATE_TCPCOPY
intercept_bin=$RATE_INTERCEPT
out=$RATE_OUT
golden=${capture%.pcap}.requests.txt
capinfo=${capture%.pcap}.json
[[ -s $golden && -s $capinfo ]] || {
  echo "rate_offline.sh: $capture has no golden list ($golden) or description ($capinfo): make it with bench/rate_capture.sh" >&2
  exit 2
}

lab_require_root
rate_install
lab_require_cmd nginx python3
lab_init rateoff
lab_up
rate_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
target_log=$RATE_NGINX_LOG
target_nginx_dir=$RATE_NGINX_DIR

tcpcopy_args=(-x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" -i "$capture" -a "$accelerate")
if [[ $flavour == ours ]]; then
  tcpcopy_args+=(--stats-interval 1 --report "$out/tcpcopy-report.json")
else
  tcpcopy_args+=(-l "$LAB_DIR/tcpcopy-own.log")
fi
rate_start_intercept "$flavour" "$intercept_bin" "$LAB_ASSIST_TUNNEL_IP" "$out"

rate_netstat "$LAB_NS_TARGET" "$LAB_DIR/net-before.json"
load_before=$(rate_load)
lab_log "$flavour tcpcopy -a $accelerate over $(basename "$capture") (load $load_before)"
# The replay runs in LAB_DIR (env -C): the original writes files into its working directory.
lab_bg tcpcopy "$LAB_NS_TC" env -C "$LAB_DIR" python3 "$here/rusage.py" "$out/tcpcopy-rusage.json" -- \
  "$tcpcopy_bin" "${tcpcopy_args[@]}"
tcpcopy_pid=$LAB_LAST_PID
tc_rc=0
lab_wait_exit "$tcpcopy_pid" "$timeout" || tc_rc=$?
timed_out=0
if ((tc_rc == 124)); then
  lab_log "tcpcopy still running after ${timeout}s: stopping it"
  timed_out=1
  lab_stop "$tcpcopy_pid" 10
fi
load_after=$(rate_load)
sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy.log" >&2 || true
# Requests still on their way are logged within a moment; wait until the log is quiet.
rate_wait_quiet "$target_log" 2 60 >/dev/null
rate_netstat "$LAB_NS_TARGET" "$LAB_DIR/net-after.json"
python3 "$RATE_TOOLS" netdiff "$LAB_DIR/net-before.json" "$LAB_DIR/net-after.json" >"$out/target-net.json"
lab_stop "$RATE_INTERCEPT_PID" 10
python3 "$RATE_TOOLS" deliver "$golden" "$target_log" >"$out/deliver.json"
rate_keep_logs "$out"

python3 "$RATE_TOOLS" meta "$out/meta.json" mode=offline flavour="$flavour" accelerate="$accelerate" \
  tcpcopy_rc="$tc_rc" timed_out="$timed_out" capture="$capture" capinfo="@$capinfo" \
  load_before="$load_before" load_after="$load_after" nginx_worker_connections="$RATE_NGINX_CONNECTIONS" \
  nginx_worker_alerts="$(grep -c 'worker_connections are not enough' "$target_nginx_dir/error.log" || true)" \
  intercept="@$out/intercept-stats.json"
python3 "$here/rate_report.py" --run "$out"
