#!/usr/bin/env bash
# Starts the apt-cacher-ng every Debian test server's apt goes through (tests/debian), once per
# cache root, and prints its port. Test files start in parallel: under an flock, the first one
# starts it, the others (and later runs) find it answering on the port it recorded and reuse it.
# It runs detached (its own session, no pdeathsig) so it outlives the vitest worker that
# started it; it listens on 127.0.0.1 only and holds nothing but cached .debs and indexes.
# Stop it with: kill "$(cat <root>/apt-cacher-ng/run/pid)".
# Usage: apt-cache.sh <cache root, e.g. .cache/debian>
#
# Its own config (no Remap-*: objects are cached under the URL the servers ask for, so nothing
# depends on the host's /etc/apt-cacher-ng or its debconf answers).
set -euo pipefail
root=${1:?usage: apt-cache.sh <cache root>}
mkdir -p "$root"
dir="$(realpath "$root")/apt-cacher-ng"
mkdir -p "$dir/conf" "$dir/cache" "$dir/log" "$dir/run"

answering() {
  [ -s "$dir/port" ] || return 1
  curl -fsS --max-time 3 "http://127.0.0.1:$(cat "$dir/port")/acng-report.html" 2>/dev/null | grep -q 'Apt-Cacher NG'
}

answering && { cat "$dir/port"; exit 0; }
exec 9>"$dir/.lock"
flock -w 120 9 || { echo "timed out waiting for $dir/.lock" >&2; exit 1; }
answering && { cat "$dir/port"; exit 0; }

old=$(cat "$dir/run/pid" 2>/dev/null || true)
if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = apt-cacher-ng ]; then
  # Alive but slow to answer (a loaded machine): give it a few more chances before replacing it.
  for _ in 1 2 3; do sleep 2; answering && { cat "$dir/port"; exit 0; }; done
  kill "$old" || true
fi
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  # Below 32768: apt-cacher-ng 3.7 fails every port above 32767 with "Error resolving address for
  # binding: Success" and listens on nothing (measured: 32767 answers, 32768 does not). With
  # 20000-59999, 10 attempts all landed high about 2 % of the time: CI stop 19's red run.
  port=$(shuf -i 20000-32767 -n 1)
  cat >"$dir/conf/acng.conf" <<CONF
CacheDir: $dir/cache
LogDir: $dir/log
SupportDir: /usr/lib/apt-cacher-ng
Port: $port
BindAddress: 127.0.0.1
PidFile: $dir/run/pid
SocketPath: $dir/run/socket
ReportPage: acng-report.html
ExThreshold: 4
CONF
  # Detached: its own session, stdio to a log, and not holding our lock fd.
  setsid apt-cacher-ng -c "$dir/conf" ForeGround=1 </dev/null >>"$dir/log/daemon.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$dir/run/pid"
  echo "$port" >"$dir/port"
  for _ in $(seq 1 50); do
    answering && { echo "apt-cacher-ng started on 127.0.0.1:$port (pid $pid, $dir)" >&2; cat "$dir/port"; exit 0; }
    kill -0 "$pid" 2>/dev/null || break # port taken, or a config error: try another port
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$dir/port"
done
echo "apt-cacher-ng did not start; its log:" >&2
tail -20 "$dir/log/daemon.log" >&2
exit 1
