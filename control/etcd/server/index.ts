// Assemble one kts etcd member: consensus (single member or Raft), the server core, the five gRPC services
// and the listeners. Used by main.ts and by tests that want an in-process member.
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../proto/load.ts';
import { EtcdServer, memberIdFor, clusterIdFor } from './etcd-server.ts';
import type { Member } from './etcd-server.ts';
import { SingleMember } from './single-member.ts';
import { RaftMember } from './raft-member.ts';
import { kvService } from './kv-service.ts';
import { watchService } from './watch-service.ts';
import { leaseService } from './lease-service.ts';
import { clusterService } from './cluster-service.ts';
import { maintenanceService } from './maintenance-service.ts';
import { WatchHub } from './watch-hub.ts';
import { httpHandler } from './http.ts';
import { listenMux } from './listen.ts';
import type { Listener } from './listen.ts';
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
  snapshotCount?: number;
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
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': (cfg.maxRequestBytes ?? 1.5 * 1024 * 1024) + 512 * 1024,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const placeholderMembers = membersFromConfig(cfg, []);
  const self = placeholderMembers.find((m) => m.name === cfg.name)!;
  const token = cfg.initialClusterToken ?? 'etcd-cluster';
  const clusterId = clusterIdFor(placeholderMembers.map((m) => m.ID), token);
  const consensus: Consensus = placeholderMembers.length > 1
    ? new RaftMember({
      memberId: self.ID, clusterId, dataDir: cfg.dataDir,
      peers: new Map(placeholderMembers.map((m) => [m.ID, m.peerURLs[0]])),
      listenPeerUrls: cfg.listenPeerUrls ?? self.peerURLs,
      heartbeatMs: cfg.heartbeatMs, electionMs: cfg.electionMs, snapshotCount: cfg.snapshotCount, log,
    })
    : new SingleMember(cfg.dataDir, self.ID, (m) => log('warn', m));
  const server = new EtcdServer({
    name: cfg.name, memberId: self.ID, clusterId,
    members: placeholderMembers, consensus, maxRequestBytes: cfg.maxRequestBytes, log,
  });
  const svc = etcdServices();
  const hub = new WatchHub(server.store.kv);
  grpcServer.addService(svc.KV.service, kvService(server));
  grpcServer.addService(svc.Watch.service, watchService(server, hub));
  grpcServer.addService(svc.Lease.service, leaseService(server));
  grpcServer.addService(svc.Cluster.service, clusterService(server));
  grpcServer.addService(svc.Maintenance.service, maintenanceService(server));

  await server.start();
  const handler = httpHandler(server);
  const listeners: Listener[] = [];
  try {
    for (const u of cfg.listenClientUrls) listeners.push(await listenMux(u, grpcServer, handler));
    for (const u of cfg.listenMetricsUrls ?? []) listeners.push(await listenMux(u, grpcServer, handler));
  } catch (err) {
    for (const l of listeners) await l.close();
    await server.stop();
    throw err;
  }
  const clientUrls = listeners.slice(0, cfg.listenClientUrls.length).map((l) => l.url);
  // published to the other members by the server once known (port 0 resolves only now)
  self.clientURLs = cfg.advertiseClientUrls ?? clientUrls;
  log('info', `member ${cfg.name} (${self.ID}) serving clients on ${clientUrls.join(',')}`);
  return {
    server, clientUrls,
    async stop() {
      for (const l of listeners) await l.close();
      grpcServer.forceShutdown();
      await server.stop();
    },
  };
}
