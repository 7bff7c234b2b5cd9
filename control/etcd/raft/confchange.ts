// Encoding of a ConfChange into the data of a ConfChange entry (JSON, so a WAL dump stays readable).
import type { ConfChange, ConfChangeType } from './types.ts';

const TYPES: ReadonlySet<string> = new Set<ConfChangeType>(['AddNode', 'RemoveNode', 'AddLearnerNode']);
const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const ctx = cc.context ? Array.from(cc.context) : undefined;
  return enc.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId, context: ctx }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch (err) {
    throw new Error(`conf change entry: data is not valid JSON: ${(err as Error).message}`);
  }
  const o = raw as { type?: unknown; nodeId?: unknown; context?: unknown };
  if (typeof o.type !== 'string' || !TYPES.has(o.type)) {
    throw new Error(`conf change entry: type ${JSON.stringify(o.type)} is not one of AddNode, RemoveNode, AddLearnerNode`);
  }
  if (typeof o.nodeId !== 'number' || !Number.isSafeInteger(o.nodeId) || o.nodeId <= 0) {
    throw new Error(`conf change entry: nodeId ${JSON.stringify(o.nodeId)} must be a positive integer`);
  }
  const cc: ConfChange = { type: o.type as ConfChangeType, nodeId: o.nodeId };
  if (Array.isArray(o.context)) cc.context = Uint8Array.from(o.context as number[]);
  return cc;
}
