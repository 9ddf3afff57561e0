import type { StepStatus, VmStatus } from '../../runner/types.js';

/** SGR colors, or none: the CLI decides (NO_COLOR, --no-color, a terminal or not). */
export interface Style {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  status(status: StepStatus | VmStatus, text?: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

export function createStyle(color: boolean): Style {
  const green = color ? sgr(32, 39) : plain;
  const red = color ? sgr(31, 39) : plain;
  const yellow = color ? sgr(33, 39) : plain;
  const dim = color ? sgr(2, 22) : plain;
  const bold = color ? sgr(1, 22) : plain;
  return {
    green,
    red,
    yellow,
    dim,
    bold,
    status(status, text = status) {
      if (status === 'ok') return green(text);
      if (status === 'failed') return red(text);
      if (status === 'skipped') return dim(text);
      return yellow(text);
    },
  };
}

/**
 * Whether to color: `--no-color` never; else FORCE_COLOR (set, not empty, not `0`/`false`)
 * always, FORCE_COLOR=0 never; else a terminal without NO_COLOR (https://no-color.org,
 * https://force-color.org).
 */
export function wantColor(options: { tty: boolean; flag?: boolean; env: NodeJS.ProcessEnv }): boolean {
  if (options.flag === false) return false;
  const force = options.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return options.tty && !options.env.NO_COLOR;
}
