# shellcheck shell=bash
# The lab's remote hypervisor: an OpenSSH server on loopback, with its own host key and a key for
# root, all in .lab/sshd/, so that qemu+ssh:// URIs reach this machine's libvirt for real.
# Sourced by scripts/lab.sh. Started by `lab.sh sshd`, stopped by pid on `lab.sh sshd stop`
# and on `lab.sh down`.

LAB_SSHD_DIR=${LAB_SSHD_DIR:-$LAB_PROJECT/.lab/sshd}
LAB_SSHD_PORT=${LAB_SSHD_PORT:-2223}

sshd_pid_alive() {
  local pid
  pid=$(cat "$LAB_SSHD_DIR/sshd.pid" 2>/dev/null || true)
  pid_is_ours "$pid" "$LAB_SSHD_DIR/sshd_config"
}

# The URI the lab tests and benchmarks use for the "remote" hypervisor. libvirt's ssh transport
# reads known_hosts only for libssh; `command` points it at an ssh that checks the lab's host key
# against .lab/sshd/known_hosts, so nothing is written to root's ~/.ssh.
sshd_uri() {
  printf 'qemu+ssh://root@127.0.0.1:%s/system?keyfile=%s&known_hosts=%s&command=%s\n' "$LAB_SSHD_PORT" "$LAB_SSHD_DIR/id_ed25519" \
    "$LAB_SSHD_DIR/known_hosts" "$LAB_SSHD_DIR/ssh"
}

sshd_install() {
  [[ -x /usr/sbin/sshd ]] && return 0
  need_root "installing openssh-server"
  # The package would start a system sshd on every address: forbid service starts meanwhile.
  local policy=/usr/sbin/policy-rc.d made=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server >&2; }
  ((made)) && rm -f "$policy"
  return 0
}

sshd_start() {
  if sshd_pid_alive; then
    log "sshd: already runs (pid $(cat "$LAB_SSHD_DIR/sshd.pid")) on 127.0.0.1:$LAB_SSHD_PORT"
    sshd_uri
    return 0
  fi
  sshd_install
  mkdir -p "$LAB_SSHD_DIR" /run/sshd
  chmod 0700 "$LAB_SSHD_DIR"
  [[ -f $LAB_SSHD_DIR/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C qga-play-lab-host -f "$LAB_SSHD_DIR/host_ed25519"
  [[ -f $LAB_SSHD_DIR/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C qga-play-lab-root -f "$LAB_SSHD_DIR/id_ed25519"
  cp "$LAB_SSHD_DIR/id_ed25519.pub" "$LAB_SSHD_DIR/authorized_keys"
  printf '[127.0.0.1]:%s %s\n' "$LAB_SSHD_PORT" "$(cut -d' ' -f1,2 "$LAB_SSHD_DIR/host_ed25519.pub")" >"$LAB_SSHD_DIR/known_hosts"
  printf '#!/bin/sh\nexec ssh -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "$@"\n' "$LAB_SSHD_DIR/known_hosts" >"$LAB_SSHD_DIR/ssh"
  chmod 0755 "$LAB_SSHD_DIR/ssh"
  cat >"$LAB_SSHD_DIR/sshd_config" <<CONF
# qga-play lab: loopback only, keys only, root by key only.
ListenAddress 127.0.0.1
Port $LAB_SSHD_PORT
HostKey $LAB_SSHD_DIR/host_ed25519
AuthorizedKeysFile $LAB_SSHD_DIR/authorized_keys
PidFile $LAB_SSHD_DIR/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
CONF
  /usr/sbin/sshd -f "$LAB_SSHD_DIR/sshd_config" -E "$LAB_SSHD_DIR/sshd.log" || die "sshd did not start (see $LAB_SSHD_DIR/sshd.log)"
  local i
  for ((i = 0; i < 100; i++)); do sshd_pid_alive && break; sleep 0.05; done
  sshd_pid_alive || die "sshd did not write its pid file (is 127.0.0.1:$LAB_SSHD_PORT taken, by another clone's lab sshd? see $LAB_SSHD_DIR/sshd.log)"
  log "sshd: started (pid $(cat "$LAB_SSHD_DIR/sshd.pid")) on 127.0.0.1:$LAB_SSHD_PORT"
  sshd_uri
}

sshd_stop() {
  if sshd_pid_alive; then
    local pid
    pid=$(cat "$LAB_SSHD_DIR/sshd.pid")
    kill -TERM "$pid"
    log "sshd: stopped (pid $pid)"
  fi
  rm -f "$LAB_SSHD_DIR/sshd.pid"
}

sshd_main() {
  case ${1:-start} in
    start) sshd_start ;;
    stop) sshd_stop ;;
    uri) sshd_uri ;;
    *) die "usage: lab.sh sshd [start|stop|uri]" ;;
  esac
}
