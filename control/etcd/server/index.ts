// Assemble one kts etcd member: consensus (single member or Raft), the server core, the five gRPC services
// and the listeners. Used by main.ts and by tests that want an in-process member.
import { GrpcServer } from './grpc-server.ts';
import { etcdServices } from '../proto/load.ts';
import { kvDefinition } from './kv-service.ts';
import { EtcdServer, memberIdFor, clusterIdFor } from './etcd-server.ts';
import type { Member } from './etcd-server.ts';
import { SingleMember } from './single-member.ts';
import { RaftMember } from './raft-member.ts';
import { RaftMembership } from './membership.ts';
import { fetchClusterInfo } from '../peer/transport.ts';
import fs from 'node:fs';
import path from 'node:path';
import { kvService } from './kv-service.ts';
import { watchService } from './watch-service.ts';
import { leaseService } from './lease-service.ts';
import { clusterService } from './cluster-service.ts';
import { maintenanceService } from './maintenance-service.ts';
import { WatchHub } from './watch-hub.ts';
import { httpHandler, walFsyncHistogram } from './http.ts';
import { listenMux } from './listen.ts';
import type { Listener, TlsFiles } from './listen.ts';
import type { Consensus } from './consensus.ts';

export interface EtcdConfig {
  name: string;
  dataDir: string;
  listenClientUrls: string[];
  advertiseClientUrls?: string[];
  listenPeerUrls?: string[];
  initialAdvertisePeerUrls?: string[];
  /** name=peerURL,... as in --initial-cluster */
  initialCluster?: string;
  initialClusterState?: 'new' | 'existing';
  initialClusterToken?: string;
  listenMetricsUrls?: string[];
  maxRequestBytes?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  heartbeatMs?: number;
  electionMs?: number;
  /** --cert-file/--key-file/--trusted-ca-file/--client-cert-auth, for https:// client URLs. */
  clientTls?: TlsFiles;
  /** The --peer-* twins, for https:// peer URLs. */
  peerTls?: TlsFiles;
  snapshotCount?: number;
  snapshotCatchUpEntries?: number;
}

export interface RunningEtcd {
  server: EtcdServer;
  /** Client URLs actually bound (port 0 resolved). */
  clientUrls: string[];
  stop(): Promise<void>;
}

/** Parse --initial-cluster "a=http://h:p,b=http://h:q" into name -> peer URLs. */
export function parseInitialCluster(s: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--initial-cluster: "${part}" is not name=peerURL`);
    const name = part.slice(0, eq), url = part.slice(eq + 1);
    out.set(name, [...(out.get(name) ?? []), url]);
  }
  return out;
}

export function membersFromConfig(cfg: EtcdConfig, clientUrls: string[]): Member[] {
  const token = cfg.initialClusterToken ?? 'etcd-cluster';
  const selfPeers = cfg.initialAdvertisePeerUrls ?? ['http://localhost:2380'];
  const cluster = cfg.initialCluster ? parseInitialCluster(cfg.initialCluster) : new Map([[cfg.name, selfPeers]]);
  if (!cluster.has(cfg.name)) throw new Error(`--initial-cluster has no entry for this member's --name "${cfg.name}"`);
  return [...cluster].map(([name, peerURLs]) => ({
    ID: memberIdFor(peerURLs, token), name, peerURLs,
    clientURLs: name === cfg.name ? clientUrls : [], isLearner: false,
  }));
}

