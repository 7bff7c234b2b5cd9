// etcdserverpb.Maintenance: status, hashes, defragment (nothing to defragment: a no-op that succeeds),
// alarms (none are raised) and snapshot (the whole keyspace as one stream, sha256 appended like etcd).
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { ServiceHandlers, StreamCall } from './grpc-server.ts';
import { unary, toServiceError } from './grpc-errors.ts';
import { EtcdError, grpcCode } from '../mvcc/errors.ts';
import { snapshotData } from './snapshot.ts';
import type { EtcdServer } from './etcd-server.ts';

const SNAPSHOT_CHUNK = 32 * 1024;

function hashUpTo(s: EtcdServer, rev: number): number {
  let h = 0;
  for (const kv of s.store.kv.allVersions()) {
    if (rev > 0 && kv.mod_revision > rev) continue;
    h = zlib.crc32(kv.key, h);
    h = zlib.crc32(kv.value, h);
    h = zlib.crc32(Buffer.from(`${kv.create_revision}/${kv.mod_revision}/${kv.version}/${kv.lease}`), h);
  }
  return h >>> 0;
}

export function dbSize(s: EtcdServer): number {
  return s.store.kv.retainedBytes;
}

export function maintenanceService(s: EtcdServer): ServiceHandlers {
  return {
    Status: unary(async () => {
      const st = s.consensus.status();
      const size = dbSize(s);
      return {
        header: s.header(), version: s.version, dbSize: size, dbSizeInUse: size, leader: st.leaderId,
        raftIndex: st.commitIndex, raftTerm: st.term, raftAppliedIndex: st.appliedIndex, errors: [], isLearner: false,
      };
    }),
    Hash: unary(async () => ({ header: s.header(), hash: hashUpTo(s, 0) })),
    HashKV: unary(async (r: { revision: string }) => {
      const rev = Number(r.revision);
      s.store.kv.checkRev(rev);
      return { header: s.header(), hash: hashUpTo(s, rev), compact_revision: s.store.kv.compactRev };
    }),
    Defragment: unary(async () => ({ header: s.header() })),
    Alarm: unary(async () => ({ header: s.header(), alarms: [] })),
    MoveLeader: unary(async () => {
      throw new EtcdError(grpcCode.FAILED_PRECONDITION, 'etcdserver: move leader is not supported by this member');
    }),
    Snapshot: (call: StreamCall<object, object>) => {
      try {
        // etcdctl checks that the file is a whole number of 512-byte pages plus a sha256 (bolt's layout):
        // our encoding, length-prefixed and padded to a page boundary, then the sha256 of all of that. The
        // encoder's chunks are sent as they are (in slices of at most SNAPSHOT_CHUNK), never copied together.
        const data = snapshotData(s.store, s.members);
        const length = data.reduce((n, c) => n + c.byteLength, 0);
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64BE(BigInt(length), 0);
        const padding = Buffer.alloc(Math.ceil((length + 8) / 512) * 512 - length - 8);
        const total = prefix.length + length + padding.length + 32;
        const hash = crypto.createHash('sha256');
        let sent = 0;
        const send = (blob: Uint8Array) => {
          sent += blob.byteLength;
          call.write({ header: s.header(), remaining_bytes: total - sent, blob });
        };
        for (const piece of [prefix, ...data, padding]) {
          hash.update(piece);
          for (let off = 0; off < piece.byteLength; off += SNAPSHOT_CHUNK) send(piece.subarray(off, off + SNAPSHOT_CHUNK));
        }
        send(hash.digest());
        call.end();
      } catch (err) {
        call.destroy(Object.assign(new Error(String(toServiceError(err).details)), toServiceError(err)));
      }
    },
  };
}
