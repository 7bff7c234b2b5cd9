// npm run bench:apiserver — the apiserver (as its own process, `kts apiserver`) over our etcd and over etcd 3.4:
// pod creates from 50 concurrent clients (unthrottled, and paced at 200/s: p50/p99), a LIST of 10,000 pods,
// and 1,000 concurrent watchers receiving each event (p99 delivery delay). Targets (issue 3): p99 <= 25 ms for
// creates at 200/s, a 10,000-pod LIST in <= 1 s, watch delivery p99 <= 100 ms.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type EtcdKind } from '../../control/apiserver/testing/etcd.ts';
import { pkiPaths } from '../../control/pki/index.ts';
import { startApiServerProcess } from '../integration/harness/apiserver-process.ts';

const listSize = Number(process.env.BENCH_LIST_PODS ?? 10_000);
const watchers = Number(process.env.BENCH_WATCHERS ?? 1000);

interface Apiserver { url: string; agent: https.Agent; watchAgent: https.Agent; stop(): Promise<void> }

async function startApiserver(etcdEndpoint: string): Promise<Apiserver> {
  const dir = mkdtempSync(join(tmpdir(), 'kts-bench-'));
  const api = await startApiServerProcess({ etcdEndpoint, pkiDir: dir });
  const p = pkiPaths(dir);
  const tls = { ca: readFileSync(p.caCert), cert: readFileSync(p.adminCert), key: readFileSync(p.adminKey) };
  const agent = new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 });
  const watchAgent = new https.Agent({ ...tls, keepAlive: false, maxSockets: Infinity });
  return {
    url: api.url, agent, watchAgent,
    async stop() {
      agent.destroy(); watchAgent.destroy();
      await api.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function request(api: Apiserver, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(`${api.url}${path}`, { method, agent: api.agent, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', rej);
    req.end(data);
  });
}

const pod = (name: string) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'bench', tier: 'web' } },
  spec: { containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'], resources: { requests: { cpu: '10m', memory: '16Mi' } }, ports: [{ containerPort: 8080 }] }] },
});

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function ensureNamespace(api: Apiserver, name: string): Promise<void> {
  const r = await request(api, 'POST', '/api/v1/namespaces', { metadata: { name } });
  if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${name}: ${r.status} ${r.text}`);
}

/** count creates from `clients` concurrent clients, optionally paced to `rate`/s overall. */
async function creates(api: Apiserver, ns: string, prefix: string, count: number, clients: number, rate?: number) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      if (rate) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const s = performance.now();
      const r = await request(api, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(`${prefix}-${i}`));
      lat.push(performance.now() - s);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text.slice(0, 200)}`);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { rate: count / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function watchDelivery(api: Apiserver, ns: string, events: number): Promise<{ p50: number; p99: number; connected: number }> {
  const sent = new Map<string, number>();
  const delays: number[] = [];
  const reqs: import('node:http').ClientRequest[] = [];
  let connected = 0;
  await Promise.all(Array.from({ length: watchers }, () => new Promise<void>((res, rej) => {
    const req = https.request(`${api.url}/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=0`, { agent: api.watchAgent }, (r) => {
      connected++;
      let buf = '';
      r.on('data', (d: Buffer) => {
        const now = performance.now();
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = line.match(/"name":"([^"]+)"/);
          const t = m ? sent.get(m[1]!) : undefined;
          if (t !== undefined && line.startsWith('{"type":"ADDED"')) delays.push(now - t);
        }
      });
      r.on('error', () => {});
      res();
    });
    req.on('error', rej);
    reqs.push(req);
    req.end();
  })));
  for (let i = 0; i < events; i++) {
    const name = `w-${i}`;
    sent.set(name, performance.now());
    const r = await request(api, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(name));
    if (r.status !== 201) throw new Error(`create: ${r.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const deadline = Date.now() + 10_000;
  while (delays.length < events * watchers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const r of reqs) r.destroy();
  if (delays.length < events * watchers) console.log(`  (only ${delays.length} of ${events * watchers} deliveries arrived)`);
  return { p50: pct(delays, 50), p99: pct(delays, 99), connected };
}

async function run(kind: EtcdKind) {
  const etcd = await startEtcd(kind);
  const api = await startApiserver(etcd.endpoint);
  try {
    await ensureNamespace(api, 'bench');
    await ensureNamespace(api, 'paced');
    await ensureNamespace(api, 'watch');
    const burst = await creates(api, 'bench', 'b', 2000, 50);
    const paced = await creates(api, 'paced', 'p', 2000, 50, 200);
    await creates(api, 'bench', 'fill', Math.max(0, listSize - 2000), 50);
    const list = async (q: string) => {
      const s = performance.now();
      const r = await request(api, 'GET', `/api/v1/namespaces/bench/pods${q}`);
      const ms = performance.now() - s;
      const n = JSON.parse(r.text).items.length;
      if (n !== listSize) throw new Error(`listed ${n}, expected ${listSize}`);
      return ms;
    };
    await list(''); // warm
    const listEtcd = Math.min(await list(''), await list(''));
    const listCache = Math.min(await list('?resourceVersion=0'), await list('?resourceVersion=0'));
    const w = await watchDelivery(api, 'watch', 20);
    return { burst, paced, listEtcd, listCache, watch: w };
  } finally {
    await api.stop();
    await etcd.stop();
  }
}

const results: Record<string, Awaited<ReturnType<typeof run>>> = {};
for (const kind of ['kts-etcd', 'etcd-3.4'] as const) {
  console.log(`running against ${kind} ...`);
  results[kind] = await run(kind);
}
const a = results['kts-etcd']!, b = results['etcd-3.4']!;
const f = (n: number) => n.toFixed(1);
const rows: [string, number, number, string][] = [
  ['creates/s, 50 clients unthrottled', a.burst.rate, b.burst.rate, ''],
  ['create p50 ms, unthrottled', a.burst.p50, b.burst.p50, ''],
  ['create p99 ms, unthrottled', a.burst.p99, b.burst.p99, ''],
  ['creates/s achieved, paced at 200/s', a.paced.rate, b.paced.rate, ''],
  ['create p50 ms at 200/s', a.paced.p50, b.paced.p50, ''],
  ['create p99 ms at 200/s', a.paced.p99, b.paced.p99, 'target <= 25'],
  [`LIST ${listSize} pods ms (consistent, etcd)`, a.listEtcd, b.listEtcd, 'target <= 1000'],
  [`LIST ${listSize} pods ms (resourceVersion=0, cache)`, a.listCache, b.listCache, ''],
  [`watch delivery p50 ms (${watchers} watchers)`, a.watch.p50, b.watch.p50, ''],
  [`watch delivery p99 ms (${watchers} watchers)`, a.watch.p99, b.watch.p99, 'target <= 100'],
];
console.log(`\n${'measure'.padEnd(48)} ${'kts etcd'.padStart(10)} ${'etcd 3.4'.padStart(10)} ${'ratio'.padStart(7)}  note`);
for (const [name, x, y, note] of rows) console.log(`${name.padEnd(48)} ${f(x).padStart(10)} ${f(y).padStart(10)} ${(x / y).toFixed(2).padStart(7)}  ${note}`);
