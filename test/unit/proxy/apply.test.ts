// Applying iptables payloads, with a fake executor: backend detection, jump rules, error report, resync.
import t from 'tap';
import { FakeExecutor } from '../../../agent/proxy/exec.ts';
import { detectVariant, failedLine, IptablesApplier, IptablesRestoreError, linesAround } from '../../../agent/proxy/iptables/apply.ts';
import { IptablesBackend } from '../../../agent/proxy/iptables/backend.ts';
import { makeService, makeSlice, stateFrom } from '../../../agent/proxy/fixtures.ts';

t.test('detects the backend holding rules, else the default one', async (t) => {
  const withKube = new FakeExecutor((c) => c.cmd === 'iptables-legacy-save' ? { stdout: '*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n' } : undefined);
  t.equal(await detectVariant(withKube), 'legacy');
  const moreNft = new FakeExecutor((c) => c.cmd === 'iptables-nft-save' ? { stdout: '*filter\n-A INPUT -j ACCEPT\n' } : undefined);
  t.equal(await detectVariant(moreNft), 'nft');
  const empty = new FakeExecutor((c) => c.cmd === 'iptables' ? { stdout: 'iptables v1.8.9 (legacy)\n' } : undefined);
  t.equal(await detectVariant(empty), 'legacy');
});

t.test('jump rules are checked and inserted only when missing', async (t) => {
  const exec = new FakeExecutor((c) => c.args.includes('-C') && c.args.includes('PREROUTING') ? { exitCode: 1 } : c.args.includes('-N') ? { exitCode: 1, stderr: 'Chain already exists.' } : undefined);
  await new IptablesApplier(exec, 'nft').ensureJumps();
  const inserts = exec.commands().filter((c) => c.includes(' -I '));
  t.equal(inserts.length, 1);
  t.match(inserts[0], /iptables-nft -w 5 -t nat -I PREROUTING .*-j KUBE-SERVICES/);
  t.ok(exec.calls.every((c) => c.cmd.startsWith('iptables-nft')), 'never touches the other backend');
});

t.test('a failed restore reports the lines around the failing one', async (t) => {
  const payload = ['*nat', ':KUBE-SERVICES - [0:0]', '-A KUBE-SERVICES -j BOGUS', 'COMMIT', ''].join('\n');
  const exec = new FakeExecutor((c) => c.cmd.endsWith('-restore') ? { exitCode: 2, stderr: 'iptables-restore v1.8.9 (nf_tables): Couldn\'t load target `BOGUS\'\nError occurred at line: 3\n' } : undefined);
  const err = await new IptablesApplier(exec, 'nft').restore(payload).catch((e: unknown) => e);
  t.type(err, IptablesRestoreError);
  t.equal((err as IptablesRestoreError).line, 3);
  t.match((err as Error).message, />\s+3: -A KUBE-SERVICES -j BOGUS/);
  t.equal(failedLine('iptables-restore: line 17 failed'), 17);
  t.equal(linesAround('a\nb\nc', 1, 1), '>     1: a\n      2: b');
});

t.test('backend: full sync first, partial after, full again after a failure', async (t) => {
  let failNext = false;
  let jumpsGone = false;
  const exec = new FakeExecutor((c) => {
    if (c.cmd === 'iptables-legacy-save' && c.args.includes('filter')) return { stdout: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' };
    if (c.cmd === 'iptables-legacy-save') {
      const jump = jumpsGone ? '' : '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n';
      return { stdout: `*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]\n${jump}COMMIT\n` };
    }
    if (c.cmd === 'iptables-legacy' && c.args.includes('-S')) {
      const chain = c.args.at(-1)!;
      const prerouting = chain === 'PREROUTING' && !jumpsGone ? '\n-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' : '';
      return { stdout: `-P ${chain} ACCEPT${prerouting}\n` };
    }
    if (c.cmd === 'iptables-legacy-restore' && failNext) { failNext = false; return { exitCode: 1, stderr: 'iptables-restore: line 2 failed' }; }
    return undefined;
  });
  const backend = new IptablesBackend({ exec, variant: 'legacy' });
  const web = makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80 }] });
  const slice = makeSlice({ service: 'web', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.1.2' }] });
  const state = stateFrom([web], [slice]);
  await backend.sync({ state, changed: new Set() });
  const restores = () => exec.calls.filter((c) => c.cmd === 'iptables-legacy-restore');
  t.equal(restores().length, 1);
  const first = restores()[0]!.input!;
  t.match(first, /-X KUBE-SEP-AAAAAAAAAAAAAAAA/, 'the first sync is full and removes leftovers found in the kernel');
  t.notMatch(first, /-I PREROUTING/, 'a jump rule already there is not inserted again');
  t.match(first, /^-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m, 'missing jump rules inserted in the same restore');
  t.match(first, /^-I FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);

  exec.calls.length = 0;
  await backend.sync({ state, changed: new Set() });
  t.same(exec.calls, [], 'nothing changed: no command at all');

  failNext = true;
  await t.rejects(backend.sync({ state, changed: new Set(['default/web:']) }), /line 2 failed/);
  exec.calls.length = 0;
  await backend.sync({ state, changed: new Set() });
  t.match(restores()[0]!.input!, /:KUBE-SERVICES/, 'after a failure the next sync is full even when asked for partial');
  t.ok(exec.calls.some((c) => c.cmd === 'iptables-legacy-save'), 'and it re-reads the kernel state');

  // A periodic full sync checks the jump rules afterwards; when one is gone, the next sync repairs it.
  jumpsGone = true;
  exec.calls.length = 0;
  await backend.sync({ state, changed: undefined });
  await backend.idle();
  t.ok(exec.calls.some((c) => c.args.includes('-S')), 'jump rules checked (iptables -S of the built-in chains) after a periodic full sync');
  t.notOk(exec.calls.some((c) => c.cmd === 'iptables-legacy-save'), 'a periodic full sync trusts its bookkeeping');
  exec.calls.length = 0;
  await backend.sync({ state, changed: new Set() });
  t.ok(exec.calls.some((c) => c.cmd === 'iptables-legacy-save'), 'missing jumps: state re-read');
  t.match(restores()[0]!.input!, /^-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m, 'and the missing jump re-inserted');
});

t.test('stale UDP endpoints get their conntrack entries deleted', async (t) => {
  const exec = new FakeExecutor((c) => c.cmd === 'conntrack' ? { exitCode: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.' } : undefined);
  const warnings: string[] = [];
  const backend = new IptablesBackend({ exec, variant: 'nft', warn: (m) => warnings.push(m) });
  const dns = stateFrom([makeService({ name: 'dns', clusterIP: '10.96.0.53', type: 'NodePort', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] })], []);
  await backend.flushStale([{ service: dns.services.get('default/dns:')!, endpoints: [{ ip: '10.244.1.53', port: 53, ready: true, serving: true, terminating: false, isLocal: false }] }]);
  t.same(exec.commands(), [
    'conntrack -D --orig-dst 10.96.0.53 --dst-nat 10.244.1.53 -p udp',
    'conntrack -D -p udp --dport 30053 --dst-nat 10.244.1.53',
  ]);
  t.same(warnings, [], '"0 flow entries" is not an error');
  exec.calls.length = 0;
  await backend.flushStale([{ service: dns.services.get('default/dns:')!, endpoints: [], wholeService: true }]);
  t.same(exec.commands(), ['conntrack -D --orig-dst 10.96.0.53 -p udp', 'conntrack -D -p udp --dport 30053']);
});
