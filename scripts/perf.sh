#!/usr/bin/env bash
# scripts/perf.sh: rerun every figure of docs/PERFORMANCE.md in one go.
#
# Builds rcmhss and diamload, starts a private redis-server, provisions IMSIs
# through rcmhss's admin API (diamload provision), runs each scenario of
# issue 7 side by side in the same run (closed loop, same connections and
# window), and writes docs/PERFORMANCE.md's measured section and
# docs/perf-report.html (diamload --report of the rcmhss+Redis run).
#
#   scripts/perf.sh                       # all scenarios, 1k and 1M subscribers
#   PERF_MILLION=0 scripts/perf.sh        # skip the 1M-subscriber comparison
#   PERF_DURATION=10s PERF_CONNS=2 PERF_WINDOW=128 scripts/perf.sh
#
# Every process it starts listens on 127.0.0.1 on a free port and is stopped
# (by its PID) when the script exits. Needs go, redis-server, redis-cli,
# python3 and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${PERF_DURATION:-5s}
CONNS=${PERF_CONNS:-2}
WINDOW=${PERF_WINDOW:-128}
MILLION=${PERF_MILLION:-1}
SMALL=1000
BIG=1000000
IMSI_START=001010000000001
TOKEN=perf-token-0123456789abcdef
OUT_DOC=${PERF_DOC:-$ROOT/docs/PERFORMANCE.md}
OUT_HTML=${PERF_HTML:-$ROOT/docs/perf-report.html}

