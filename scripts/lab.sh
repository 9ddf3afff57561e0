#!/usr/bin/env bash
# qga-play's lab: real libvirt guests and real host agents for tests, benchmarks and the demo.
# Run as `npm run lab -- <verb>` or `bash scripts/lab.sh <verb>`. See docs/lab.md.
set -euo pipefail

LAB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PROJECT=$(cd "$LAB_SCRIPTS/.." && pwd)
# shellcheck source=lab/common.sh
source "$LAB_SCRIPTS/lab/common.sh"
# shellcheck source=lab/agents.sh
source "$LAB_SCRIPTS/lab/agents.sh"
# shellcheck source=lab/sshd.sh
source "$LAB_SCRIPTS/lab/sshd.sh"

usage() {
  cat >&2 <<'USAGE'
usage: npm run lab -- <verb>   (or: bash scripts/lab.sh <verb>)
  setup          install missing Debian packages, build the guest image (cached in .lab/)
  up [N]         start libvirt if none answers, define and boot guests qgalab-1..N (default 3),
                 wait until every agent answers on both channels
  variants       define the fault guests qgalab-noagent, qgalab-nochannel, qgalab-off
  down           undefine the qgalab-* guests, stop the daemons the lab started
  status         daemons, guests, and whether each agent answers on each channel
  agents ...     host qemu-ga agents (lab.sh agents for help)
  sshd [start|stop|uri]
                 an OpenSSH server on 127.0.0.1 (keys in .lab/sshd/) so qemu+ssh:// reaches
                 this host's libvirt: prints the URI to use; stopped by pid on stop and down
env: LAB_VIRT_TYPE (qemu = TCG, default; kvm on real hosts), LAB_BOOT_DEADLINE (s, default 180)
USAGE
  exit 2
}

verb=${1:-}
shift || true
case $verb in
  agents) agents_main "$@" ;;
  sshd) sshd_main "$@" ;;
  setup | up | variants | down | status)
    # shellcheck source=lab/guests.sh
    source "$LAB_SCRIPTS/lab/guests.sh"
    "lab_$verb" "$@"
    ;;
  -h | --help | help | '') usage ;;
  *) log "unknown verb '$verb'"; usage ;;
esac
