# shellcheck shell=bash
# Shared helpers for scripts/lab.sh. Sourced, never run.

LAB_PREFIX=qgalab
LAB_URI=${LAB_URI:-qemu:///system}

log() { printf '%s\n' "lab: $*" >&2; }
die() { printf '%s\n' "lab: error: $*" >&2; exit 1; }

# Seconds since the epoch with microseconds (bash 5 builtin, no fork).
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
# elapsed START -> "1.23" seconds
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

need_root() { [[ $(id -u) == 0 ]] || die "$1 needs root (run as root or through sudo)"; }

# pid_is_ours PID NEEDLE: PID is alive and its command line contains NEEDLE (guards against
# killing a recycled pid that now belongs to someone else). A zombie has an empty command line,
# so it counts as gone.
pid_is_ours() {
  local pid=$1 needle=$2 argv=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [[ "${argv[*]}" == *"$needle"* ]]
}