WORK=$(mktemp -d -t rcmhss-perf.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s perf: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# waitport PORT: poll until something accepts on 127.0.0.1:PORT (10 s at most).
waitport() {
	python3 - "$1" <<'EOF'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("port %s did not open" % sys.argv[1])
EOF
}
stop() { # stop PID: end one process this script started
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

log "building rcmhss and diamload into $WORK"
(cd "$ROOT" && go build -o "$WORK/rcmhss" ./cmd/rcmhss && go build -o "$WORK/diamload" ./cmd/diamload)
DL=$WORK/diamload

REDIS_PORT=$(freeport)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
	--daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
waitport "$REDIS_PORT"
REDIS=127.0.0.1:$REDIS_PORT
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
log "redis-server $(redis-server --version | awk '{print $3}') on $REDIS"

# run NAME TARGET IMSI_COUNT [extra diamload flags...]: one closed-loop run.
run() {
	local name=$1 target=$2 count=$3
	shift 3
	log "run $name ($DURATION, $CONNS x $WINDOW, $count IMSIs)"
	"$DL" run --target "$target" --dest-realm rcmhss.localdomain --origin-realm rcmhss.localdomain \
		--conns "$CONNS" --window "$WINDOW" --duration "$DURATION" \
		--imsi-start "$IMSI_START" --imsi-count "$count" --progress off \
		--json "$WORK/$name.json" "$@" >"$WORK/$name.txt"
	grep -E 'throughput|latency' "$WORK/$name.txt" | sed 's/^/    /' >&2
}

# warmrun NAME TARGET IMSI_COUNT [flags...]: run after 3 s of the same load,
# unrecorded: the open-loop latency of a process that has just started
# includes its first seconds of heap and cache growth (docs/PERFORMANCE.md).
warmrun() {
	local target=$2 count=$3
	"$DL" run --target "$target" --dest-realm rcmhss.localdomain --origin-realm rcmhss.localdomain \
		--conns "$CONNS" --window "$WINDOW" --duration 3s \
		--imsi-start "$IMSI_START" --imsi-count "$count" --progress off "${@:4}" >/dev/null
	run "$@"
}

# baseline_start NAME [flags...]: start diamload baseline; sets BASE (its
# target) and BASE_PID.
baseline_start() {
	local name=$1
	shift
	local port
	port=$(freeport)
	"$DL" baseline --listen "tcp://127.0.0.1:$port" --origin-realm rcmhss.localdomain "$@" >"$WORK/$name.log" 2>&1 &
	BASE_PID=$!
	PIDS+=($BASE_PID)
	waitport "$port"
	BASE=tcp://127.0.0.1:$port
}

# baseline NAME [flags...]: start diamload baseline, run against it, stop it.
baseline() {
	baseline_start "$@"
	run "$1" "$BASE" "$SMALL"
	stop "$BASE_PID"
}

# baseline_at NAME RATE [flags...]: diamload baseline answering an open loop
# at RATE (after a warm-up), for the latency side by side with rcmhss.
baseline_at() {
	local name=$1 rate=$2
	shift 2
	baseline_start "$name" "$@"
	warmrun "$name" "$BASE" "$SMALL" --rate "$rate"
	stop "$BASE_PID"
}

# rcmhss_start REDIS_ADDR [FAILOVER_SEQ_JUMP]: start rcmhss (embedded store
# when REDIS_ADDR is empty; the failover guard at its default 4096 unless
# given 0); sets DIAM, ADMIN and RCMHSS_PID.
rcmhss_start() {
	local dport aport
	dport=$(freeport)
	aport=$(freeport)
	cat >"$WORK/rcmhss.yaml" <<EOF
diameter:
  listen: [tcp://127.0.0.1:$dport]
  origin_host: hss.rcmhss.localdomain
  origin_realm: rcmhss.localdomain
  allow_loopback: true
admin:
  listen: 127.0.0.1:$aport
  token: $TOKEN
redis:
  addr: "$1"
  failover_seq_jump: ${2:-4096}
security:
  allow_plaintext_keys: true
log:
  level: warn
EOF
	"$WORK/rcmhss" --config "$WORK/rcmhss.yaml" >>"$WORK/rcmhss.log" 2>&1 &
	RCMHSS_PID=$!
	PIDS+=($RCMHSS_PID)
	waitport "$dport"
	waitport "$aport"
	DIAM=tcp://127.0.0.1:$dport
	ADMIN=http://127.0.0.1:$aport
}

# provision COUNT NAME: bulk import through the admin API; records the rate.
provision() {
	log "provision $1 subscribers"
	"$DL" provision --admin "$ADMIN" --token "$TOKEN" --imsi-start "$IMSI_START" --imsi-count "$1" | tee "$WORK/$2.txt" >&2
}

# 1. Stack limits: diamload's own baseline, raw and on rcmhss's server, with
# and without one Redis round trip per request.
baseline base_raw --stack raw
baseline base_raw_redis --stack raw --redis "$REDIS"
baseline base_stack --stack rcmhss
baseline base_stack_redis --stack rcmhss --redis "$REDIS"
rcli flushall >/dev/null

# 2. rcmhss on the embedded store.
rcmhss_start ""
provision "$SMALL" prov_emb
run emb_1k "$DIAM" "$SMALL"
stop "$RCMHSS_PID"

# 3. rcmhss on redis-server: 1k subscribers, then the same at half the peak
# rate (open loop) for the p99 target.
mem0=$(rcli info memory | awk -F: '/^used_memory:/{print $2+0}')
rcmhss_start "$REDIS"
provision "$SMALL" prov_redis_1k
rcli config resetstat >/dev/null
run redis_1k "$DIAM" "$SMALL" --report "$WORK/report.html"
rcli info commandstats | tr -d '\r' >"$WORK/commandstats.txt"
half=$(python3 -c "import json;print(int(json.load(open('$WORK/redis_1k.json'))['throughput_per_s']/2))")
warmrun redis_1k_half "$DIAM" "$SMALL" --rate "$half"
halfemb=$(python3 -c "import json;print(int(json.load(open('$WORK/emb_1k.json'))['throughput_per_s']/2))")
# Memory per subscriber: MEMORY USAGE of one subscriber's keys (after AIRs,
# so the SQN state exists) and the used_memory delta over the 1k range.
rcli --scan --pattern '*001010000000001*' | tr -d '\r' >"$WORK/keys1.txt"
: >"$WORK/memusage.txt"
while read -r k; do
	[ -n "$k" ] && echo "$k $(rcli memory usage "$k" | tr -d '\r')" >>"$WORK/memusage.txt"
done <"$WORK/keys1.txt"
mem1k=$(rcli info memory | awk -F: '/^used_memory:/{print $2+0}')
stop "$RCMHSS_PID"

# The same with the failover guard off (redis.failover_seq_jump: 0), to show
# what its two INFO sections per reservation cost.
rcmhss_start "$REDIS" 0
run redis_1k_noguard "$DIAM" "$SMALL"
stop "$RCMHSS_PID"

# The embedded store at half its peak (open loop), for the p99 target.
rcmhss_start ""
provision "$SMALL" prov_emb2
warmrun emb_1k_half "$DIAM" "$SMALL" --rate "$halfemb"
stop "$RCMHSS_PID"

# The baselines at the same offered rates: what the stack and the machine
# give at that rate without the HSS.
baseline_at base_stack_half "$halfemb" --stack rcmhss
baseline_at base_raw_half "$halfemb" --stack raw
baseline_at base_stack_redis_half "$half" --stack rcmhss --redis "$REDIS"
baseline_at base_raw_redis_half "$half" --stack raw --redis "$REDIS"

# 4. 1M subscribers on redis-server: bulk import rate, then the same run with
# IMSIs drawn at random over the whole range.
if [ "$MILLION" = 1 ]; then
	rcli flushall >/dev/null
	mem0m=$(rcli info memory | awk -F: '/^used_memory:/{print $2+0}')
	rcmhss_start "$REDIS"
	provision "$BIG" prov_1m
	memprov=$(rcli info memory | awk -F: '/^used_memory:/{print $2+0}')
	# The first AIR of every subscriber (after an import, each one's SQN
	# state gains this node's IND slot): a mass attach, measured apart from
	# the comparison, whose 1k side has long been past its first AIRs.
	DURATION=600s run redis_1m_first "$DIAM" "$BIG" --imsi-order seq --requests "$BIG"
	# Alternated four times: one pair of 5 s runs on this machine differs
	# by more than the 10% the target allows.
	for i in a b c d; do
		case $i in
		a | c) run "redis_1m_$i" "$DIAM" "$BIG" --imsi-order random
			run "redis_1k_$i" "$DIAM" "$SMALL" --imsi-order random ;;
		*) run "redis_1k_$i" "$DIAM" "$SMALL" --imsi-order random
			run "redis_1m_$i" "$DIAM" "$BIG" --imsi-order random ;;
		esac
	done
	mem1m=$(rcli info memory | awk -F: '/^used_memory:/{print $2+0}')
	stop "$RCMHSS_PID"
else
	mem0m=0 memprov=0 mem1m=0
fi

cp "$WORK/report.html" "$OUT_HTML"

# 5. The document: machine, raw figures, ratios.
log "writing $OUT_DOC"
cat >"$WORK/machine.txt" <<EOF
nproc=$(nproc)
cpu=$(awk -F: '/model name/{sub(/^ /,"",$2);print $2;exit}' /proc/cpuinfo)
kernel=$(uname -r)
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
go=$(cd "$ROOT" && go version | awk '{print $3}')
redis=$(redis-server --version | awk '{print $3}')
commit=$(cd "$ROOT" && git rev-parse --short HEAD)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
python3 "$ROOT/scripts/perf_doc.py" "$WORK" "$OUT_DOC" \
	duration="$DURATION" conns="$CONNS" window="$WINDOW" small="$SMALL" big="$BIG" million="$MILLION" \
	mem0="$mem0" mem1k="$mem1k" mem0m="$mem0m" memprov="$memprov" mem1m="$mem1m"
log "done: $OUT_DOC, $OUT_HTML"
