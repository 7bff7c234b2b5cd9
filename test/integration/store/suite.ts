// The store conformance suite: one set of behaviours, run against every etcd v3 implementation on this
// machine (etcd 3.4 and kts etcd). Clients: the real etcdctl 3.4 and the etcd3 npm client the apiserver uses.
import { execFile, spawn } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import type { Cluster } from './clusters.ts';

import type { Test } from 'tap';

export interface CtlResult { code: number; stdout: string; stderr: string }

/** Run etcdctl (v3 API) against the given endpoints; never throws on a non-zero exit. */
export function etcdctl(endpoints: string[], args: string[], input?: string): Promise<CtlResult> {
  return new Promise((resolve) => {
    const child = execFile('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--command-timeout=10s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** The same member addressed without a scheme (see README: etcdctl's per-endpoint calls send it as :authority). */
const bare = (e: string) => e.replace(/^https?:\/\//, '');

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function storeSuite(t: Test, cluster: () => Cluster): void {
  const uniq = () => `/suite-${Math.random().toString(36).slice(2, 8)}`;

  t.test('etcdctl: put, get, get --prefix, del, revisions', async (t) => {
    const ep = cluster().endpoints;
    const p = uniq();
    t.equal((await etcdctl(ep, ['put', `${p}/a`, 'one'])).stdout.trim(), 'OK');
    t.equal((await etcdctl(ep, ['put', `${p}/b`, 'two'])).stdout.trim(), 'OK');
    await etcdctl(ep, ['put', `${p}/a`, 'uno']);
    const get = await etcdctl(ep, ['get', `${p}/a`]);
    t.equal(get.stdout, `${p}/a\nuno\n`);
    const json = JSON.parse((await etcdctl(ep, ['get', `${p}/`, '--prefix', '-w', 'json'])).stdout);
    t.equal(json.count, 2);
    const a = json.kvs.find((kv: { key: string }) => Buffer.from(kv.key, 'base64').toString() === `${p}/a`);
    t.equal(a.version, 2, 'second write is version 2');
    t.ok(a.mod_revision > a.create_revision, 'mod revision moved on');
    t.ok(json.header.revision >= a.mod_revision, 'header revision is current');
    const keysOnly = await etcdctl(ep, ['get', `${p}/`, '--prefix', '--keys-only']);
    t.same(keysOnly.stdout.split('\n').filter(Boolean), [`${p}/a`, `${p}/b`]);
    const limited = JSON.parse((await etcdctl(ep, ['get', `${p}/`, '--prefix', '--limit=1', '-w', 'json'])).stdout);
    t.same([limited.kvs.length, limited.more, limited.count], [1, true, 2]);
    const old = await etcdctl(ep, ['get', `${p}/a`, `--rev=${a.create_revision}`]);
    t.equal(old.stdout, `${p}/a\none\n`, 'read at an older revision');
    t.equal((await etcdctl(ep, ['del', `${p}/`, '--prefix'])).stdout.trim(), '2');
    t.equal((await etcdctl(ep, ['get', `${p}/`, '--prefix', '--count-only', '-w', 'json'])).stdout.includes('"count"'), false,
      'count 0 is omitted from JSON');
  });

  t.test('etcdctl: txn with compares and both branches', async (t) => {
    const ep = cluster().endpoints;
    const p = uniq();
    await etcdctl(ep, ['put', `${p}/k`, 'v1']);
    const ok = await etcdctl(ep, ['txn'], `value("${p}/k") = "v1"\n\nput ${p}/then yes\n\nput ${p}/else yes\n\n`);
    t.match(ok.stdout, /^SUCCESS/);
    const no = await etcdctl(ep, ['txn'], `mod("${p}/k") < "1"\n\nput ${p}/then2 yes\n\nget ${p}/k\n\n`);
    t.match(no.stdout, /^FAILURE/);
    t.match(no.stdout, new RegExp(`${p}/k\nv1`), 'failure branch read the key');
    const got = await etcdctl(ep, ['get', `${p}/`, '--prefix', '--keys-only']);
    t.same(got.stdout.split('\n').filter(Boolean), [`${p}/k`, `${p}/then`]);
  });

  t.test('etcdctl: watch sees puts and deletes, from the past too', async (t) => {
    const ep = cluster().endpoints;
    const p = uniq();
    const first = JSON.parse((await etcdctl(ep, ['put', `${p}/x`, '0', '-w', 'json'])).stdout).header.revision;
    const watcher = spawn('etcdctl', [`--endpoints=${ep.join(',')}`, 'watch', `${p}/`, '--prefix', `--rev=${first}`],
      { env: { ...process.env, ETCDCTL_API: '3' } });
    t.teardown(() => { watcher.kill('SIGKILL'); });
    let out = '';
    watcher.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    await etcdctl(ep, ['put', `${p}/x`, '1']);
    await etcdctl(ep, ['del', `${p}/x`]);
    await waitFor('watch output', async () => (out.split('\n').length >= 9 ? true : undefined));
    t.equal(out, `PUT\n${p}/x\n0\nPUT\n${p}/x\n1\nDELETE\n${p}/x\n\n`);
  });

  t.test('etcdctl: leases grant, time-to-live, keep-alive, revoke', async (t) => {
    const ep = cluster().endpoints;
    const p = uniq();
    const grant = await etcdctl(ep, ['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant.stdout)?.[1];
    t.ok(id, grant.stdout + grant.stderr);
    await etcdctl(ep, ['put', `${p}/leased`, 'v', `--lease=${id}`]);
    const ttl = await etcdctl(ep, ['lease', 'timetolive', id!, '--keys']);
    t.match(ttl.stdout, new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[${p}/leased\\]\\)`));
    const ka = await etcdctl(ep, ['lease', 'keep-alive', '--once', id!]);
    t.match(ka.stdout, new RegExp(`lease ${id} keepalived with TTL\\(60\\)`));
    t.match((await etcdctl(ep, ['lease', 'list'])).stdout, new RegExp(id!));
    t.match((await etcdctl(ep, ['lease', 'revoke', id!])).stdout, /revoked/);
    t.equal((await etcdctl(ep, ['get', `${p}/leased`])).stdout, '', 'revoke deleted the attached key');
    t.match((await etcdctl(ep, ['lease', 'timetolive', id!])).stdout, /already expired/);
    const bad = await etcdctl(ep, ['put', `${p}/x`, 'v', '--lease=1234abcd']);
    t.not(bad.code, 0);
    t.match(bad.stderr, /etcdserver: requested lease not found/);
  });

  t.test('etcdctl: member list and endpoint status/health', async (t) => {
    const c = cluster();
    const list = await etcdctl(c.endpoints, ['member', 'list', '-w', 'json']);
    const members = JSON.parse(list.stdout).members as Array<{ name: string; clientURLs: string[] }>;
    t.equal(members.length, c.members.length);
    t.same(members.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
    const status = await etcdctl(c.endpoints.map(bare), ['endpoint', 'status', '-w', 'json']);
    const st = JSON.parse(status.stdout) as Array<{ Status: { leader: number; header: { member_id: number } } }>;
    t.equal(st.length, c.members.length);
    const leaders = new Set(st.map((s) => String(s.Status.leader)));
    t.equal(leaders.size, 1, 'every member names the same leader');
    const health = await etcdctl(c.endpoints, ['endpoint', 'health']);
    t.equal(health.code, 0, health.stderr);
    t.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, c.members.length);
  });

  t.test('etcdctl: compaction makes old revisions unreadable', async (t) => {
    const ep = cluster().endpoints;
    const p = uniq();
    const r1 = JSON.parse((await etcdctl(ep, ['put', `${p}/c`, '1', '-w', 'json'])).stdout).header.revision;
    const r2 = JSON.parse((await etcdctl(ep, ['put', `${p}/c`, '2', '-w', 'json'])).stdout).header.revision;
    t.match((await etcdctl(ep, ['compaction', String(r2)])).stdout, new RegExp(`compacted revision ${r2}`));
    const old = await etcdctl(ep, ['get', `${p}/c`, `--rev=${r1}`]);
    t.not(old.code, 0);
    t.match(old.stderr, /etcdserver: mvcc: required revision has been compacted/);
    t.equal((await etcdctl(ep, ['get', `${p}/c`, `--rev=${r2}`])).stdout, `${p}/c\n2\n`);
    const future = await etcdctl(ep, ['get', `${p}/c`, `--rev=${r2 + 1000000}`]);
    t.match(future.stderr, /etcdserver: mvcc: required revision is a future revision/);
    const again = await etcdctl(ep, ['compaction', String(r1)]);
    t.match(again.stderr, /etcdserver: mvcc: required revision has been compacted/);
    t.equal((await etcdctl(ep.map(bare), ['defrag'])).code, 0);
  });

  t.test('etcd3 client: put/get/prefix, txn, watch, lease expiry, errors', async (t) => {
    const client = new Etcd3({ hosts: cluster().endpoints });
    t.teardown(() => client.close());
    const p = uniq();
    await client.put(`${p}/a`).value('1');
    await client.put(`${p}/b`).value('2');
    t.same(await client.getAll().prefix(`${p}/`).strings(), { [`${p}/a`]: '1', [`${p}/b`]: '2' });
    t.equal(await client.getAll().prefix(`${p}/`).count(), 2);

    // the apiserver's optimistic update shape: compare mod_revision, put on success, get on failure
    const cur = await client.get(`${p}/a`).exec();
    const modRev = cur.kvs[0].mod_revision;
    const ok = await client.if(`${p}/a`, 'Mod', '==', modRev).then(client.put(`${p}/a`).value('1b')).else(client.get(`${p}/a`)).commit();
    t.equal(ok.succeeded, true);
    const stale = await client.if(`${p}/a`, 'Mod', '==', modRev).then(client.put(`${p}/a`).value('1c')).else(client.get(`${p}/a`)).commit();
    t.equal(stale.succeeded, false);
    t.equal(stale.responses[0].response_range.kvs[0].value.toString(), '1b');
    const create = await client.if(`${p}/new`, 'Create', '==', 0).then(client.put(`${p}/new`).value('n')).commit();
    t.equal(create.succeeded, true, 'create-if-absent');

    const events: string[] = [];
    const watcher = await client.watch().prefix(`${p}/w`).withPreviousKV().create();
    watcher.on('put', (kv, prev) => events.push(`put ${kv.key.toString()}=${kv.value.toString()} prev=${prev?.value.toString() ?? ''}`));
    watcher.on('delete', (kv) => events.push(`delete ${kv.key.toString()}`));
    await client.put(`${p}/w1`).value('a');
    await client.put(`${p}/w1`).value('b');
    await client.delete().key(`${p}/w1`);
    await waitFor('watch events', async () => (events.length >= 3 ? true : undefined));
    t.same(events, [`put ${p}/w1=a prev=`, `put ${p}/w1=b prev=a`, `delete ${p}/w1`]);
    await watcher.cancel();

    const lease = client.lease(2, { autoKeepAlive: false });
    await lease.put(`${p}/ephemeral`).value('x');
    t.equal(await client.get(`${p}/ephemeral`).string(), 'x');
    await waitFor('lease expiry to delete the key', async () =>
      ((await client.get(`${p}/ephemeral`).string()) === null ? true : undefined), 15_000);
    t.pass('expired lease deleted its key');

    const big = Buffer.alloc(1.6 * 1024 * 1024, 1);
    await t.rejects(client.put(`${p}/big`).value(big).exec(), /etcdserver: request is too large/);
    t.equal(await client.get(`${p}/a`).string(), '1b', 'still serving after a rejected request');
  });
}
