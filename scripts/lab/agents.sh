# shellcheck shell=bash
# Host agents: N real qemu-ga processes in unix-listen mode on this machine, for tests and
# benchmarks that need many agents cheaply. Sourced by scripts/lab.sh.
#
# A host agent acts on THIS machine, so every command that changes the host is blocked with -b.
# Keep this list equal to HOST_CHANGING_COMMANDS in src/qga/agent-commands.ts
# (test/lab/host-agents-blocklist.test.ts checks that they agree).
HOST_AGENT_BLOCKED=(
  guest-set-time
  guest-shutdown
  guest-suspend-disk
  guest-suspend-ram
  guest-suspend-hybrid
  guest-fsfreeze-freeze
  guest-fsfreeze-freeze-list
  guest-fsfreeze-thaw
  guest-fstrim
  guest-set-user-password
  guest-set-vcpus
  guest-set-memory-blocks
  guest-ssh-add-authorized-keys
  guest-ssh-remove-authorized-keys
)

agents_usage() {
  cat >&2 <<'USAGE'
usage: lab.sh agents start N DIR   start N host qemu-ga agents, print their socket paths
       lab.sh agents stop DIR      stop the agents started in DIR (by recorded pid)
       lab.sh agents status DIR    show each agent's loop pid, qemu-ga pid and socket
       lab.sh agents blocked       print the blocked commands, comma-separated
env: LAB_AGENT_DEADLINE (seconds to wait for the sockets, default 30), QEMU_GA (binary)
USAGE
  exit 2
}

agents_blocked_csv() { local IFS=,; printf '%s\n' "${HOST_AGENT_BLOCKED[*]}"; }

# One agent's restart loop; runs in a background subshell. A host qemu-ga exits (code 0) when a
# client disconnects while a large reply is being written, so it is simply started again.
# On SIGTERM the loop kills its current qemu-ga and exits.
_agent_loop() {
  local k=$1 dir=$2 blocked=$3 bin=$4 child=
  set +e
  trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 0' TERM INT HUP
  while :; do
    rm -f "$dir/agent-$k.sock"
    "$bin" -m unix-listen -p "$dir/agent-$k.sock" -t "$dir/state-$k" -l "$dir/agent-$k.log" \
      -b "$blocked" &
    child=$!
    printf '%s\n' "$child" >"$dir/agent-$k.pid"
    wait "$child"
    printf 'lab: qemu-ga %s exited with %s, restarting\n' "$child" "$?" >>"$dir/agent-$k.log"
    child=
    sleep 0.1
  done
}

agents_start() {
  [[ $# == 2 ]] || agents_usage
  local n=$1 dir=$2 bin=${QEMU_GA:-qemu-ga} deadline=${LAB_AGENT_DEADLINE:-30}
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "agents start: N must be a positive integer, got '$n'"
  command -v "$bin" >/dev/null || die "agents start: $bin not found (apt-get install qemu-guest-agent, or npm run lab -- setup)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -s $dir/pids ]]; then
    local p
    while read -r p; do
      pid_is_ours "$p" "$dir" && die "agents start: agents already running in $dir (stop them first)"
    done <"$dir/pids"
  fi
  # unix socket paths are limited to 107 bytes
  (( ${#dir} + ${#n} + 11 < 108 )) || die "agents start: $dir is too long for a unix socket path"
  local blocked t0 k pids=()
  blocked=$(agents_blocked_csv)
  t0=$(now)
  for ((k = 1; k <= n; k++)); do
    mkdir -p "$dir/state-$k"
    _agent_loop "$k" "$dir" "$blocked" "$bin" </dev/null >>"$dir/agent-$k.log" 2>&1 &
    pids+=("$!")
  done
  printf '%s\n' "${pids[@]}" >"$dir/pids"
  # One poll loop for all sockets (no per-agent waiter).
  local missing=() end
  end=$(awk -v a="$t0" -v d="$deadline" 'BEGIN { printf "%.6f", a + d }')
  for ((k = 1; k <= n; k++)); do missing+=("$k"); done
  while ((${#missing[@]})); do
    local still=()
    for k in "${missing[@]}"; do [[ -S $dir/agent-$k.sock ]] || still+=("$k"); done
    missing=("${still[@]}")
    ((${#missing[@]})) || break
    if awk -v a="$(now)" -v e="$end" 'BEGIN { exit !(a > e) }'; then
      log "agents start: ${#missing[@]} of $n sockets missing after ${deadline}s (e.g. $dir/agent-${missing[0]}.sock; see its .log); stopping"
      agents_stop "$dir" >/dev/null 2>&1
      exit 1
    fi
    sleep 0.02
  done
  log "agents: $n host agents ready in $(elapsed "$t0")s in $dir"
  for ((k = 1; k <= n; k++)); do printf '%s\n' "$dir/agent-$k.sock"; done
}

agents_stop() {
  [[ $# == 1 ]] || agents_usage
  local dir=$1 p f i left
  [[ -d $dir ]] || { log "agents stop: $dir does not exist"; return 0; }
  dir=$(cd "$dir" && pwd)
  [[ -f $dir/pids ]] || { log "agents stop: no $dir/pids, nothing to stop"; return 0; }
  local loops=() children=()
  while read -r p; do pid_is_ours "$p" "$dir" && loops+=("$p"); done <"$dir/pids"
  # The loop's trap kills its qemu-ga; the recorded child pids are checked again below.
  ((${#loops[@]})) && kill -TERM "${loops[@]}" 2>/dev/null
  for ((i = 0; i < 250; i++)); do
    left=0
    for p in "${loops[@]}"; do pid_is_ours "$p" "$dir" && { left=1; break; }; done
    ((left)) || break
    sleep 0.02
  done
  for p in "${loops[@]}"; do pid_is_ours "$p" "$dir" && kill -KILL "$p" 2>/dev/null; done
  for f in "$dir"/agent-*.pid; do
    [[ -f $f ]] || continue
    read -r p <"$f" || continue
    pid_is_ours "$p" "$dir" && children+=("$p")
  done
  ((${#children[@]})) && kill -TERM "${children[@]}" 2>/dev/null
  for ((i = 0; i < 100 && ${#children[@]}; i++)); do
    left=()
    for p in "${children[@]}"; do pid_is_ours "$p" "$dir" && left+=("$p"); done
    children=("${left[@]}")
    ((${#children[@]})) && sleep 0.02
  done
  ((${#children[@]})) && kill -KILL "${children[@]}" 2>/dev/null
  rm -f "$dir/pids" "$dir"/agent-*.pid "$dir"/agent-*.sock
  log "agents: stopped ${#loops[@]} agents in $dir"
}

agents_status() {
  [[ $# == 1 ]] || agents_usage
  local dir=$1 k=0 p c s
  [[ -f $dir/pids ]] || { echo "no agents in $dir"; return 0; }
  while read -r p; do
    k=$((k + 1))
    c=$(cat "$dir/agent-$k.pid" 2>/dev/null || echo -)
    s=down
    pid_is_ours "$p" "$dir" && s=running
    printf 'agent-%s loop=%s(%s) qemu-ga=%s %s\n' "$k" "$p" "$s" "$c" "$dir/agent-$k.sock"
  done <"$dir/pids"
}

agents_main() {
  local verb=${1:-}
  shift || true
  case $verb in
    start) agents_start "$@" ;;
    stop) agents_stop "$@" ;;
    status) agents_status "$@" ;;
    blocked) agents_blocked_csv ;;
    *) agents_usage ;;
  esac
}
