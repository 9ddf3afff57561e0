# shellcheck shell=bash
# Builds the lab guest image: the Debian kernel (linux-image-amd64) and a gzip cpio initramfs
# with busybox-static, qemu-ga and its libraries, the virtio modules, and scripts/lab/guest/*.
# Cached in .lab/image/ and rebuilt only when an input changes (hash of every input file).
# Sourced by scripts/lab/guests.sh.

LAB_CACHE=${LAB_CACHE:-$LAB_PROJECT/.lab}
LAB_IMAGE_DIR=$LAB_CACHE/image
LAB_GUEST_FILES=$LAB_SCRIPTS/lab/guest

# The kernel version linux-image-amd64 points at (newest installed as a fallback).
lab_kver() {
  local dep kver
  dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null || true)
  kver=$(sed -n 's/^linux-image-\([^ ,]*\).*/\1/p' <<<"$dep")
  if [[ -z $kver || ! -e /boot/vmlinuz-$kver ]]; then
    kver=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -1)
  fi
  [[ -n $kver && -e /boot/vmlinuz-$kver ]] || die "no kernel in /boot (apt-get install linux-image-amd64)"
  printf '%s\n' "$kver"
}

# Module files (in load order) for virtio_pci + virtio_console, deduplicated.
lab_modules() {
  local kver=$1
  modprobe -S "$kver" -a --show-depends virtio_pci virtio_console |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# Libraries qemu-ga needs (absolute paths, as ldd lists them).
lab_libs() {
  ldd "$1" | awk '/=>/ && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }'
}

# Prints every input file, one per line (the hash covers their contents and these paths).
lab_image_inputs() {
  local kver=$1 qga
  qga=$(command -v qemu-ga)
  printf '%s\n' "/boot/vmlinuz-$kver" /bin/busybox "$qga" "$LAB_SCRIPTS/lab/image.sh"
  lab_modules "$kver"
  lab_libs "$qga"
  find "$LAB_GUEST_FILES" -type f | sort
}

lab_image_hash() {
  local kver=$1
  { echo "kver $kver"; lab_image_inputs "$kver" | xargs -d '\n' sha256sum; } | sha256sum | cut -c1-16
}

# lab_build_image: builds .lab/image/{vmlinuz,initrd.img} unless up to date. Prints the hash.
lab_build_image() {
  local kver hash t0 root out tmp
  for c in busybox qemu-ga cpio gzip modprobe ldd; do command -v "$c" >/dev/null || die "setup: $c missing"; done
  kver=$(lab_kver)
  hash=$(lab_image_hash "$kver")
  if [[ -f $LAB_IMAGE_DIR/hash && $(<"$LAB_IMAGE_DIR/hash") == "$hash" && -f $LAB_IMAGE_DIR/initrd.img && -f $LAB_IMAGE_DIR/vmlinuz ]]; then
    log "image: up to date ($hash, kernel $kver) in $LAB_IMAGE_DIR"
    printf '%s\n' "$hash"
    return 0
  fi
  t0=$(now)
  mkdir -p "$LAB_CACHE"
  tmp=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
  root=$tmp/root
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,lib/modules}
  # busybox and every applet as a link (/bin/sh, /sbin/hwclock for guest-set-time, ...)
  cp /bin/busybox "$root/bin/busybox"
  local a
  while read -r a; do
    [[ -e $root/$a || $a == bin/busybox ]] && continue
    [[ -d $root/${a%/*} ]] || mkdir -p "$root/${a%/*}"
    ln -s /bin/busybox "$root/$a"
  done < <(busybox --list-full)
  # qemu-ga and its libraries, at the paths ldd gives
  local qga lib
  qga=$(command -v qemu-ga)
  cp "$qga" "$root/usr/sbin/qemu-ga"
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(lab_libs "$qga")
  # virtio modules, load order recorded for /init
  local m base
  : >"$root/etc/lab-modules"
  while read -r m; do
    base=$(basename "$m")
    case $m in
      *.xz) xz -dc "$m" >"$root/lib/modules/${base%.xz}"; base=${base%.xz} ;;
      *.zst) zstd -qdc "$m" >"$root/lib/modules/${base%.zst}"; base=${base%.zst} ;;
      *.gz) gzip -dc "$m" >"$root/lib/modules/${base%.gz}"; base=${base%.gz} ;;
      *) cp "$m" "$root/lib/modules/$base" ;;
    esac
    echo "$base" >>"$root/etc/lab-modules"
  done < <(lab_modules "$kver")
  [[ $(wc -l <"$root/etc/lab-modules") -ge 5 ]] || die "image: virtio modules not found for $kver"
  # guest files
  install -m 0755 "$LAB_GUEST_FILES/init" "$root/init"
  rm -f "$root/sbin/init"
  ln -s /bin/busybox "$root/sbin/init"
  rm -f "$root/sbin/shutdown"
  install -m 0755 "$LAB_GUEST_FILES/shutdown" "$root/sbin/shutdown"
  install -m 0755 "$LAB_GUEST_FILES/lab-agent" "$root/sbin/lab-agent"
  install -m 0644 "$LAB_GUEST_FILES/os-release" "$root/etc/os-release"
  install -m 0644 "$LAB_GUEST_FILES/passwd" "$root/etc/passwd"
  install -m 0644 "$LAB_GUEST_FILES/group" "$root/etc/group"
  echo "$kver" >"$root/etc/lab-kernel"
  echo "$hash" >"$root/etc/lab-image"
  out=$tmp/out
  mkdir -p "$out"
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -n -6) >"$out/initrd.img"
  cp "/boot/vmlinuz-$kver" "$out/vmlinuz"
  echo "$hash" >"$out/hash"
  {
    echo "kernel $kver"
    echo "hash $hash"
    echo "modules $(tr '\n' ' ' <"$root/etc/lab-modules")"
    echo "initrd $(stat -c %s "$out/initrd.img") bytes"
    echo "inputs:"
    lab_image_inputs "$kver" | sed 's/^/  /'
  } >"$out/manifest.txt"
  rm -rf "$LAB_IMAGE_DIR"
  mv "$out" "$LAB_IMAGE_DIR"
  rm -rf "$tmp"
  log "image: built $hash (kernel $kver, initrd $(($(stat -c %s "$LAB_IMAGE_DIR/initrd.img") / 1024)) KiB) in $(elapsed "$t0")s"
  printf '%s\n' "$hash"
}
