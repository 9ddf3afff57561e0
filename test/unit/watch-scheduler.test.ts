import { describe, expect, test } from '@jest/globals';
import { Scheduler, type RunRequest } from '../../src/watch/scheduler.js';

/** A run that ends when the test says so. */
interface Gate {
  key: string;
  request: RunRequest<string>;
  finish: () => void;
}

function harness(concurrency: number) {
  const started: Gate[] = [];
  const running = new Map<string, number>();
  let maxRunning = 0;
  let twiceAtOnce = 0;
  const s = new Scheduler<string, string>({
    concurrency,
    run: (key, request) =>
      new Promise<void>((resolve) => {
        running.set(key, (running.get(key) ?? 0) + 1);
        if (running.get(key)! > 1) twiceAtOnce++;
        const total = [...running.values()].reduce((a, b) => a + b, 0);
        maxRunning = Math.max(maxRunning, total);
        started.push({
          key,
          request,
          finish: () => {
            running.set(key, running.get(key)! - 1);
            if (running.get(key) === 0) running.delete(key);
            resolve();
          },
        });
      }),
  });
  return { s, started, stats: () => ({ maxRunning, twiceAtOnce }) };
}

const tick = () => new Promise((r) => setImmediate(r));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Scheduler', () => {
  test('a burst for one domain while it settles is one run carrying every reason', async () => {
    const { s, started } = harness(4);
    expect(s.request('a', 'resumed', 30, 1000)).toBe(false);
    expect(s.request('a', 'agent-connected', 30, 1001)).toBe(true);
    expect(s.request('a', 'restored', 30, 1002)).toBe(true);
    await tick();
    expect(started).toHaveLength(0);
    await wait(60);
    expect(started.map((g) => [g.key, g.request.reasons, g.request.firstAtMs, g.request.count])).toEqual([['a', ['resumed', 'agent-connected', 'restored'], 1000, 3]]);
    started[0]!.finish();
    await s.idle();
    expect(s.size).toBe(0);
  });

  test('events while a domain runs give exactly one more run after it, never a second one at once', async () => {
    const { s, started, stats } = harness(4);
    s.request('a', 'e1');
    await tick();
    expect(started).toHaveLength(1);
    for (let i = 2; i <= 50; i++) s.request('a', `e${i}`);
    await tick();
    expect(started).toHaveLength(1);
    started[0]!.finish();
    await tick();
    await tick();
    expect(started).toHaveLength(2);
    expect(started[1]!.request.count).toBe(49);
    expect(started[1]!.request.reasons).toHaveLength(16); // bounded; the rest only counted
    expect(started[1]!.request.first).toBe('e2');
    started[1]!.finish();
    await s.idle();
    expect(started).toHaveLength(2);
    expect(stats().twiceAtOnce).toBe(0);
  });

  test('a request that must not wait cuts the settling short', async () => {
    const { s, started } = harness(2);
    s.request('a', 'event', 10_000);
    s.request('a', 'pass', 0);
    await tick();
    expect(started.map((g) => g.request.reasons)).toEqual([['event', 'pass']]);
    started[0]!.finish();
    await s.idle();
  });

  test('the concurrency limit holds, in the order domains became ready, and raising it starts more', async () => {
    const { s, started, stats } = harness(3);
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) s.request(k, 'x');
    await tick();
    expect(started.map((g) => g.key)).toEqual(['a', 'b', 'c']);
    started[1]!.finish();
    await tick();
    await tick();
    expect(started.map((g) => g.key)).toEqual(['a', 'b', 'c', 'd']);
    s.concurrency = 5;
    s.pump();
    expect(started.map((g) => g.key)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const g of started) g.finish();
    await s.idle();
    expect(stats().maxRunning).toBe(5);
  });

  test('random storms: never twice at once, never above the limit, every request answered by a run that began after it', async () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const lastAsked = new Map<string, number>();
    const lastStarted = new Map<string, number>();
    let clock = 0;
    let maxRunning = 0;
    let running = 0;
    const active = new Set<string>();
    let twice = 0;
    const s = new Scheduler<string, number>({
      concurrency: 3,
      run: async (key) => {
        if (active.has(key)) twice++;
        active.add(key);
        running++;
        maxRunning = Math.max(maxRunning, running);
        lastStarted.set(key, ++clock);
        await wait(Math.floor(rnd() * 3));
        active.delete(key);
        running--;
      },
    });
    for (let i = 0; i < 2000; i++) {
      const key = keys[Math.floor(rnd() * keys.length)]!;
      lastAsked.set(key, ++clock);
      s.request(key, i, rnd() < 0.3 ? 1 : 0);
      if (rnd() < 0.1) await wait(1);
    }
    await s.idle();
    expect(twice).toBe(0);
    expect(maxRunning).toBeLessThanOrEqual(3);
    for (const [key, asked] of lastAsked) expect([key, lastStarted.get(key)! > asked]).toEqual([key, true]);
    expect(s.size).toBe(0);
  });

  test('stop drops what has not started, lets running ones end, and ignores later requests', async () => {
    const { s, started } = harness(1);
    s.request('a', 'x');
    s.request('b', 'x');
    s.request('c', 'x', 50);
    await tick();
    s.stop();
    expect(s.request('d', 'x')).toBe(false);
    started[0]!.finish();
    await s.idle();
    await wait(80);
    expect(started.map((g) => g.key)).toEqual(['a']);
  });

  test('a run that throws does not wedge its domain', async () => {
    let n = 0;
    const s = new Scheduler<string, string>({ concurrency: 1, run: () => (++n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve()) });
    s.request('a', 'x');
    await s.idle();
    s.request('a', 'y');
    await s.idle();
    expect(n).toBe(2);
  });
});
