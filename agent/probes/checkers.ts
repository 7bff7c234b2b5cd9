// The four probe mechanisms. Each returns success or failure with a message, never throws.
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { RuntimeService } from '../cri/types.ts';

export interface ProbeResult { ok: boolean; message: string }
export interface ProbeTarget {
  podIP: string;
  container: V1Container;
  containerId: string;
  runtime: Pick<RuntimeService, 'execSync'>;
}

/** A named port ("http") resolves through the container's ports, as upstream does. */
export function resolvePort(port: number | string | undefined, container: V1Container): number {
  if (typeof port === 'number') return port;
  if (port === undefined || port === '') throw new Error('probe port is required');
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`port "${port}" not found in container "${container.name}" ports`);
  return named.containerPort;
}

export async function httpGetCheck(probe: V1Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const g = probe.httpGet!;
  let port: number;
  try {
    port = resolvePort(g.port as number | string, t.container);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  const scheme = (g.scheme ?? 'HTTP').toUpperCase();
  const host = g.host || t.podIP;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  const reqPath = g.path ? (g.path.startsWith('/') ? g.path : `/${g.path}`) : '/';
  const url = `${scheme === 'HTTPS' ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}${reqPath}`;
  return new Promise((resolve) => {
    const lib = scheme === 'HTTPS' ? https : http;
    const req = lib.get(url, { headers, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true, message: '' }
        : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    });
    req.on('error', (err) => resolve({ ok: false, message: `Get "${url}": ${err.message}` }));
  });
}

export async function tcpCheck(probe: V1Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  let port: number;
  try {
    port = resolvePort(probe.tcpSocket!.port as number | string, t.container);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  const host = probe.tcpSocket!.host || t.podIP;
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok: true, message: '' });
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` });
    });
  });
}

export async function execCheck(probe: V1Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const cmd = probe.exec?.command ?? [];
  if (!cmd.length) return { ok: false, message: 'exec probe has no command' };
  try {
    const res = await t.runtime.execSync(t.containerId, cmd, Math.max(1, Math.ceil(timeoutMs / 1000)));
    if (res.exit_code === 0) return { ok: true, message: '' };
    const out = Buffer.concat([Buffer.from(res.stdout ?? []), Buffer.from(res.stderr ?? [])]).toString().trim();
    return { ok: false, message: out || `command ${JSON.stringify(cmd)} exited with ${res.exit_code}` };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

// grpc.health.v1.Health/Check, encoded by hand: request field 1 (service, string); response field 1 (status enum).
const SERVING = 1;
export async function grpcCheck(probe: V1Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const port = probe.grpc!.port;
  const service = probe.grpc!.service ?? '';
  const target = `${t.podIP.includes(':') ? `[${t.podIP}]` : t.podIP}:${port}`;
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const encode = (s: string) => {
    const b = Buffer.from(s);
    return b.length ? Buffer.concat([Buffer.from([0x0a, b.length]), b]) : Buffer.alloc(0);
  };
  return new Promise((resolve) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (s: string) => encode(s), (b: Buffer) => b, service,
      new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        client.close();
        if (err) {
          resolve({ ok: false, message: `timeout: failed to connect service "${target}" within ${timeoutMs / 1000}s: ${err.details || err.message}` });
          return;
        }
        const status = res && res.length >= 2 && res[0] === 0x08 ? res[1] : 0;
        resolve(status === SERVING ? { ok: true, message: '' } : { ok: false, message: `service unhealthy (responded with status ${status})` });
      });
  });
}

export async function runProbe(probe: V1Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) return execCheck(probe, t, timeoutMs);
  if (probe.httpGet) return httpGetCheck(probe, t, timeoutMs);
  if (probe.tcpSocket) return tcpCheck(probe, t, timeoutMs);
  if (probe.grpc) return grpcCheck(probe, t, timeoutMs);
  return { ok: false, message: 'probe has no handler (exec, httpGet, tcpSocket or grpc)' };
}
