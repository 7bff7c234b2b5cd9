// Test harness: etcd 3.4 (Debian) and `bin/kts apiserver` on free loopback ports, plain HTTP, killed by PID.
// Reusable by any integration test that needs a real API server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startEtcd, type TestEtcd } from '../../../control/apiserver/testing/etcd.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface ControlPlane {
  /** http://127.0.0.1:<port> */
  server: string;
  etcd: TestEtcd;
  apiserverPid: number;
  /** The apiserver's recent stderr, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** With `etcd`, the apiserver uses that store and stop() leaves it running (restart tests). */
export async function startControlPlane(opts: { etcd?: TestEtcd } = {}): Promise<ControlPlane> {
  const etcd = opts.etcd ?? await startEtcd();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'kts-cp-'));
  const child = spawn(path.join(ROOT, 'bin/kts'), ['apiserver', '--etcd-servers', etcd.endpoint, '--bind-address', '127.0.0.1',
    '--secure-port', String(port), '--insecure-http', '--pki-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
  const server = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await killChild(child);
    if (!opts.etcd) await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`apiserver exited early (${child.exitCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`${server}/api/v1/namespaces/default`);
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`apiserver did not come up: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { server, etcd, apiserverPid: child.pid!, log: () => stderr, stop };
}
