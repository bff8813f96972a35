// Seeded pseudo-random numbers: training is deterministic for a given seed.

/** mulberry32: small, fast, and good enough for shuffling and sampling. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of 0..n-1 with the given generator. */
export function permutation(n: number, random: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * `count` distinct numbers of 0..rows-1 in ascending order, by selection sampling (Knuth's
 * algorithm S); all of them when count >= rows.
 */
export function sampleSorted(rows: number, count: number, random: () => number): Int32Array {
  const out = new Int32Array(Math.min(rows, count));
  let chosen = 0;
  for (let i = 0; i < rows && chosen < out.length; i++) if (random() * (rows - i) < count - chosen) out[chosen++] = i;
  return out;
}
