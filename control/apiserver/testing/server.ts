// Test support: an apiserver over a throwaway etcd, HTTPS with a fresh CA, and an admin kubeconfig on disk.
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createClientCert, createServingCert, kubeconfig, type KeyPairPem } from '../../pki/index.ts';
import { startApiServer, type ApiServerOptions, type RunningApiServer } from '../index.ts';
import { startEtcd, type EtcdKind } from './etcd.ts';

export interface TestCluster {
  server: RunningApiServer;
  url: string;
  dir: string;
  kubeconfigPath: string;
  caPem: string;
  admin: KeyPairPem;
  etcdEndpoint: string;
  /** fetch with the admin client certificate. */
  request(path: string, init?: { method?: string; body?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; headers: Record<string, string>; text: string; json: () => any }>;
  stop(): Promise<void>;
}

export async function startTestCluster(extra: Partial<ApiServerOptions> = {}, etcdKind?: EtcdKind): Promise<TestCluster> {
  const etcd = await startEtcd(etcdKind);
  const dir = mkdtempSync(join(tmpdir(), 'kts-apiserver-'));
  let server: RunningApiServer | undefined;
  try {
    const ca = await createCA();
    const serving = await createServingCert(ca);
    const admin = await createClientCert(ca, 'kubernetes-admin', ['system:masters']);
    server = await startApiServer({
      etcdServers: [etcd.endpoint], bindAddress: '127.0.0.1', securePort: 0,
      tls: { cert: serving.certPem, key: serving.keyPem, clientCA: ca.certPem }, ...extra,
    });
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig({ server: server.url, caPem: ca.certPem, user: 'admin', client: admin }));
    const agent = new https.Agent({ ca: ca.certPem, cert: admin.certPem, key: admin.keyPem, keepAlive: true });
    const s = server;
    return {
      server: s, url: s.url, dir, kubeconfigPath, caPem: ca.certPem, admin, etcdEndpoint: etcd.endpoint,
      async request(path, init = {}) {
        return new Promise((resolve, reject) => {
          // frame bodies explicitly: Node sends DELETE bodies unframed otherwise
          const headers = { ...(init.headers ?? {}), ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) };
          const req = https.request(`${s.url}${path}`, { method: init.method ?? 'GET', headers, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
              resolve({ status: res.statusCode ?? 0, headers, text, json: () => JSON.parse(text) });
            });
          });
          req.on('error', reject);
          req.end(init.body);
        });
      },
      async stop() {
        agent.destroy();
        await s.close();
        await etcd.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
