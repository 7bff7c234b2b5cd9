// Background work in slices at a bounded share of the CPU. A Raft snapshot encodes and checksums the whole
// keyspace (hundreds of MB under load): run flat out between event-loop turns it still takes the CPU that
// requests need at that moment (and every member snapshots at about the same index), so after each slice the
// worker waits three times as long as the slice took (restAfter), spreading the work over a few seconds at a
// quarter of a core.

const IDLE_PER_BUSY = 3;
const MAX_WAIT_MS = 50;

/** The pause that follows a slice of `spentMs`: three times as long, at most MAX_WAIT_MS. */
export function restAfter(spentMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(MAX_WAIT_MS, spentMs * IDLE_PER_BUSY)));
}
