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
