// etcdserverpb.Lease: grant and revoke go through the log; keep-alive and time-to-live are answered from
// the leader's deadlines (lease-clock.ts).
import type { ServiceHandlers, StreamCall } from './grpc-server.ts';
import { unary, toServiceError } from './grpc-errors.ts';
import type { EtcdServer } from './etcd-server.ts';
import type { LeaseGrantResponse } from '../mvcc/types.ts';

interface GrantReq { TTL: string; ID: string }
interface IdReq { ID: string }
interface TtlReq { ID: string; keys: boolean }

export function leaseService(s: EtcdServer): ServiceHandlers {
  return {
    LeaseGrant: unary(async (r: GrantReq) => {
      const id = r.ID && r.ID !== '0' ? r.ID : s.newLeaseId();
      const res = (await s.propose({ lease_grant: { ID: id, TTL: r.TTL } })) as LeaseGrantResponse;
      return { header: s.header(), ID: res.ID, TTL: res.TTL, error: '' };
    }),
    LeaseRevoke: unary(async (r: IdReq) => {
      await s.propose({ lease_revoke: { ID: r.ID } });
      return { header: s.header() };
    }),
    LeaseKeepAlive: (call: StreamCall<IdReq, object>) => {
      call.on('data', (r: IdReq) => {
        s.renewLease(String(r.ID)).then((ttl) => {
          if (!call.destroyed) call.write({ header: s.header(), ID: r.ID, TTL: ttl });
        }, (err: unknown) => {
          const e = toServiceError(err);
          call.destroy(Object.assign(new Error(String(e.details)), e));
        });
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
    LeaseTimeToLive: unary(async (r: TtlReq) => {
      await s.consensus.readIndex();
      const lease = s.store.lessor.get(String(r.ID));
      if (!lease) return { header: s.header(), ID: r.ID, TTL: -1, grantedTTL: 0, keys: [] };
      const keys = r.keys ? [...lease.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [];
      return { header: s.header(), ID: r.ID, TTL: await s.leaseRemaining(lease.id), grantedTTL: lease.ttl, keys };
    }),
    LeaseLeases: unary(async () => {
      await s.consensus.readIndex();
      return { header: s.header(), leases: [...s.store.lessor.leases.keys()].map((ID) => ({ ID })) };
    }),
  };
}
