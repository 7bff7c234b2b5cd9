// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.
import type * as grpc from '@grpc/grpc-js';
import type { ServiceHandlers } from './grpc-server.ts';
import { unary } from './grpc-errors.ts';
import { checkTxnShape } from '../mvcc/store.ts';
import { etcdErrors } from '../mvcc/errors.ts';
import type { EtcdServer } from './etcd-server.ts';
import { decodePutRequest, encodePutResponse } from '../proto/put-codec.ts';
import type { DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest, CompactionRequest } from '../mvcc/types.ts';

function requireKey(key: Buffer | undefined): void {
  if (!key || key.length === 0) throw etcdErrors.emptyKey();
}

/** The KV service definition with Put's request and response read and written by hand (../proto/put-codec.ts). */
export function kvDefinition(generated: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return {
    ...generated,
    Put: { ...generated.Put, requestDeserialize: decodePutRequest, responseSerialize: encodePutResponse as (v: unknown) => Buffer },
  };
}

export function kvService(s: EtcdServer): ServiceHandlers {
  return {
    Range: unary(async (r: RangeRequest) => {
      requireKey(r.key);
      const res = await s.range(r);
      return { header: s.header(), ...res };
    }),
    Put: unary(async (r: PutRequest) => {
      requireKey(r.key);
      const res = await s.propose({ put: r });
      return { header: s.header(), ...res };
    }),
    DeleteRange: unary(async (r: DeleteRangeRequest) => {
      requireKey(r.key);
      const res = await s.propose({ delete_range: r });
      return { header: s.header(), ...res };
    }),
    Txn: unary(async (r: TxnRequest) => {
      checkTxnShape(r);
      const res = await s.txn(r);
      return { header: s.header(), ...res };
    }),
    Compact: unary(async (r: CompactionRequest) => {
      await s.propose({ compaction: r });
      return { header: s.header() };
    }),
  };
}
