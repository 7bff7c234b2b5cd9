// Serialize the state machine (every retained key version, revisions and leases) and rebuild it.
import { messageType, encodeMessage, decodeMessage } from '../proto/load.ts';
import type { Store } from '../mvcc/store.ts';
import type { KeyValue } from '../mvcc/types.ts';

interface WireKv { key: Buffer; create_revision: string; mod_revision: string; version: string; value: Buffer; lease: string }
interface WireSnapshot {
  rev: string; compact_rev: string; kvs: WireKv[]; leases: Array<{ ID: string; TTL: string }>;
  members: Array<{ ID: string; name: string; peerURLs: string[]; clientURLs: string[] }>;
}

export interface SnapshotMember { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }

export function encodeSnapshot(store: Store, members: SnapshotMember[] = []): Buffer {
  const t = messageType('ktsetcd.StoreSnapshot');
  return Buffer.from(encodeMessage(t, {
    rev: store.kv.rev, compact_rev: store.kv.compactRev, kvs: [...store.kv.allVersions()],
    leases: [...store.lessor.leases.values()].map((l) => ({ ID: l.id, TTL: l.ttl })), members,
  }));
}

/** Replace the store's state with the snapshot's; returns the members it recorded. */
export function restoreSnapshot(store: Store, data: Uint8Array): SnapshotMember[] {
  const snap = decodeMessage<WireSnapshot>(messageType('ktsetcd.StoreSnapshot'), data);
  const kvs: KeyValue[] = snap.kvs.map((kv) => ({
    key: kv.key, create_revision: Number(kv.create_revision), mod_revision: Number(kv.mod_revision),
    version: Number(kv.version), value: kv.value, lease: kv.lease,
  }));
  store.lessor.leases.clear();
  for (const l of snap.leases) store.lessor.leases.set(l.ID, { id: l.ID, ttl: Number(l.TTL), keys: new Set() });
  store.kv.restore(Number(snap.rev), Number(snap.compact_rev), kvs);
  const latest = new Map<string, KeyValue>();
  for (const kv of kvs) latest.set(kv.key.toString('latin1'), kv); // versions come oldest first
  for (const [k, kv] of latest) {
    if (kv.version > 0 && kv.lease !== '0') store.lessor.attach(kv.lease, k);
  }
  return snap.members;
}
