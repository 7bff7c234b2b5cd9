// Membership changes for a Raft cluster (etcdctl member add/remove): a change is a Raft conf change whose
// context carries the member's ID and peer URLs; when it is applied (on every member), the member list and
// the peer transport follow. The new member then starts with --initial-cluster-state existing and publishes
// its name and client URLs itself.
import { etcdErrors, EtcdError, grpcCode } from '../mvcc/errors.ts';
import { memberIdFor } from './etcd-server.ts';
import type { EtcdServer, Member } from './etcd-server.ts';
import type { RaftMember } from './raft-member.ts';
import type { MembershipChanger } from './cluster-service.ts';
import type { ConfChange } from '../raft/index.ts';

const CHANGE_TIMEOUT_MS = 10_000;

export class RaftMembership implements MembershipChanger {
  private readonly server: EtcdServer;
  private readonly raft: RaftMember;
  private readonly token: string;
  private readonly waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(server: EtcdServer, raft: RaftMember, token: string) {
    this.server = server;
    this.raft = raft;
    this.token = token;
    raft.onConfChange = (cc) => this.applied(cc);
    raft.membersView = () => server.members.map((m) => ({ ID: m.ID, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs }));
    server.onMembersRestored = (members) => { for (const m of members) if (m.peerURLs[0]) raft.addPeer(m.ID, m.peerURLs[0]); };
  }

  private wait(key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(key); reject(etcdErrors.timeout()); }, CHANGE_TIMEOUT_MS);
      this.waiters.set(key, { resolve, reject, timer });
    });
  }

  private done(key: string): void {
    const w = this.waiters.get(key);
    if (!w) return;
    this.waiters.delete(key);
    clearTimeout(w.timer);
    w.resolve();
  }

  async add(peerURLs: string[], isLearner: boolean): Promise<Member> {
    if (isLearner) throw new EtcdError(grpcCode.FAILED_PRECONDITION, 'etcdserver: learner members are not supported by kts etcd');
    if (peerURLs.length === 0) throw etcdErrors.badRequest('member peer URLs are required');
    for (const u of peerURLs) {
      try { new URL(u); } catch { throw etcdErrors.badRequest(`invalid peer URL "${u}"`); }
    }
    const id = memberIdFor(peerURLs, this.token);
    if (this.server.members.some((m) => m.ID === id)) throw etcdErrors.memberExists();
    const applied = this.wait(`add:${id}`);
    this.raft.proposeConfChange({ type: 'AddNode', nodeId: Number(id), context: new TextEncoder().encode(JSON.stringify({ ID: id, peerURLs })) });
    await applied;
    return this.server.members.find((m) => m.ID === id)!;
  }

  async remove(id: string): Promise<void> {
    const applied = this.wait(`remove:${id}`);
    this.raft.proposeConfChange({ type: 'RemoveNode', nodeId: Number(id) });
    await applied;
  }

  async update(): Promise<void> {
    throw new EtcdError(grpcCode.FAILED_PRECONDITION, 'etcdserver: member update is not supported by kts etcd');
  }

  /** A conf change was applied on this member (also on replay after a restart). */
  private applied(cc: ConfChange): void {
    const id = String(cc.nodeId);
    if (cc.type === 'AddNode' || cc.type === 'AddLearnerNode') {
      let peerURLs: string[] = [];
      if (cc.context && cc.context.byteLength > 0) {
        try { peerURLs = (JSON.parse(new TextDecoder().decode(cc.context)) as { peerURLs: string[] }).peerURLs; } catch { /* bootstrap entries carry none */ }
      }
      if (!this.server.members.some((m) => m.ID === id) && peerURLs.length > 0) {
        this.server.members.push({ ID: id, name: '', peerURLs, clientURLs: [], isLearner: false });
      }
      const m = this.server.members.find((x) => x.ID === id);
      if (m?.peerURLs[0]) this.raft.addPeer(id, m.peerURLs[0]);
      this.done(`add:${id}`);
    } else if (cc.type === 'RemoveNode') {
      this.server.members = this.server.members.filter((m) => m.ID !== id);
      this.raft.removePeer(id);
      this.done(`remove:${id}`);
      if (id === this.server.memberId) this.server.log('warn', 'this member was removed from the cluster; it no longer takes part');
    }
  }
}
