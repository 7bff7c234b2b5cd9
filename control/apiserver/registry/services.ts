// core/v1 services: DNS-1035 names, port defaults, ClusterIP and NodePort allocation, the kubectl table.
import { cause, type Cause } from '../../../api/errors.ts';
import { nameIsDNSLabel } from '../../../api/validation.ts';
import { isDNS1123Label } from '../../../api/validation.ts';
import { ageColumn, ageOf, col, isObject, nameColumn, selectorString } from './common.ts';
import type { Obj, Strategy } from './types.ts';

const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function dns1035(name: string): string[] {
  const errs = nameIsDNSLabel(name);
  if (!errs.length && !/^[a-z]/.test(name)) {
    return ["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"];
  }
  return errs.length ? ["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"] : [];
}

function portsCell(svc: Obj): string {
  const ports = Array.isArray(svc?.spec?.ports) ? svc.spec.ports : [];
  if (!ports.length) return '<none>';
  return ports.map((p: Obj) => (p?.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p?.port}/${p?.protocol ?? 'TCP'}`)).join(',');
}

function externalIP(svc: Obj): string {
  const spec = svc?.spec ?? {};
  const ext: string[] = Array.isArray(spec.externalIPs) ? spec.externalIPs : [];
  switch (spec.type) {
    case 'ExternalName': return spec.externalName ?? '<none>';
    case 'LoadBalancer': {
      const ingress = (svc?.status?.loadBalancer?.ingress ?? []).map((i: Obj) => i?.ip || i?.hostname).filter(Boolean);
      const all = [...ingress, ...ext];
      return all.length ? all.join(',') : '<pending>';
    }
    default: return ext.length ? ext.join(',') : '<none>';
  }
}

export const services: Strategy = {
  group: '', version: 'v1', kind: 'Service', resource: 'services', singular: 'service', namespaced: true,
  shortNames: ['svc'], categories: ['all'], etcdPrefix: 'services/specs', hasStatus: true, validateName: dns1035,
  extraSubresources: [{ name: 'proxy', kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }],
  defaults(svc) {
    if (!isObject(svc.spec)) return;
    const s = svc.spec;
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    if (s.type !== 'ExternalName') s.internalTrafficPolicy ??= 'Cluster';
    if (s.type === 'NodePort' || s.type === 'LoadBalancer') s.externalTrafficPolicy ??= 'Cluster';
    if (s.type === 'LoadBalancer') s.allocateLoadBalancerNodePorts ??= true;
    if (Array.isArray(s.ports)) {
      for (const p of s.ports) {
        if (!isObject(p)) continue;
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
    }
  },
  prepareForCreate(svc, ctx) {
    svc.status = { loadBalancer: {} };
    if (!ctx.dryRun) ctx.allocators.allocateService(svc);
  },
  prepareForUpdate(svc, old, ctx) {
    if (isObject(svc.spec) && isObject(old?.spec)) {
      if (!svc.spec.clusterIP && old.spec.clusterIP) svc.spec.clusterIP = old.spec.clusterIP;
      if (!svc.spec.clusterIPs && old.spec.clusterIPs) svc.spec.clusterIPs = old.spec.clusterIPs;
      svc.spec.ipFamilies ??= old.spec.ipFamilies;
      svc.spec.ipFamilyPolicy ??= old.spec.ipFamilyPolicy;
      // ports that kept their port number keep their node port
      if (Array.isArray(svc.spec.ports) && Array.isArray(old.spec.ports)) {
        for (const p of svc.spec.ports) {
          const was = old.spec.ports.find((o: Obj) => o?.port === p?.port && (o?.protocol ?? 'TCP') === (p?.protocol ?? 'TCP'));
          if (isObject(p) && was?.nodePort && p.nodePort === undefined && (svc.spec.type === 'NodePort' || svc.spec.type === 'LoadBalancer')) p.nodePort = was.nodePort;
        }
      }
    }
    if (!ctx.dryRun) ctx.allocators.allocateService(svc, old);
  },
  validate(svc, old) {
    const out: Cause[] = [];
    const s = svc.spec;
    if (!isObject(s)) return [cause.required('spec')];
    if (!types.includes(s.type)) out.push(cause.notSupported('spec.type', s.type, types));
    const headless = s.clusterIP === 'None';
    const ports = s.ports;
    if (s.type !== 'ExternalName' && !headless && (!Array.isArray(ports) || ports.length === 0)) out.push(cause.required('spec.ports'));
    if (s.type === 'ExternalName' && (typeof s.externalName !== 'string' || !s.externalName)) out.push(cause.required('spec.externalName'));
    if (Array.isArray(ports)) {
      const names = new Set<string>();
      ports.forEach((p: Obj, i: number) => {
        const f = `spec.ports[${i}]`;
        if (!isObject(p)) { out.push(cause.invalid(f, p, 'must be an object')); return; }
        if (ports.length > 1 && (typeof p.name !== 'string' || !p.name)) out.push(cause.required(`${f}.name`));
        if (typeof p.name === 'string' && p.name) {
          for (const m of isDNS1123Label(p.name)) out.push(cause.invalid(`${f}.name`, p.name, m));
          if (names.has(p.name)) out.push(cause.duplicate(`${f}.name`, p.name));
          names.add(p.name);
        }
        if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) out.push(cause.invalid(`${f}.port`, p.port, 'must be between 1 and 65535, inclusive'));
        if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol)) out.push(cause.notSupported(`${f}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
        if (typeof p.targetPort === 'number' && (!Number.isInteger(p.targetPort) || p.targetPort < 1 || p.targetPort > 65535)) {
          out.push(cause.invalid(`${f}.targetPort`, p.targetPort, 'must be between 1 and 65535, inclusive'));
        }
        if (p.nodePort !== undefined && s.type === 'ClusterIP' && p.nodePort !== 0) {
          out.push(cause.forbidden(`${f}.nodePort`, 'may not be used when `type` is \'ClusterIP\''));
        }
      });
    }
    if (!['None', 'ClientIP'].includes(s.sessionAffinity)) out.push(cause.notSupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']));
    if (old && old.spec?.clusterIP && s.clusterIP !== old.spec.clusterIP && old.spec.type !== 'ExternalName' && s.type !== 'ExternalName') {
      out.push(cause.invalid('spec.clusterIPs[0]', s.clusterIP, 'may not change once set'));
    }
    return out;
  },
  afterDelete(svc, ctx) {
    ctx.allocators.releaseService(svc);
  },
  table: {
    columns: [nameColumn, col('Type', 'string', 0, 'type determines how the Service is exposed.'),
      col('Cluster-IP', 'string', 0, 'clusterIP is the IP address of the service and is usually assigned randomly.'),
      col('External-IP', 'string', 0, 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
      col('Port(s)', 'string', 0, 'The list of ports that are exposed by this service.'), ageColumn,
      col('Selector', 'string', 1, 'Route service traffic to pods with label keys and values matching this selector.')],
    cells: (svc, now) => [svc?.metadata?.name, svc?.spec?.type ?? '', svc?.spec?.clusterIP || '<none>', externalIP(svc), portsCell(svc), ageOf(svc, now),
      isObject(svc?.spec?.selector) && Object.keys(svc.spec.selector).length ? selectorString({ matchLabels: svc.spec.selector }) : '<none>'],
  },
};
