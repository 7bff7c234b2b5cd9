// The proxy's model: what a sync renders from. Built from Services and EndpointSlices by the change
// trackers; the renderers (iptables/, ipvs/) are pure functions of a ProxyState.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** One port of one Service: the unit that gets a KUBE-SVC chain or an ipvs virtual server. */
export interface ServicePortInfo {
  /** "namespace/name:portName" (portName may be empty), upstream's ServicePortName string. */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  port: number;
  /** IPv4 cluster IPs (headless services never reach the model). */
  clusterIP: string;
  nodePort: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** ClientIP affinity timeout in seconds, 0 when affinity is None. */
  affinitySeconds: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
}

/** One endpoint address+port of a service port, with the EndpointSlice conditions that decide if it serves. */
export interface EndpointInfo {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** True when the endpoint's nodeName is this node. */
  isLocal: boolean;
}

export interface NodeInfo {
  /** Pod CIDR of the whole cluster: traffic from outside it to a ClusterIP gets masqueraded. Empty: do not. */
  clusterCIDR: string;
  /** Restrict NodePorts to these CIDRs; empty: every local address (addrtype LOCAL). */
  nodePortAddresses: string[];
  masqueradeAll: boolean;
  /** iptables mark bit for masquerade (upstream default 14 -> 0x4000). */
  masqueradeBit: number;
}

export interface ProxyState {
  services: Map<string, ServicePortInfo>;
  /** Endpoints per service port key. */
  endpoints: Map<string, EndpointInfo[]>;
  node: NodeInfo;
}

export function defaultNodeInfo(over: Partial<NodeInfo> = {}): NodeInfo {
  return { clusterCIDR: '', nodePortAddresses: [], masqueradeAll: false, masqueradeBit: 14, ...over };
}
