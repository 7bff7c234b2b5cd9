// Start 3-member (or 1-member) etcd clusters for the store suite: the reference etcd 3.4 from /usr/bin/etcd,
// and kts etcd (bin/kts etcd). Each member gets its own temp data dir and random loopback ports; stop() kills
// every process by PID and removes the dirs.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdctl } from './suite.ts';
import http from 'node:http';
import https from 'node:https';
import { tlsFlags } from './certs.ts';
import type { Certs } from './certs.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const ktsBin = path.join(repo, 'bin/kts');
export const nodeBin = path.join(repo, 'node_modules/.bin/node');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MemberSpec { name: string; clientPort: number; peerPort: number; dataDir: string }

export interface Cluster {
  kind: 'etcd' | 'kts';
  members: MemberSpec[];
  /** http://127.0.0.1:port per member */
  endpoints: string[];
  /** Processes by member name (undefined when killed). */
  procs: Map<string, ChildProcess | undefined>;
  logs: Map<string, string[]>;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** `etcdctl member add` a new member, start it with --initial-cluster-state existing; returns its name. */
  addMember(): Promise<string>;
  /** `etcdctl member remove` a member by name and stop its process. */
  removeMember(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

function argsFor(m: MemberSpec, all: MemberSpec[], state: 'new' | 'existing', token: string, scheme = 'http'): string[] {
  const initialCluster = all.map((x) => `${x.name}=${scheme}://127.0.0.1:${x.peerPort}`).join(',');
  return [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`, '--advertise-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`,
    '--listen-peer-urls', `${scheme}://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `${scheme}://127.0.0.1:${m.peerPort}`,
    '--initial-cluster', initialCluster, '--initial-cluster-state', state, '--initial-cluster-token', token,
  ];
}

/** GET /health, trusting the test CA for https endpoints (and presenting the member cert). */
function getHealth(endpoint: string, certs?: Certs): Promise<{ health: string }> {
  return new Promise((resolve, reject) => {
    const opts = certs ? { ca: fs.readFileSync(certs.ca), cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) } : {};
    const req = (endpoint.startsWith('https:') ? https : http).get(`${endpoint}/health`, opts, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => { try { resolve(JSON.parse(body) as { health: string }); } catch (err) { reject(err); } });
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

async function waitHealthy(endpoint: string, proc: ChildProcess, log: string[], timeoutMs = 30_000, certs?: Certs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`member at ${endpoint} exited (${proc.exitCode ?? proc.signalCode}): ${log.join('').slice(-2000)}`);
    }
    try {
      const body = await getHealth(endpoint, certs);
      if (body.health === 'true') return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`member at ${endpoint} not healthy after ${timeoutMs} ms: ${log.join('').slice(-2000)}`);
}

/** certs: serve client and peer URLs over TLS with client certificate auth (see certs.ts). */
export async function startCluster(kind: 'etcd' | 'kts', size = 3, extraArgs: string[] = [], certs?: Certs): Promise<Cluster> {
  const scheme = certs ? 'https' : 'http';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `store-${kind}-`));
  const token = `tok-${Math.random().toString(36).slice(2, 8)}`;
  const members: MemberSpec[] = [];
  for (let i = 0; i < size; i++) {
    members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(root, `m${i}`) });
  }
  const procs = new Map<string, ChildProcess | undefined>();
  const logs = new Map<string, string[]>();
  const launch = (m: MemberSpec, state: 'new' | 'existing') => {
    const args = [...argsFor(m, members, state, token, scheme), ...extraArgs, ...(certs ? tlsFlags(certs) : [])];
    const proc = kind === 'etcd'
      ? spawn('/usr/bin/etcd', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } })
      : spawn(ktsBin, ['etcd', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = logs.get(m.name) ?? [];
    logs.set(m.name, log);
    const keep = (b: Buffer) => { log.push(b.toString()); if (log.length > 400) log.splice(0, 200); };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    procs.set(m.name, proc);
    return proc;
  };
  for (const m of members) launch(m, 'new');
  const endpoints = members.map((m) => `${scheme}://127.0.0.1:${m.clientPort}`);
  const cluster: Cluster = {
    kind, members, endpoints, procs, logs,
    async kill(name, signal = 'SIGKILL') {
      const p = procs.get(name);
      if (!p) return;
      procs.set(name, undefined);
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
    },
    async restart(name) {
      const m = members.find((x) => x.name === name)!;
      await cluster.kill(name);
      const p = launch(m, 'new');
      await waitHealthy(`${scheme}://127.0.0.1:${m.clientPort}`, p, logs.get(name)!, 30_000, certs);
    },
    async addMember() {
      const m: MemberSpec = { name: `m${members.length}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(root, `m${members.length}`) };
      // etcd refuses while members have been connected for less than its health interval (after restarts)
      let add = await etcdctl(endpoints, ['member', 'add', m.name, `--peer-urls=http://127.0.0.1:${m.peerPort}`]);
      for (let i = 0; add.code !== 0 && /unhealthy cluster/.test(add.stderr) && i < 40; i++) {
        await new Promise((r) => setTimeout(r, 500));
        add = await etcdctl(endpoints, ['member', 'add', m.name, `--peer-urls=http://127.0.0.1:${m.peerPort}`]);
      }
      if (add.code !== 0) throw new Error(`member add: ${add.stderr}`);
      members.push(m);
      const p = launch(m, 'existing');
      await waitHealthy(`${scheme}://127.0.0.1:${m.clientPort}`, p, logs.get(m.name)!, 30_000, certs);
      endpoints.push(`${scheme}://127.0.0.1:${m.clientPort}`);
      // a new member's name shows once it has published itself (through the log, right after it starts)
      for (let i = 0; i < 100; i++) {
        const list = await etcdctl(endpoints, ['member', 'list']);
        if (list.stdout.split('\n').some((l) => l.split(', ')[2] === m.name)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return m.name;
    },
    async removeMember(name) {
      // the simple format prints IDs in hex (JSON numbers would lose the low bits of 64-bit IDs)
      const lines = (await etcdctl(endpoints, ['member', 'list'])).stdout.trim().split('\n').map((l) => l.split(', '));
      const id = lines.find((f) => f[2] === name)?.[0];
      if (id === undefined) throw new Error(`member ${name} not listed`);
      const i = members.findIndex((x) => x.name === name);
      const rest = endpoints.filter((_, j) => j !== i);
      const rm = await etcdctl(rest, ['member', 'remove', id]);
      if (rm.code !== 0) throw new Error(`member remove: ${rm.stderr}`);
      await cluster.kill(name);
      members.splice(i, 1);
      endpoints.splice(i, 1);
    },
    async stop() {
      for (const m of members) await cluster.kill(m.name);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m) => waitHealthy(`${scheme}://127.0.0.1:${m.clientPort}`, procs.get(m.name)!, logs.get(m.name)!, 30_000, certs)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
