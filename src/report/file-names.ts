/** Names in a report directory that a VM's report must never take. */
export const RESERVED_NAMES = ['summary.json', 'junit.xml'];

const MAX_BASE = 200;

/** A VM name made safe as a file name: only `[A-Za-z0-9._-]`, no leading dot, at most 200 characters. */
export function safeBaseName(vm: string): string {
  let base = vm.replace(/[^A-Za-z0-9._-]/g, '_');
  if (base === '' || base.startsWith('.')) base = `_${base}`;
  return base.slice(0, MAX_BASE);
}

/**
 * The report file name of each VM, in order: `<safe name>.json`, unique even on a
 * case-insensitive file system and never one of {@link RESERVED_NAMES}. A VM whose name is
 * already safe keeps it; the others take `-2`, `-3`... on a clash. The exact VM name is inside
 * the file.
 */
export function reportFileNames(vms: readonly string[]): string[] {
  const used = new Set(RESERVED_NAMES.map((n) => n.toLowerCase()));
  const names: (string | undefined)[] = vms.map(() => undefined);
  const claim = (i: number, name: string): boolean => {
    if (used.has(name.toLowerCase())) return false;
    used.add(name.toLowerCase());
    names[i] = name;
    return true;
  };
  // First the names that need no change, so they never move because of another VM.
  vms.forEach((vm, i) => {
    if (safeBaseName(vm) === vm) claim(i, `${vm}.json`);
  });
  vms.forEach((vm, i) => {
    if (names[i] !== undefined) return;
    const base = safeBaseName(vm);
    if (claim(i, `${base}.json`)) return;
    for (let n = 2; !claim(i, `${base}-${n}.json`); n++);
  });
  return names.map((n) => n ?? '');
}
