// The core's only source of randomness (randomized election timeouts). Injected so runs replay exactly.

export interface Rand {
  /** A uniformly distributed integer in [0, n). */
  intn(n: number): number;
}

/** mulberry32: tiny, fast and good enough to spread election timeouts; the same seed yields the same sequence. */
export function seededRand(seed: number): Rand {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { intn: (n: number) => Math.floor(next() * n) };
}
