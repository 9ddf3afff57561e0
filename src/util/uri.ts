/** libvirt's default connection: $LIBVIRT_DEFAULT_URI, else qemu:///system (as virsh does). */
export function defaultUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.LIBVIRT_DEFAULT_URI || 'qemu:///system';
}
