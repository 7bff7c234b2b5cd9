// Test support: a throwaway etcd on free loopback ports with a temp data dir, killed by PID.
// KTS_TEST_ETCD=ours runs our own store (bin/kts etcd) instead of /usr/bin/etcd; KTS_TEST_ETCD_ENDPOINT reuses one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../../lab/process.ts';

export { freePort };

export interface TestEtcd { endpoint: string; stop(): Promise<void> }

async function waitHealthy(endpoint: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited early (${child.exitCode}): ${log()}`);
    try {
      const res = await fetch(`${endpoint}/health`);
      if (res.ok) return;
    } catch { /* not up yet */ }
    try {
      // our store may not serve /health over HTTP; a gRPC range says it is up
      const { Etcd3 } = await import('etcd3');
      const c = new Etcd3({ hosts: endpoint, dialTimeout: 500 });
      try { await c.get('/health-probe').string(); return; } finally { c.close(); }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${endpoint} did not become healthy: ${log()}`);
}

export type EtcdKind = 'etcd-3.4' | 'kts-etcd';

/** kind defaults to KTS_TEST_ETCD=ours -> kts-etcd, else the Debian etcd 3.4. */
export async function startEtcd(kind?: EtcdKind): Promise<TestEtcd> {
  if (!kind && process.env.KTS_TEST_ETCD_ENDPOINT) return { endpoint: process.env.KTS_TEST_ETCD_ENDPOINT, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'kts-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const ours = kind ? kind === 'kts-etcd' : process.env.KTS_TEST_ETCD === 'ours';
  const root = resolve(import.meta.dirname, '../../..');
  const [cmd, args] = ours
    ? [join(root, 'bin/kts'), ['etcd', '--name', 'test', '--data-dir', dir, '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `test=http://127.0.0.1:${peerPort}`]]
    : ['/usr/bin/etcd', ['--name', 'test', '--data-dir', dir, '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `test=http://127.0.0.1:${peerPort}`, '--log-level', 'error', '--logger', 'zap']] as const;
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(endpoint, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, stop };
}