export async function startEtcd(cfg: EtcdConfig): Promise<RunningEtcd> {
  const log = cfg.log ?? (() => {});
  // members' client URLs are known only after binding; bind first, with services added before start
  // requests up to --max-request-bytes reach the server's own check ("request is too large"); gRPC refuses
  // what is bigger than that plus etcd's 512 KiB of headroom
  const grpcServer = new GrpcServer({ maxReceiveMessageBytes: (cfg.maxRequestBytes ?? 1.5 * 1024 * 1024) + 512 * 1024 });
  const placeholderMembers = membersFromConfig(cfg, []);
  const self = placeholderMembers.find((m) => m.name === cfg.name)!;
  const token = cfg.initialClusterToken ?? 'etcd-cluster';
  let clusterId = clusterIdFor(placeholderMembers.map((m) => m.ID), token);
  let members = placeholderMembers;
  let join = false;
  if (placeholderMembers.length > 1) {
    const known = readClusterFile(cfg.dataDir);
    if (known) {
      clusterId = known.clusterId;
    } else if (cfg.initialClusterState === 'existing') {
      // joining: the cluster ID and members come from the running cluster (after `etcdctl member add`)
      const info = await askCluster(placeholderMembers.filter((m) => m.ID !== self.ID).flatMap((m) => m.peerURLs), cfg.peerTls);
      if (!info.members.some((m) => m.ID === self.ID)) {
        throw new Error(`member ${cfg.name} (${BigInt(self.ID).toString(16)}) is not in the cluster: run "etcdctl member add ${cfg.name} --peer-urls=${self.peerURLs.join(',')}" first`);
      }
      clusterId = info.clusterId;
      members = info.members.map((m) => ({ ...m, name: m.ID === self.ID ? cfg.name : m.name, isLearner: false }));
      join = true;
    }
    writeClusterFile(cfg.dataDir, clusterId, self.ID);
  }
  const me = members.find((m) => m.ID === self.ID)!;
  // Every cluster, one member included, runs Raft over the wal package (snapshots, and a single member can
  // grow with member add). Data dirs written by the earlier single-member log keep using it.
  const legacySingle = members.length === 1 && fs.existsSync(path.join(cfg.dataDir, 'member', 'wal', 'single.log'));
  if (members.length === 1 && !legacySingle && !readClusterFile(cfg.dataDir)) writeClusterFile(cfg.dataDir, clusterId, self.ID);
  if (members.length === 1 && readClusterFile(cfg.dataDir)) clusterId = readClusterFile(cfg.dataDir)!.clusterId;
  const walFsync = walFsyncHistogram();
  const raft = !legacySingle
    ? new RaftMember({
      memberId: self.ID, clusterId, dataDir: cfg.dataDir, join, peerTls: cfg.peerTls,
      peers: new Map(members.map((m) => [m.ID, m.peerURLs[0]])),
      // a lone member listens for peers only when asked to (so that many can run side by side in tests)
      listenPeerUrls: cfg.listenPeerUrls ?? (members.length > 1 ? self.peerURLs : []),
      heartbeatMs: cfg.heartbeatMs, electionMs: cfg.electionMs, snapshotCount: cfg.snapshotCount, snapshotCatchUpEntries: cfg.snapshotCatchUpEntries, log,
      observeFsync: (seconds) => walFsync.observe(seconds),
    })
    : undefined;
  const consensus: Consensus = raft ?? new SingleMember(cfg.dataDir, self.ID, (m) => log('warn', m));
  const server = new EtcdServer({
    name: cfg.name, memberId: self.ID, clusterId,
    members, consensus, maxRequestBytes: cfg.maxRequestBytes, log,
  });
  const membership = raft ? new RaftMembership(server, raft, token) : undefined;
  const svc = etcdServices();
  const hub = new WatchHub(server.store.kv);
  grpcServer.addService(kvDefinition(svc.KV.service), kvService(server));
  grpcServer.addService(svc.Watch.service, watchService(server, hub));
  grpcServer.addService(svc.Lease.service, leaseService(server));
  grpcServer.addService(svc.Cluster.service, clusterService(server, membership));
  grpcServer.addService(svc.Maintenance.service, maintenanceService(server));

  await server.start();
  const handler = httpHandler(server, walFsync);
  const listeners: Listener[] = [];
  try {
    for (const u of cfg.listenClientUrls) listeners.push(await listenMux(u, grpcServer, handler, cfg.clientTls));
    for (const u of cfg.listenMetricsUrls ?? []) listeners.push(await listenMux(u, grpcServer, handler, cfg.clientTls));
  } catch (err) {
    for (const l of listeners) await l.close();
    await server.stop();
    throw err;
  }
  const clientUrls = listeners.slice(0, cfg.listenClientUrls.length).map((l) => l.url);
  // published to the other members by the server once known (port 0 resolves only now)
  me.clientURLs = cfg.advertiseClientUrls ?? clientUrls;
  log('info', `member ${cfg.name} (${self.ID}) serving clients on ${clientUrls.join(',')}`);
  return {
    server, clientUrls,
    async stop() {
      for (const l of listeners) await l.close();
      grpcServer.close();
      await server.stop();
    },
  };
}

/** The cluster ID this data dir belongs to (written at first start; a restart must not recompute it). */
function readClusterFile(dataDir: string): { clusterId: string; memberId: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'member', 'cluster.json'), 'utf8')) as { clusterId: string; memberId: string };
  } catch { return undefined; }
}

function writeClusterFile(dataDir: string, clusterId: string, memberId: string): void {
  fs.mkdirSync(path.join(dataDir, 'member'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'member', 'cluster.json'), JSON.stringify({ clusterId, memberId }));
}

async function askCluster(peerURLs: string[], peerTls?: TlsFiles): Promise<{ clusterId: string; members: Array<{ ID: string; name: string; peerURLs: string[]; clientURLs: string[] }> }> {
  const errors: string[] = [];
  for (const u of peerURLs) {
    try { return await fetchClusterInfo(u, 3000, peerTls); } catch (err) { errors.push((err as Error).message); }
  }
  throw new Error(`cannot join: no member of the existing cluster answered (${errors.join('; ')})`);
}
