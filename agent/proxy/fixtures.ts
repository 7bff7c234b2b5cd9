// Small builders for Service and EndpointSlice objects, shared by the proxy's unit tests, integration tests
// and benchmark. Plain data, typed with the client-node object model.
import type { V1EndpointSlice, V1Service, V1ServicePort } from '@kubernetes/client-node';

export interface ServiceSpecLite {
  namespace?: string;
  name: string;
  clusterIP: string;
  ports: V1ServicePort[];
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  loadBalancerSourceRanges?: string[];
  affinitySeconds?: number;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
}

export function makeService(s: ServiceSpecLite): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { namespace: s.namespace ?? 'default', name: s.name },
    spec: {
      type: s.type ?? 'ClusterIP', clusterIP: s.clusterIP, clusterIPs: [s.clusterIP], ports: s.ports,
      externalIPs: s.externalIPs,
      loadBalancerSourceRanges: s.loadBalancerSourceRanges,
      sessionAffinity: s.affinitySeconds ? 'ClientIP' : 'None',
      sessionAffinityConfig: s.affinitySeconds ? { clientIP: { timeoutSeconds: s.affinitySeconds } } : undefined,
      externalTrafficPolicy: s.externalTrafficPolicy, internalTrafficPolicy: s.internalTrafficPolicy,
    },
    status: s.loadBalancerIPs ? { loadBalancer: { ingress: s.loadBalancerIPs.map((ip) => ({ ip })) } } : {},
  };
}

export interface EndpointLite { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean }

export function makeSlice(opts: {
  namespace?: string; service: string; name?: string;
  ports: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  endpoints: EndpointLite[];
}): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { namespace: opts.namespace ?? 'default', name: opts.name ?? `${opts.service}-abc12`, labels: { 'kubernetes.io/service-name': opts.service } },
    ports: opts.ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: opts.endpoints.map((e) => ({
      addresses: [e.ip], nodeName: e.node,
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
    })),
  };
}

import { ServiceChangeTracker } from './servicechangetracker.ts';
import { EndpointsChangeTracker } from './endpointschangetracker.ts';
import { defaultNodeInfo } from './types.ts';
import type { NodeInfo, ProxyState } from './types.ts';

/** A ProxyState built through the change trackers, as the proxier would have it after one sync. */
export function stateFrom(services: V1Service[], slices: V1EndpointSlice[], opts: { nodeName?: string; node?: Partial<NodeInfo> } = {}): ProxyState {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker(opts.nodeName ?? 'node-a');
  for (const s of services) st.update(null, s);
  for (const s of slices) et.update(null, s);
  const state: ProxyState = { services: new Map(), endpoints: new Map(), node: defaultNodeInfo(opts.node) };
  st.apply(state.services);
  et.apply(state.endpoints);
  return state;
}
