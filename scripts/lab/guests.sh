# shellcheck shell=bash
# The lab's libvirt side: setup, up, variants, down, status. Sourced by scripts/lab.sh.
# See docs/lab.md and ../shared/docs/lab-facts.md (why 96 MiB, TCG, tb-cache, module order).

# shellcheck source=image.sh
source "$LAB_SCRIPTS/lab/image.sh"

LAB_RUN_DIR=${LAB_RUN_DIR:-/run/qga-play-lab}         # sockets, consoles, daemons the lab started
LAB_BOOT_DIR=${LAB_BOOT_DIR:-/var/lib/qga-play-lab}    # kernel + initrd copies QEMU can read
LAB_VIRT_TYPE=${LAB_VIRT_TYPE:-qemu}                   # qemu = TCG (this machine); kvm on real hosts
LAB_BOOT_DEADLINE=${LAB_BOOT_DEADLINE:-180}            # seconds for every agent to answer
LAB_MEMORY_MIB=${LAB_MEMORY_MIB:-96}                   # 80 panics, 64 hangs
LAB_PKGS=(qemu-guest-agent socat busybox-static cpio kmod linux-image-amd64 qemu-system-x86
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu)
LAB_VARIANTS=("$LAB_PREFIX-noagent" "$LAB_PREFIX-nochannel" "$LAB_PREFIX-off")

# libvirt prints a polkit notice on hosts without polkit (no systemd); it changes nothing.
V() { virsh -q -c "$LAB_URI" "$@" 2> >(grep -v '^Authorization not available' >&2); }
libvirt_answers() { timeout 15 virsh -c "$LAB_URI" version >/dev/null 2>&1; }
channel_socket() { printf '%s/channels/%s.agent%s.sock\n' "$LAB_RUN_DIR" "$1" "$2"; }
console_log() { printf '%s/console/%s.log\n' "$LAB_RUN_DIR" "$1"; }
lab_guests_defined() { V list --all --name 2>/dev/null | grep -E "^$LAB_PREFIX-" || true; }
dom_state() { V domstate "$1" 2>/dev/null | head -1 || true; }
dom_running() { [[ $(dom_state "$1") == running ]]; }

