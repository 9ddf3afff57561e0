/** The host's clock in epoch milliseconds, with sub-millisecond resolution. */
export function hostNowMs(): number {
  return performance.timeOrigin + performance.now();
}
