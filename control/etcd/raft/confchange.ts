// Encoding of a ConfChange into the data of a ConfChange entry: raftpb.ConfChange, as etcd writes it.
import { decodeConfChangePb, encodeConfChangePb } from './codec.ts';
import type { ConfChange } from './types.ts';

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encodeConfChangePb(cc);
}

/** Throws an Error naming the problem when data is not a valid single-member ConfChange. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return decodeConfChangePb(data);
}
