// Plain HTTP endpoints next to gRPC on the client port: /health (as etcd answers it) and /metrics
// (Prometheus text, a few of etcd's own metric names).
import type http from 'node:http';
import { Registry, Gauge, Counter, Histogram } from 'prom-client';
import type { EtcdServer } from './etcd-server.ts';
import { dbSize } from './maintenance-service.ts';

/** etcd's WAL fsync histogram (its buckets: 1 ms doubling to 8.192 s); the Raft member observes every fsync. */
export function walFsyncHistogram(): Histogram {
  return new Histogram({
    name: 'etcd_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by WAL.',
    buckets: Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i), registers: [],
  });
}

export function httpHandler(s: EtcdServer, walFsync: Histogram): http.RequestListener {
  const registry = new Registry();
  registry.registerMetric(walFsync);
  new Gauge({ name: 'etcd_server_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', registers: [registry],
    collect() { this.set(s.consensus.status().leaderId !== '0' ? 1 : 0); } });
  new Gauge({ name: 'etcd_server_is_leader', help: 'Whether or not this member is a leader.', registers: [registry],
    collect() { this.set(s.consensus.isLeader() ? 1 : 0); } });
  new Counter({ name: 'etcd_server_proposals_committed_total', help: 'The total number of consensus proposals committed.', registers: [registry],
    collect() { this.reset(); this.inc(s.stats.proposalsCommitted); } });
  new Counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.', registers: [registry],
    collect() { this.reset(); this.inc(s.stats.proposalsFailed); } });
  new Gauge({ name: 'etcd_debugging_mvcc_current_revision', help: 'The current revision of store.', registers: [registry],
    collect() { this.set(s.store.rev); } });
  new Gauge({ name: 'etcd_mvcc_db_total_size_in_bytes', help: 'Total size of the underlying database in bytes.', registers: [registry],
    collect() { this.set(dbSize(s)); } });
  new Gauge({ name: 'etcd_debugging_mvcc_keys_total', help: 'Total number of keys.', registers: [registry],
    collect() { this.set(s.store.kv.keyCount); } });

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      const ok = s.consensus.status().leaderId !== '0';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ health: ok ? 'true' : 'false', reason: ok ? '' : 'RAFT NO LEADER' }));
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      }, (err: Error) => { res.writeHead(500); res.end(err.message); });
      return;
    }
    if (req.method === 'GET' && path === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ etcdserver: s.version, etcdcluster: '3.4.0' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found\n');
  };
}
