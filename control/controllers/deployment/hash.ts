// pod-template-hash: names a deployment's ReplicaSet after its pod template ("<deploy>-<hash>") and keeps the
// pods of different templates apart by label. Upstream hashes the Go struct dump with FNV-32a; we hash a
// canonical JSON rendering (keys sorted, empty values dropped) with FNV-32a, add the collision count as four
// little-endian bytes when set, and safe-encode the decimal like upstream (rand.SafeEncodeString). So values
// differ from upstream's, but are stable across restarts and processes, which is what matters.
import type { V1PodTemplateSpec } from '@kubernetes/client-node';

export const POD_TEMPLATE_HASH = 'pod-template-hash';

const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

export function fnv32a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Maps each character to a consonant-or-digit alphabet so the result never spells words (and is a valid label). */
export function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHANUMS[ch.codePointAt(0)! % SAFE_ALPHANUMS.length];
  return out;
}

/** Drops null, undefined, empty objects and empty arrays, and sorts keys: two semantically equal templates render the same. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v instanceof Date) return v.toISOString();
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const c = canonical((v as Record<string, unknown>)[k]);
    if (c === undefined || c === null) continue;
    if (Array.isArray(c) && c.length === 0) continue;
    if (typeof c === 'object' && !Array.isArray(c) && Object.keys(c as object).length === 0) continue;
    out[k] = c;
  }
  return out;
}

export function computeHash(template: V1PodTemplateSpec | undefined, collisionCount?: number): string {
  let h = fnv32a(Buffer.from(JSON.stringify(canonical(template ?? {})), 'utf8'));
  if (collisionCount !== undefined && collisionCount !== null) {
    const extra = Buffer.alloc(4);
    extra.writeUInt32LE(collisionCount >>> 0);
    h = fnv32a(extra, h);
  }
  return safeEncode(String(h));
}

function withoutHash(t: V1PodTemplateSpec | undefined): unknown {
  const labels = { ...(t?.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH];
  return canonical({ ...(t ?? {}), metadata: { ...(t?.metadata ?? {}), labels } });
}

/** Templates equal apart from the pod-template-hash label (upstream EqualIgnoreHash). */
export function equalIgnoreHash(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return JSON.stringify(withoutHash(a)) === JSON.stringify(withoutHash(b));
}
