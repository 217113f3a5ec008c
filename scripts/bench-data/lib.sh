# Shared by scripts/bench-{s3,agent,webhook} (sourced, not run): a temporary work directory,
# servers started on free loopback ports under `timeout` and stopped on exit, the machine's
# description, and one wrk run reduced to a summary line. Only 127.0.0.1 is ever contacted.

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_data="$bench_root/scripts/bench-data"
bench_target="${CARGO_TARGET_DIR:-$bench_root/target}"
bench_bin="$bench_target/release/podpass"
bench_work="$(mktemp -d)"
bench_servers=()
# How long a server started here may live: a net for one left behind, longer than any run (a
# run of bench-s3 with five rounds lasts some ten minutes).
bench_server_life=1800

bench_cleanup() {
  local pid
  for pid in "${bench_servers[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$bench_work"
}
trap bench_cleanup EXIT

bench_need_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "bench: installing Debian's wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
}

bench_need_ab() {
  if ! command -v ab >/dev/null; then
    echo "bench: installing Debian's apache2-utils (ab)" >&2
    apt-get update -qq && apt-get install -y -qq apache2-utils >/dev/null
  fi
}

bench_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_up DATA_DIR [UP_OPTION...]: starts `podpass up` on free loopback ports (at most
# $bench_server_life seconds of life, only warnings logged so that per-request log lines are not
# measured) and waits for its instance.json. Sets bench_endpoint.
bench_up() {
  local data="$1" port
  shift
  port="$(bench_free_port)"
  bench_endpoint="http://127.0.0.1:$port"
  timeout "$bench_server_life" "$bench_bin" up --data-dir "$data" --listen "127.0.0.1:$port" \
    --s3-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --agent-port 0 --no-profile --log warn \
    "$@" >"$bench_work/up.log" 2>&1 &
  bench_servers+=("$!")
  bench_wait_for "$bench_endpoint/" "$bench_work/up.log"
  for _ in $(seq 50); do
    [ -s "$data/instance.json" ] && return 0
    sleep 0.1
  done
  echo "bench: podpass up wrote no instance.json; its log:" >&2
  cat "$bench_work/up.log" >&2
  exit 1
}

# bench_wait_for URL LOG [CURL_OPTION...]: waits up to 10 s for URL to answer at all.
bench_wait_for() {
  local url="$1" log="$2"
  shift 2
  for _ in $(seq 100); do
    if curl -s -o /dev/null -m 1 "$@" "$url"; then return 0; fi
    sleep 0.1
  done
  echo "bench: nothing answers at $url; the server's log:" >&2
  cat "$log" >&2
  exit 1
}

# bench_instance DATA_DIR FIELD: one field of the running instance's record.
bench_instance() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$1/instance.json" "$2"
}

# bench_child PID: the process PID started (the server a `timeout` wrapper runs).
bench_child() {
  local child
  for _ in $(seq 50); do
    child="$(pgrep -P "$1" | head -n 1)" && [ -n "$child" ] && echo "$child" && return 0
    sleep 0.1
  done
  echo "bench: process $1 started no child" >&2
  exit 1
}

# bench_cpu_ms PID: the CPU time (user and system, all threads) PID has used so far, in ms.
bench_cpu_ms() {
  awk -v tick="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / tick }' \
    "/proc/$1/stat"
}

# bench_user_cpu_ms PID: the user-space part of it, less affected by the kernel's scheduling and
# wake-ups (the noisiest part on a shared VM); the split is sampled at clock ticks.
bench_user_cpu_ms() {
  awk -v tick="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print $12 * 1000 / tick }' \
    "/proc/$1/stat"
}

# bench_postgres DATABASE...: a throwaway PostgreSQL server (Debian's binaries, fsync on) on
# a free loopback port, as `postgres` when we are root, with the given databases; stopped and
# removed on exit. Sets bench_pg_bin, bench_pg_port and bench_pg_dir.
bench_postgres() {
  bench_pg_bin="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort | tail -n 1)")"
  bench_pg_port="$(bench_free_port)"
  # Its own directory: the work directory is private to us, and PostgreSQL's user must own this.
  bench_pg_dir="$(mktemp -d)"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$bench_pg_dir"; fi
  bench_as_postgres "$bench_pg_bin/initdb" -D "$bench_pg_dir/data" -A trust -U postgres >/dev/null
  bench_as_postgres "$bench_pg_bin/pg_ctl" start -D "$bench_pg_dir/data" -l "$bench_pg_dir/log" -w \
    -o "-p $bench_pg_port -k $bench_pg_dir -c listen_addresses=127.0.0.1" >/dev/null
  trap bench_stop_postgres EXIT
  local db
  for db in "$@"; do
    bench_as_postgres "$bench_pg_bin/createdb" -h 127.0.0.1 -p "$bench_pg_port" -U postgres "$db"
  done
}

bench_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bench_stop_postgres() {
  bench_as_postgres "$bench_pg_bin/pg_ctl" stop -D "$bench_pg_dir/data" -m immediate -w >/dev/null 2>&1 || true
  rm -rf "$bench_pg_dir"
  bench_cleanup
}

# bench_postgres_cpu_ms: the CPU time the PostgreSQL server (postmaster and its live backends)
# has used so far, in ms.
bench_postgres_cpu_ms() {
  local postmaster pid total=0
  postmaster="$(head -n 1 "$bench_pg_dir/data/postmaster.pid")"
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    total="$(awk -v a="$total" -v b="$(bench_cpu_ms "$pid" 2>/dev/null || echo 0)" 'BEGIN { print a + b }')"
  done
  echo "$total"
}

