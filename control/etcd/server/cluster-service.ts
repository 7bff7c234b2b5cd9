// etcdserverpb.Cluster: membership as this member knows it. Changes need the Raft membership path
// (raft-member.ts); a single member answers them with etcd's errors.
import type { ServiceHandlers } from './grpc-server.ts';
import { unary } from './grpc-errors.ts';
import { etcdErrors, EtcdError, grpcCode } from '../mvcc/errors.ts';
import type { EtcdServer, Member } from './etcd-server.ts';

export interface MembershipChanger {
  add(peerURLs: string[], isLearner: boolean): Promise<Member>;
  remove(id: string): Promise<void>;
  update(id: string, peerURLs: string[]): Promise<void>;
}

export function clusterService(s: EtcdServer, changer?: MembershipChanger): ServiceHandlers {
  const unsupported = () => { throw new EtcdError(grpcCode.FAILED_PRECONDITION, 'etcdserver: membership changes need a Raft cluster (this member runs alone)'); };
  const find = (id: string) => {
    const m = s.members.find((x) => x.ID === String(id));
    if (!m) throw etcdErrors.memberNotFound();
    return m;
  };
  return {
    MemberList: unary(async () => ({ header: s.header(), members: s.members })),
    MemberAdd: unary(async (r: { peerURLs: string[]; isLearner: boolean }) => {
      if (!changer) unsupported();
      for (const u of r.peerURLs) if (s.members.some((m) => m.peerURLs.includes(u))) throw etcdErrors.peerURLExists();
      const member = await changer!.add(r.peerURLs, r.isLearner);
      return { header: s.header(), member, members: s.members };
    }),
    MemberRemove: unary(async (r: { ID: string }) => {
      find(r.ID);
      if (!changer) unsupported();
      await changer!.remove(String(r.ID));
      return { header: s.header(), members: s.members };
    }),
    MemberUpdate: unary(async (r: { ID: string; peerURLs: string[] }) => {
      find(r.ID);
      if (!changer) unsupported();
      await changer!.update(String(r.ID), r.peerURLs);
      return { header: s.header(), members: s.members };
    }),
    MemberPromote: unary(async (r: { ID: string }) => {
      find(r.ID);
      throw new EtcdError(grpcCode.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member');
    }),
  };
}
