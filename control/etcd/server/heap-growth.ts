// How far a member's JS heap may grow between full (mark-compact) collections.
// V8 sizes the old generation for 97% mutator utilisation: when collecting is cheap next to allocating, as for a
// member's small and steadily growing store, it grants about 1.2 times what survived the last collection (plus
// the young generation). A member under a write load promotes short-lived objects (log entries kept until the
// next log compaction, requests waiting for their commit) fast enough to refill that room within a second, so
// each member ran a full collection about every second (measured under `etcdctl check perf --load=m`: about
// 70 a minute over three members), each stopping the main thread for 4-20 ms plus 15-45 ms of marking steps,
// and clients waiting on those stalls lost throughput. A fixed factor of 4 (V8's own largest) cut that to about
// 15 a minute; the heap holds up to four times the live store between collections.
import v8 from 'node:v8';

/** The old generation may grow to (1 + percent/100) times what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 300;

/** Applies at run time: V8 reads the factor each time it sets the limit after a full collection. */
export function growHeapInLargerSteps(percent = HEAP_GROWING_PERCENT): void {
  if (!Number.isInteger(percent) || percent <= 0) throw new RangeError(`heap growing percent must be a positive integer, got ${percent}`);
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
