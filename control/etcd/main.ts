// kts etcd: one member of a kts etcd cluster, with etcd's flag names.
import { Command } from 'commander';
import { startEtcd } from './server/index.ts';
import { shareCpusWithTheHost } from './server/cpu-sharing.ts';
import { growHeapInLargerSteps } from './server/heap-growth.ts';
import type { EtcdConfig } from './server/index.ts';

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

export function parseFlags(argv: string[]): EtcdConfig {
  const cmd = new Command('kts etcd')
    .description('Raft-replicated key-value store speaking the etcd v3 API')
    .option('--name <name>', 'human-readable name for this member', 'default')
    .option('--data-dir <dir>', 'path to the data directory', '')
    .option('--listen-client-urls <urls>', 'URLs to listen on for client traffic', 'http://localhost:2379')
    .option('--advertise-client-urls <urls>', 'client URLs of this member to advertise to the cluster', '')
    .option('--listen-peer-urls <urls>', 'URLs to listen on for peer traffic (default: the advertised peer URLs when the cluster has several members)', '')
    .option('--initial-advertise-peer-urls <urls>', "this member's peer URLs to advertise to the cluster", 'http://localhost:2380')
    .option('--initial-cluster <list>', 'initial cluster configuration for bootstrapping (name=peerURL,...)', '')
    .option('--initial-cluster-state <state>', 'new or existing', 'new')
    .option('--initial-cluster-token <token>', 'initial cluster token for the etcd cluster during bootstrap', 'etcd-cluster')
    .option('--listen-metrics-urls <urls>', 'extra URLs serving /metrics and /health', '')
    .option('--max-request-bytes <n>', 'maximum client request size in bytes the server will accept', String(1.5 * 1024 * 1024))
    .option('--heartbeat-interval <ms>', 'time (in milliseconds) of a heartbeat interval', '100')
    .option('--election-timeout <ms>', 'time (in milliseconds) for an election to timeout', '1000')
    .option('--snapshot-count <n>', 'number of committed transactions to trigger a snapshot to disk', '100000')
    .option('--cert-file <path>', 'path to the client server TLS cert file', '')
    .option('--key-file <path>', 'path to the client server TLS key file', '')
    .option('--trusted-ca-file <path>', 'path to the client server TLS trusted CA cert file', '')
    .option('--client-cert-auth', 'enable client cert authentication', false)
    .option('--peer-cert-file <path>', 'path to the peer server TLS cert file', '')
    .option('--peer-key-file <path>', 'path to the peer server TLS key file', '')
    .option('--peer-trusted-ca-file <path>', 'path to the peer server TLS trusted CA file', '')
    .option('--peer-client-cert-auth', 'enable peer client cert authentication', false)
    .option('--experimental-snapshot-catchup-entries <n>', 'entries kept after a snapshot for slow followers to catch up', '5000')
    .option('--logger <name>', 'accepted for compatibility', 'zap')
    .option('--log-level <level>', 'info, warn or error', 'info')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<Record<string, string>>();
  const tlsFrom = (cert: string, key: string, ca: string, auth: unknown, what: string) => {
    if (!cert && !key) return undefined;
    if (!cert || !key) throw new Error(`${what}: both the cert file and the key file are required`);
    if (auth && !ca) throw new Error(`${what}: client cert auth needs a trusted CA file`);
    return { certFile: cert, keyFile: key, trustedCaFile: ca || undefined, clientCertAuth: !!auth };
  };
  const state = o.initialClusterState;
  if (state !== 'new' && state !== 'existing') throw new Error(`--initial-cluster-state must be "new" or "existing", got "${state}"`);
  const maxRequestBytes = Number(o.maxRequestBytes);
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes <= 0) throw new Error(`--max-request-bytes must be a positive integer, got "${o.maxRequestBytes}"`);
  return {
    name: o.name,
    dataDir: o.dataDir || `${o.name}.etcd`,
    listenClientUrls: list(o.listenClientUrls),
    advertiseClientUrls: o.advertiseClientUrls ? list(o.advertiseClientUrls) : undefined,
    listenPeerUrls: o.listenPeerUrls ? list(o.listenPeerUrls) : undefined,
    initialAdvertisePeerUrls: list(o.initialAdvertisePeerUrls),
    initialCluster: o.initialCluster || undefined,
    initialClusterState: state,
    initialClusterToken: o.initialClusterToken,
    listenMetricsUrls: o.listenMetricsUrls ? list(o.listenMetricsUrls) : [],
    maxRequestBytes,
    heartbeatMs: positive(o.heartbeatInterval, '--heartbeat-interval'),
    electionMs: positive(o.electionTimeout, '--election-timeout'),
    snapshotCount: positive(o.snapshotCount, '--snapshot-count'),
    snapshotCatchUpEntries: positive(o.experimentalSnapshotCatchupEntries, '--experimental-snapshot-catchup-entries'),
    clientTls: tlsFrom(o.certFile, o.keyFile, o.trustedCaFile, o.clientCertAuth, '--cert-file/--key-file'),
    peerTls: tlsFrom(o.peerCertFile, o.peerKeyFile, o.peerTrustedCaFile, o.peerClientCertAuth, '--peer-cert-file/--peer-key-file'),
  };
}

export async function main(argv: string[]): Promise<void> {
  const cfg = parseFlags(argv);
  const levels = ['info', 'warn', 'error'];
  const min = Math.max(0, levels.indexOf('info'));
  cfg.log = (level, msg) => {
    if (levels.indexOf(level) < min) return;
    process.stderr.write(`${JSON.stringify({ level, ts: new Date().toISOString(), caller: 'etcd', msg })}\n`);
  };
  growHeapInLargerSteps();
  for (const problem of shareCpusWithTheHost()) cfg.log('warn', `V8 helper threads keep their scheduling policy: ${problem}`);
  const etcd = await startEtcd(cfg);
  const stop = async () => { await etcd.stop(); process.exit(0); };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  process.on('uncaughtException', (err) => cfg.log?.('error', `uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => cfg.log?.('error', `unhandled rejection: ${String(err)}`));
}
