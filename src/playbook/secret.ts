import { inspect } from 'node:util';
import type { Secret } from './types.js';

/** A Secret whose value stays out of JSON, `String()`, `util.inspect` and object spreads. */
export class SecretValue implements Secret {
  readonly secret = true as const;
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  get value(): string {
    return this.#value;
  }
  toJSON(): string {
    return '***';
  }
  toString(): string {
    return '***';
  }
  [inspect.custom](): string {
    return '***';
  }
}

export function isSecret(value: unknown): value is Secret {
  return typeof value === 'object' && value !== null && (value as Secret).secret === true && typeof (value as Secret).value === 'string';
}
