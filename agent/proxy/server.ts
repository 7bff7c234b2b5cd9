// kube-proxy's two small HTTP endpoints: /healthz (on healthzBindAddress, as upstream: 200 while syncs keep
// succeeding, 503 once the last success is older than two sync periods) and /metrics (prom-client).
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Proxier } from './proxier.ts';

export function splitBindAddress(addr: string, field: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i >= 0 ? addr.slice(0, i) || '0.0.0.0' : addr;
  const port = i >= 0 ? Number(addr.slice(i + 1)) : NaN;
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${field}: "${addr}" is not host:port`);
  return { host, port };
}

export interface HealthView { proxier: Proxier; startedAt: number; syncPeriodMs: number; mode: string; now?: () => number }

/** Healthy when a sync succeeded within 2 sync periods, or while starting (no sync attempted for 2 periods yet). */
export function health(v: HealthView): { healthy: boolean; body: Record<string, unknown> } {
  const now = (v.now ?? Date.now)();
  const ref = v.proxier.lastSuccess || v.startedAt;
  const healthy = now - ref < 2 * v.syncPeriodMs;
  return {
    healthy,
    body: {
      lastUpdated: v.proxier.lastSuccess ? new Date(v.proxier.lastSuccess).toISOString() : null,
      currentTime: new Date(now).toISOString(),
      mode: v.mode,
      lastError: v.proxier.lastError?.message ?? null,
    },
  };
}

export async function startServers(v: HealthView, healthzAddr: string, metricsAddr: string): Promise<{ healthz: string; metrics: string; close(): Promise<void> }> {
  const servers: FastifyInstance[] = [];
  const listen = async (app: FastifyInstance, addr: string, field: string) => {
    const { host, port } = splitBindAddress(addr, field);
    servers.push(app);
    return app.listen({ host, port });
  };
  const healthz = Fastify();
  healthz.get('/healthz', async (_req, reply) => {
    const h = health(v);
    return reply.code(h.healthy ? 200 : 503).send(h.body);
  });
  healthz.get('/livez', async () => 'ok');
  const metrics = Fastify();
  metrics.get('/metrics', async (_req, reply) => reply.type(v.proxier.metrics.registry.contentType).send(await v.proxier.metrics.registry.metrics()));
  metrics.get('/healthz', async (_req, reply) => { const h = health(v); return reply.code(h.healthy ? 200 : 503).send(h.body); });
  try {
    const h = await listen(healthz, healthzAddr, '--healthz-bind-address');
    const m = await listen(metrics, metricsAddr, '--metrics-bind-address');
    return { healthz: h, metrics: m, close: async () => { await Promise.all(servers.map((s) => s.close())); } };
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
}
