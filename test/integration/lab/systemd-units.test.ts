// Every unit in systemd/ passes `systemd-analyze verify`. Warnings (a typo in Type= or Restart=) go to stderr
// with exit 0 by default (linux-host-facts P9), so any stderr fails too. The units point at /opt/kts/bin/kts,
// which the check resolves inside a temp root holding an executable at that path.
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const UNITS = path.resolve(import.meta.dirname, '../../../systemd');

function verify(root: string, unit: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['verify', '--recursive-errors=no', `--root=${root}`, `/etc/systemd/system/${unit}`],
      { timeout: 60_000 }, (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
}

function makeRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'kts-units-'));
  mkdirSync(path.join(root, 'opt/kts/bin'), { recursive: true });
  mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  writeFileSync(path.join(root, 'opt/kts/bin/kts'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'opt/kts/bin/kts'), 0o755);
  for (const f of readdirSync(UNITS)) copyFileSync(path.join(UNITS, f), path.join(root, 'etc/systemd/system', f));
  return root;
}

const units = readdirSync(UNITS).filter((f) => f.endsWith('.service'));

t.test('the control plane units are there', async (t) => {
  t.ok(units.includes('etcd.service'));
  t.ok(units.includes('kube-apiserver.service'));
  t.match(readFileSync(path.join(UNITS, 'kube-apiserver.service'), 'utf8'), /^ExecStart=\/opt\/kts\/bin\/kts apiserver /m);
  t.match(readFileSync(path.join(UNITS, 'etcd.service'), 'utf8'), /^ExecStart=\/opt\/kts\/bin\/kts etcd /m);
});

t.test('systemd-analyze verify accepts every unit without a word on stderr', async (t) => {
  const root = makeRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const unit of units) {
    const r = await verify(root, unit);
    t.equal(r.code, 0, `${unit}: exit code`);
    t.equal(r.stderr, '', `${unit}: nothing on stderr`);
  }
});

t.test('the check itself catches a typo and a missing executable', async (t) => {
  const root = makeRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const text = readFileSync(path.join(UNITS, 'etcd.service'), 'utf8');
  writeFileSync(path.join(root, 'etc/systemd/system/typo.service'), text.replace('Type=simple', 'Type=simpel'));
  const typo = await verify(root, 'typo.service');
  t.not(typo.stderr, '', 'a bad Type= is reported');
  writeFileSync(path.join(root, 'etc/systemd/system/missing.service'), text.replace('/opt/kts/bin/kts', '/opt/kts/bin/nothere'));
  const missing = await verify(root, 'missing.service');
  t.not(missing.code, 0, 'a missing executable fails');
  t.match(missing.stderr, /not executable|No such file/);
});
