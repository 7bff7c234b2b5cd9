// An ordered set of keys with cheap inserts: a list of sorted blocks (at most BLOCK keys each). check perf
// writes random new keys, and inserting into one sorted array moves O(n) elements per new key; here an insert
// moves at most BLOCK elements plus a block list of n/BLOCK entries. Order is JS string order (latin1 = bytes).
const BLOCK = 512;

export class SortedKeys {
  private blocks: string[][] = [];
  private count = 0;

  get size(): number { return this.count; }

  /** Index of the first block whose last key is >= k (blocks.length if none). */
  private blockFor(k: string): number {
    let lo = 0, hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.blocks[mid];
      if (b[b.length - 1] < k) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  private static lowerBound(b: string[], k: string): number {
    let lo = 0, hi = b.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (b[mid] < k) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /** Add k; a key already present is not added twice. */
  insert(k: string): void {
    if (this.blocks.length === 0) { this.blocks.push([k]); this.count = 1; return; }
    let bi = this.blockFor(k);
    if (bi === this.blocks.length) bi--; // larger than every key: goes at the end of the last block
    const b = this.blocks[bi];
    const i = SortedKeys.lowerBound(b, k);
    if (b[i] === k) return;
    b.splice(i, 0, k);
    this.count++;
    if (b.length > BLOCK) this.blocks.splice(bi + 1, 0, b.splice(BLOCK >>> 1));
  }

  /** Visit keys >= k in order until visit returns false. */
  forEachFrom(k: string, visit: (key: string) => boolean): void {
    let bi = this.blockFor(k);
    if (bi === this.blocks.length) return;
    let i = SortedKeys.lowerBound(this.blocks[bi], k);
    for (; bi < this.blocks.length; bi++, i = 0) {
      const b = this.blocks[bi];
      for (; i < b.length; i++) if (!visit(b[i])) return;
    }
  }

  /** Keep only the keys for which keep(k) is true. */
  retain(keep: (key: string) => boolean): void {
    const live: string[] = [];
    for (const k of this) if (keep(k)) live.push(k);
    this.reset(live);
  }

  /** Replace the contents with keys, which must already be sorted and distinct. */
  reset(sorted: string[]): void {
    this.blocks = [];
    for (let i = 0; i < sorted.length; i += BLOCK >>> 1) this.blocks.push(sorted.slice(i, i + (BLOCK >>> 1)));
    this.count = sorted.length;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (const b of this.blocks) yield* b;
  }
}