# ---------------------------------------------------------------------------------------- setup
lab_missing_packages() {
  local p st
  for p in "${LAB_PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $st == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

lab_setup() {
  local missing t0
  mapfile -t missing < <(lab_missing_packages)
  if ((${#missing[@]})); then
    need_root "setup (installing ${missing[*]})"
    t0=$(now)
    # apt-get update only when apt knows no candidate for a missing package
    local p
    for p in "${missing[@]}"; do
      if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        log "setup: apt-get update (no candidate for $p)"
        apt-get update -q >&2
        break
      fi
    done
    log "setup: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    log "setup: packages installed in $(elapsed "$t0")s"
  else
    log "setup: packages present"
  fi
  sshd_install
  lab_build_image >/dev/null
}

# -------------------------------------------------------------------------------------- daemons
# Start virtlogd/libvirtd only when libvirt does not answer; remember their pids in
# $LAB_RUN_DIR/daemons so that down stops only those.
lab_start_daemon() {
  local name=$1 pidfile=/run/$1.pid pid i
  pid=$(cat "$pidfile" 2>/dev/null || true) # no trailing newline: read would fail
  if pid_is_ours "$pid" "$name"; then
    log "daemons: $name already runs (pid $pid), not starting another"
    return 0
  fi
  "/usr/sbin/$name" -d </dev/null >>"$LAB_RUN_DIR/$name.log" 2>&1 || die "$name -d failed (see $LAB_RUN_DIR/$name.log)"
  for ((i = 0; i < 100; i++)); do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_is_ours "$pid" "$name"; then
      printf '%s %s\n' "$name" "$pid" >>"$LAB_RUN_DIR/daemons"
      log "daemons: started $name (pid $pid)"
      return 0
    fi
    sleep 0.05
  done
  die "$name did not write $pidfile"
}

lab_ensure_daemons() {
  if libvirt_answers; then return 0; fi
  need_root "starting libvirtd"
  [[ -x /usr/sbin/libvirtd ]] || die "libvirtd not installed: run npm run lab -- setup"
  mkdir -p "$LAB_RUN_DIR"
  local t0 i
  t0=$(now)
  lab_start_daemon virtlogd
  lab_start_daemon libvirtd
  for ((i = 0; i < 600; i++)); do
    if libvirt_answers; then
      log "daemons: libvirt answers after $(elapsed "$t0")s"
      return 0
    fi
    sleep 0.1
  done
  die "libvirt does not answer on $LAB_URI after 60s (see $LAB_RUN_DIR/libvirtd.log)"
}

lab_stop_daemons() {
  local f=$LAB_RUN_DIR/daemons name pid i
  [[ -f $f ]] || return 0
  # libvirtd first (it talks to virtlogd), both by the pid recorded when the lab started them
  for name in libvirtd virtlogd; do
    while read -r n pid; do
      [[ $n == "$name" ]] || continue
      if pid_is_ours "$pid" "$name"; then
        local t0
        t0=$(now)
        kill -TERM "$pid"
        for ((i = 0; i < 200; i++)); do pid_is_ours "$pid" "$name" || break; sleep 0.05; done
        pid_is_ours "$pid" "$name" && kill -KILL "$pid"
        log "daemons: stopped $name (pid $pid) in $(elapsed "$t0")s"
      fi
    done <"$f"
  done
  rm -f "$f"
}

# ------------------------------------------------------------------------------------- runtime
# uid:gid QEMU runs as (libvirt's DAC base label, e.g. +64055:+107).
lab_qemu_ids() {
  local label
  label=$(V capabilities 2>/dev/null | sed -n "s/.*<baselabel type='$LAB_VIRT_TYPE'>+\{0,1\}\([0-9]*\):+\{0,1\}\([0-9]*\)<.*/\1:\2/p" | head -1)
  printf '%s\n' "${label:-0:0}"
}

# Directories QEMU (running as the libvirt qemu user) can use, and the boot files it reads.
lab_prepare_runtime() {
  local hash=$1 ids
  ids=$(lab_qemu_ids)
  mkdir -p "$LAB_RUN_DIR/channels" "$LAB_RUN_DIR/console" "$LAB_BOOT_DIR"
  chmod 0755 "$LAB_RUN_DIR" "$LAB_BOOT_DIR"
  chown "$ids" "$LAB_RUN_DIR/channels" "$LAB_RUN_DIR/console"
  chmod 0770 "$LAB_RUN_DIR/channels" "$LAB_RUN_DIR/console"
  if [[ ! -f $LAB_BOOT_DIR/initrd-$hash.img ]]; then
    cp "$LAB_IMAGE_DIR/vmlinuz" "$LAB_BOOT_DIR/vmlinuz-$hash.tmp"
    cp "$LAB_IMAGE_DIR/initrd.img" "$LAB_BOOT_DIR/initrd-$hash.img.tmp"
    chmod 0644 "$LAB_BOOT_DIR"/*-"$hash"*.tmp
    mv "$LAB_BOOT_DIR/vmlinuz-$hash.tmp" "$LAB_BOOT_DIR/vmlinuz-$hash"
    mv "$LAB_BOOT_DIR/initrd-$hash.img.tmp" "$LAB_BOOT_DIR/initrd-$hash.img"
  fi
}

# ------------------------------------------------------------------------------------------ XML
# lab_domain_xml NAME HASH CHANNELS(0|2) EXTRA_CMDLINE
lab_domain_xml() {
  local name=$1 hash=$2 channels=$3 extra=$4 features='' ch
  case $LAB_VIRT_TYPE in
    qemu) features="<tcg><tb-cache unit='MiB'>32</tb-cache></tcg>" ;;
    kvm) ;;
    *) die "LAB_VIRT_TYPE must be qemu or kvm, got '$LAB_VIRT_TYPE'" ;;
  esac
  cat <<XML
<domain type='$LAB_VIRT_TYPE'>
  <name>$name</name>
  <description>qga-play lab guest (scripts/lab.sh); image=$hash type=$LAB_VIRT_TYPE channels=$channels cmdline=$extra</description>
  <memory unit='MiB'>$LAB_MEMORY_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LAB_BOOT_DIR/vmlinuz-$hash</kernel>
    <initrd>$LAB_BOOT_DIR/initrd-$hash.img</initrd>
    <cmdline>console=ttyS0 quiet lab.name=$name${extra:+ $extra}</cmdline>
  </os>
  <features><acpi/>$features</features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='$(console_log "$name")'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$(console_log "$name")'/>
      <target type='serial' port='0'/>
    </console>
XML
  for ((ch = 0; ch < channels; ch++)); do
    cat <<XML
    <channel type='unix'>
      <source mode='bind' path='$(channel_socket "$name" "$ch")'/>
      <target type='virtio' name='org.qemu.guest_agent.$ch'/>
    </channel>
XML
  done
  cat <<XML
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

# lab_define NAME HASH CHANNELS EXTRA: (re)defines NAME unless it runs; warns when a running
# guest was defined differently (older image: down + up refreshes it).
lab_define() {
  local name=$1 xml desc
  xml=$(lab_domain_xml "$@")
  if dom_running "$name"; then
    desc=$(V dumpxml "$name" | sed -n 's:.*<description>\(.*\)</description>.*:\1:p')
    [[ $xml == *"<description>$desc</description>"* ]] ||
      log "warning: $name runs with an older definition ($desc); npm run lab -- down && up to refresh"
    return 0
  fi
  # redefining an existing domain must keep its uuid
  local uuid
  uuid=$(V domuuid "$name" 2>/dev/null || true)
  [[ -n $uuid ]] && xml=${xml/<\/name>/<\/name>$'\n'"  <uuid>$uuid</uuid>"}
  V define /dev/stdin <<<"$xml" >/dev/null || die "virsh define $name failed"
}

# lab_start NAME: starts NAME if not running; prints the start time (epoch seconds) and 1 when
# it started the guest now, 0 when the guest was already running
lab_start() {
  local name=$1 t started=0
  t=$(now)
  if ! dom_running "$name"; then
    rm -f "$(console_log "$name")"
    V start "$name" >/dev/null || die "virsh start $name failed"
    started=1
  fi
  printf '%s %s\n' "$t" "$started"
}

# ---------------------------------------------------------------------------------------- checks
# Agent on .0 answers through libvirt.
check_ch0() {
  timeout 10 virsh -c "$LAB_URI" qemu-agent-command "$1" '{"execute":"guest-ping"}' --timeout 5 2>/dev/null |
    grep -q '"return"'
}
# Agent on .1 answers a fresh guest-sync-delimited on its unix socket (socat, no half-close).
check_ch1() {
  local sock id out
  sock=$(channel_socket "$1" 1)
  [[ -S $sock ]] || return 1
  id=$((RANDOM * 32768 + RANDOM))
  out=$(printf '\xff{"execute":"guest-sync-delimited","arguments":{"id":%s}}' "$id" |
    timeout 5 socat -t"${2:-1}" - "UNIX-CONNECT:$sock,shut-none" 2>/dev/null | tr -d '\377') || true
  [[ $out == *"\"return\": $id}"* ]]
}
# The guest's /init has finished (console line).
check_init() { grep -q "lab: $1 init done" "$(console_log "$1")" 2>/dev/null; }

# lab_wait NAME T0 WHAT...: polls until every check in WHAT (ch0 ch1 init) passes or the deadline;
# prints "NAME ch0=S ch1=S" (seconds after T0) or "NAME TIMEOUT ch0=- ...".
lab_wait() {
  local name=$1 t0=$2 w done_all deadline result=''
  shift 2
  local -A ready=()
  deadline=$(awk -v a="$t0" -v d="$LAB_BOOT_DEADLINE" 'BEGIN { printf "%d", a + d }')
  # Cheap gate first: no virsh/socat process (which steals CPU from booting TCG guests) until
  # the guest's /init has printed its line on the serial console. Only for a guest started now:
  # one restored from a save has a new console log without that line (it would wait for the
  # whole deadline).
  if [[ ${LAB_WAIT_GATE:-1} == 1 ]]; then
    until check_init "$name"; do
      (($(date +%s) > deadline)) && break
      sleep 0.1
    done
  fi
  while :; do
    done_all=1
    for w in "$@"; do
      [[ -n ${ready[$w]:-} ]] && continue
      if "check_$w" "$name"; then ready[$w]=$(elapsed "$t0"); else done_all=0; fi
    done
    ((done_all)) && break
    if (($(date +%s) > deadline)); then
      result="TIMEOUT"
      break
    fi
    sleep 0.2
  done
  for w in "$@"; do result+="${result:+ }$w=${ready[$w]:--}"; done
  printf '%s %s\n' "$name" "$result"
}

# lab_boot "NAME:CHECKS" ...: starts each guest, waits for all in parallel, prints the times.
lab_boot() {
  local spec name checks t0 pids=() out f rc=0
  out=$(mktemp)
  t0=$(now)
  for spec in "$@"; do
    name=${spec%%:*}
    checks=${spec#*:}
    local ts started started_at
    started_at=$(lab_start "$name")
    read -r ts started <<<"$started_at"
    # shellcheck disable=SC2086
    LAB_WAIT_GATE=$started lab_wait "$name" "$ts" $checks >>"$out" &
    pids+=("$!")
  done
  for f in "${pids[@]}"; do wait "$f" || rc=1; done
  while read -r name rest; do
    if [[ $rest == TIMEOUT* ]]; then
      rc=1
      log "$name: NOT READY after ${LAB_BOOT_DEADLINE}s ($rest); console: $(console_log "$name")"
      tail -5 "$(console_log "$name")" 2>/dev/null | sed 's/^/    /' >&2 || true
    else
      printf '%s ready after start: %s\n' "$name" "$rest"
    fi
  done < <(sort -V "$out")
  rm -f "$out"
  ((rc == 0)) || die "some guests did not become ready"
  log "$# guests ready in $(elapsed "$t0")s (type $LAB_VIRT_TYPE)"
}

# ------------------------------------------------------------------------------------------ verbs
lab_up() {
  local n=${1:-3} k hash specs=()
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "up: N must be a positive integer, got '$n'"
  need_root "up"
  command -v virsh >/dev/null || die "virsh missing: run npm run lab -- setup"
  hash=$(lab_build_image)
  lab_ensure_daemons
  lab_prepare_runtime "$hash"
  for ((k = 1; k <= n; k++)); do
    lab_define "$LAB_PREFIX-$k" "$hash" 2 ""
    specs+=("$LAB_PREFIX-$k:ch0 ch1")
  done
  lab_boot "${specs[@]}"
}

lab_variants() {
  local hash
  need_root "variants"
  hash=$(lab_build_image)
  lab_ensure_daemons
  lab_prepare_runtime "$hash"
  # agent on .0 does not run (the .1 agent does, and proves the guest is up)
  lab_define "$LAB_PREFIX-noagent" "$hash" 2 "lab.noagent=0"
  # no agent channel at all (ready when /init has finished)
  lab_define "$LAB_PREFIX-nochannel" "$hash" 0 ""
  # defined, shut off
  if dom_running "$LAB_PREFIX-off"; then V destroy "$LAB_PREFIX-off" >/dev/null; fi
  lab_define "$LAB_PREFIX-off" "$hash" 2 ""
  lab_boot "$LAB_PREFIX-noagent:ch1" "$LAB_PREFIX-nochannel:init"
  printf '%s defined, shut off\n' "$LAB_PREFIX-off"
}

lab_down() {
  local g names=() remaining
  if ! libvirt_answers; then
    log "down: libvirt does not answer; no guests to remove"
  else
    if (($#)); then
      for g in "$@"; do
        [[ $g == "$LAB_PREFIX"-* ]] || die "down: '$g' is not a lab guest (names start with $LAB_PREFIX-)"
        names+=("$g")
      done
    else
      mapfile -t names < <(lab_guests_defined)
    fi
    # destroy in parallel (each waits for its QEMU to exit), then undefine
    local pids=() p
    for g in "${names[@]}"; do
      if dom_running "$g"; then V destroy "$g" >/dev/null & pids+=("$!"); fi
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    for g in "${names[@]}"; do
      V dominfo "$g" >/dev/null 2>&1 || continue
      dom_running "$g" && V destroy "$g" >/dev/null
      V undefine "$g" >/dev/null
      rm -f "$(channel_socket "$g" 0)" "$(channel_socket "$g" 1)" "$(console_log "$g")"
      printf 'removed %s\n' "$g"
    done
  fi
  remaining=$(lab_guests_defined 2>/dev/null | wc -l)
  if ((remaining == 0)); then
    sshd_stop
    lab_stop_daemons
    rm -rf "$LAB_BOOT_DIR"
    [[ -d $LAB_RUN_DIR ]] && rm -rf "$LAB_RUN_DIR/channels" "$LAB_RUN_DIR/console"
  else
    log "down: $remaining lab guests remain; daemons left running"
  fi
}

lab_status() {
  local f n pid g st a0 a1
  echo "daemons:"
  if libvirt_answers; then echo "  libvirt on $LAB_URI: answers"; else echo "  libvirt on $LAB_URI: does not answer"; fi
  if [[ -f $LAB_RUN_DIR/daemons ]]; then
    while read -r n pid; do
      if pid_is_ours "$pid" "$n"; then st=running; else st=gone; fi
      echo "  $n pid $pid (started by the lab): $st"
    done <"$LAB_RUN_DIR/daemons"
  else
    echo "  (none started by the lab)"
  fi
  f=$LAB_IMAGE_DIR/hash
  echo "image: $( [[ -f $f ]] && echo "$(<"$f") in $LAB_IMAGE_DIR" || echo "not built (npm run lab -- setup)")"
  echo "guests:"
  libvirt_answers || return 0
  local guests
  mapfile -t guests < <(lab_guests_defined)
  ((${#guests[@]})) || { echo "  (none)"; return 0; }
  for g in "${guests[@]}"; do
    st=$(dom_state "$g")
    a0=- a1=-
    if [[ $st == running ]]; then
      if V dumpxml "$g" | grep -q "name='org.qemu.guest_agent.0'"; then
        if check_ch0 "$g"; then a0=answers; else a0=silent; fi
      else a0=no-channel; fi
      if V dumpxml "$g" | grep -q "name='org.qemu.guest_agent.1'"; then
        if check_ch1 "$g"; then a1=answers; else a1=silent; fi
      else a1=no-channel; fi
    fi
    printf '  %-18s %-9s .0:%-10s .1:%s\n' "$g" "$st" "$a0" "$a1"
  done
}
