// Test harness: etcd 3.4 (Debian) and `bin/kts apiserver` on free loopback ports, plain HTTP, killed by PID.
// Reusable by any integration test that needs a real API server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEtcd, type TestEtcd } from '../../../control/apiserver/testing/etcd.ts';
import { startApiServerProcess, type ApiServerProcess } from './apiserver-process.ts';

export interface ControlPlane {
  /** http://127.0.0.1:<port> */
  server: string;
  etcd: TestEtcd;
  apiserverPid: number;
  /** The apiserver's recent stderr, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** With `etcd`, the apiserver uses that store and stop() leaves it running (restart tests). */
export async function startControlPlane(opts: { etcd?: TestEtcd } = {}): Promise<ControlPlane> {
  const etcd = opts.etcd ?? await startEtcd();
  const dir = mkdtempSync(path.join(tmpdir(), 'kts-cp-'));
  const cleanup = async () => {
    if (!opts.etcd) await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  let api: ApiServerProcess;
  try {
    api = await startApiServerProcess({ etcdEndpoint: etcd.endpoint, pkiDir: dir, plainHttp: true });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const stop = async () => {
    await api.kill();
    await cleanup();
  };
  // serving comes first; the default namespace is created just after
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${api.url}/api/v1/namespaces/default`);
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`apiserver did not create the default namespace: ${api.log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { server: api.url, etcd, apiserverPid: api.pid, log: api.log, stop };
}
