// Membership changes through etcdctl: add a member to a running cluster, use it, remove it again.
import type { Test } from 'tap';
import type { Cluster } from './clusters.ts';
import { etcdctl } from './suite.ts';

export function membershipSuite(t: Test, cluster: () => Cluster): void {
  t.test('member add, use the new member, member remove', async (t) => {
    const c = cluster();
    const before = c.members.length;
    const p = `/members-${Math.random().toString(36).slice(2, 8)}`;
    await etcdctl(c.endpoints, ['put', `${p}/old`, 'before-join']);
    const name = await c.addMember();
    const fresh = [c.endpoints[c.endpoints.length - 1]];
    const list = JSON.parse((await etcdctl(c.endpoints, ['member', 'list', '-w', 'json'])).stdout) as { members: Array<{ name: string }> };
    t.equal(list.members.length, before + 1);
    t.equal((await etcdctl(fresh, ['get', `${p}/old`, '--print-value-only'])).stdout, 'before-join\n', 'new member has the old data');
    t.equal((await etcdctl(fresh, ['put', `${p}/new`, 'via-new'])).stdout.trim(), 'OK');
    t.equal((await etcdctl([c.endpoints[0]], ['get', `${p}/new`, '--print-value-only'])).stdout, 'via-new\n');
    await c.removeMember(name);
    const after = JSON.parse((await etcdctl(c.endpoints, ['member', 'list', '-w', 'json'])).stdout) as { members: Array<{ name: string }> };
    t.same(after.members.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
    t.equal((await etcdctl(c.endpoints, ['put', `${p}/after`, 'x'])).stdout.trim(), 'OK', 'cluster still takes writes');
    const unknown = await etcdctl(c.endpoints, ['member', 'remove', '1234abcd']);
    t.not(unknown.code, 0);
    t.match(unknown.stderr, /etcdserver: member not found/);
  });
}