# bench_ab_head NAME CONCURRENCY DURATION URL: HEAD requests from ApacheBench over kept-alive
# connections (wrk cannot measure HEAD: it waits for the body the answer announces), in
# bench_wrk's summary line, without the server's CPU. DURATION is whole seconds ("3" or "3s").
# ab is one thread, so compare its figures with each other, not with wrk's.
bench_ab_head() {
  local name="$1" concurrency="$2" duration="$3" url="$4"
  local out="$bench_work/$name.txt" percentiles="$bench_work/$name.csv"
  if ! [[ "$duration" =~ ^[0-9]+s?$ ]]; then
    echo "bench: ab runs for whole seconds, not $duration" >&2
    exit 1
  fi
  echo "-- $name: ab -k -i -c$concurrency -t${duration%s}" >&2
  if ! timeout 120 ab -q -r -k -i -c "$concurrency" -t "${duration%s}" -n 10000000 \
    -e "$percentiles" "$url" >"$out" 2>&1; then
    echo "bench: ab failed:" >&2
    cat "$out" >&2
    exit 1
  fi
  awk -v name="$name" -F '[:,]' '
    FILENAME ~ /csv$/ && $1 == "50" { p50 = $2 }
    FILENAME ~ /csv$/ && $1 == "99" { p99 = $2 }
    /^Complete requests/ { requests = $2 + 0 }
    /^Failed requests/ { failed = $2 + 0 }
    /^Non-2xx responses/ { non2xx = $2 + 0 }
    /^Requests per second/ { split($2, words, " "); rps = words[1] }
    END {
      printf "%s: requests/s %s  p50 %sms  p99 %sms  statuses 2xx=%d non-2xx=%d  failed %d  requests %d  server_cpu_ms \n",
        name, rps, p50, p99, requests - non2xx - failed, non2xx, failed, requests
    }' "$out" "$percentiles"
}

bench_machine() {
  echo "== machine"
  echo "cores: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_wrk NAME THREADS CONNECTIONS DURATION URL [WRK_OPTION...]: one wrk run through
# request.lua (environment BENCH_* as that script documents), its full output kept in
# $bench_work/NAME.txt, then one summary line:
#   NAME: requests/s R  p50 A  p99 B  statuses CODE=COUNT ...  socket errors E  requests N  server_cpu_ms C  server_user_ms U
# With BENCH_CPU_PID set, C is the CPU time that process used during the run and U its
# user-space part (else both empty), and
# with BENCH_PERF_DIR set as well, `perf record` samples that process during the run into
# BENCH_PERF_DIR/NAME.perf.data (DWARF call graphs: the release build has no frame pointers).
bench_wrk() {
  local name="$1" threads="$2" connections="$3" duration="$4" url="$5"
  shift 5
  local out="$bench_work/$name.txt"
  local cpu_before="" cpu_ms="" user_before="" user_ms=""
  # Header values (tokens, signatures) are secret-like: show the header names only.
  local shown=() option
  for option in "$@"; do
    case "$option" in
    *:*) shown+=("${option%%:*}: …") ;;
    *) shown+=("$option") ;;
    esac
  done
  echo "-- $name: wrk -t$threads -c$connections -d$duration --latency ${shown[*]}" >&2
  local perf=""
  if [ -n "${BENCH_CPU_PID:-}" ]; then
    cpu_before="$(bench_cpu_ms "$BENCH_CPU_PID")"
    user_before="$(bench_user_cpu_ms "$BENCH_CPU_PID")"
    if [ -n "${BENCH_PERF_DIR:-}" ]; then
      perf record -q -F 999 --call-graph dwarf,16384 -p "$BENCH_CPU_PID" \
        -o "$BENCH_PERF_DIR/$name.perf.data" 2>/dev/null &
      perf=$!
    fi
  fi
  timeout 120 wrk -t"$threads" -c"$connections" -d"$duration" --timeout 2s --latency \
    -s "$bench_data/request.lua" "$@" "$url" >"$out"
  if [ -n "$perf" ]; then
    kill -INT "$perf"
    wait "$perf" 2>/dev/null || true
  fi
  if [ -n "$cpu_before" ]; then
    cpu_ms="$(awk -v a="$cpu_before" -v b="$(bench_cpu_ms "$BENCH_CPU_PID")" 'BEGIN { print b - a }')"
    user_ms="$(awk -v a="$user_before" -v b="$(bench_user_cpu_ms "$BENCH_CPU_PID")" 'BEGIN { print b - a }')"
  fi
  awk -v name="$name" -v cpu_ms="$cpu_ms" -v user_ms="$user_ms" '
    / requests in / { requests = $1 }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /^status / { sub(":", "", $2); statuses = statuses " " $2 "=" $3 }
    /Socket errors:/ { errors = $0; sub(/.*Socket errors: */, "", errors) }
    END {
      printf "%s: requests/s %s  p50 %s  p99 %s  statuses%s  socket errors %s  requests %s  server_cpu_ms %s  server_user_ms %s\n",
        name, rps, p50, p99, statuses, (errors == "" ? "none" : errors), requests, cpu_ms, user_ms
    }' "$out"
}
