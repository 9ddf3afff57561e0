const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
// Kept equal to the `duration` pattern of schema/playbook.schema.json (a test checks both).
const DURATION = /^(?:(?:\d+(?:\.\d+)?(?:ms|h|m|s))+|\d+(?:\.\d+)?)$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;

/**
 * Parses a duration: `500ms`, `30s`, `2m`, `1h`, combined (`1m30s`), or a plain number of
 * seconds (number or numeric string). Returns whole milliseconds, or null when malformed.
 */
export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : null;
  const s = text.trim();
  if (!DURATION.test(s)) return null;
  if (!/[a-z]/.test(s)) return Math.round(Number(s) * 1000);
  let ms = 0;
  for (const [, n, unit] of s.matchAll(DURATION_PART)) ms += Number(n) * (UNIT_MS[unit!] ?? 0);
  return Math.round(ms);
}

/** Formats milliseconds the way playbooks write them: `500ms`, `1.5s`, `2m`, `1h5m`, `1m30s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms));
  if (rest < 1000) return `${sign}${rest}ms`;
  if (rest < 60_000) return `${sign}${trim(rest / 1000)}s`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  return sign + (h ? `${h}h` : '') + (m ? `${m}m` : '') + (rest ? `${trim(rest / 1000)}s` : '');
}

function trim(n: number): string {
  return String(Number(n.toFixed(3)));
}

// Kept equal to the `size` pattern of the schema; fractions only with a unit above bytes.
const SIZE = /^(?:(\d+)(B)?|(\d+(?:\.\d+)?)(KB|MB|GB|KiB|MiB|GiB))$/;
const SIZE_UNIT: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Parses a size: bytes as a number, or `512KiB`, `10MiB`, `1GB`. Returns whole bytes, or null. */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : null;
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  return m[1] !== undefined ? Number(m[1]) : Math.round(Number(m[3]) * SIZE_UNIT[m[4]!]!);
}
