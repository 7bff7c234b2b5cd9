// Container environment: literal values, fieldRef, resourceFieldRef, configMap/secret key refs and envFrom,
// with $(VAR) expansion over the variables defined before, as upstream does.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { toMilliValue, toValue } from '../../api/quantity.ts';
import type { KubeletApi } from './api.ts';

/** A reference that cannot be resolved: the container gets CreateContainerConfigError with this message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface EnvContext {
  podIP: string;
  hostIP: string;
  nodeName: string;
  api: Pick<KubeletApi, 'getConfigMap' | 'getSecret'>;
}

export function fieldPathValue(pod: V1Pod, fieldPath: string, ctx: Pick<EnvContext, 'podIP' | 'hostIP' | 'nodeName'>): string {
  const m = pod.metadata ?? {};
  const lab = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (lab) return m.labels?.[lab[1]!] ?? '';
  const ann = /^metadata\.annotations\['(.+)'\]$/.exec(fieldPath);
  if (ann) return m.annotations?.[ann[1]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return m.name ?? '';
    case 'metadata.namespace': return m.namespace ?? '';
    case 'metadata.uid': return m.uid ?? '';
    case 'metadata.labels': return Object.entries(m.labels ?? {}).map(([k, v]) => `${k}="${v}"`).sort().join('\n');
    case 'metadata.annotations': return Object.entries(m.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).sort().join('\n');
    case 'spec.nodeName': return pod.spec?.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP': case 'status.podIPs': return ctx.podIP;
    case 'status.hostIP': case 'status.hostIPs': return ctx.hostIP;
    default: throw new ConfigError(`unsupported fieldPath "${fieldPath}"`);
  }
}

export function resourceFieldValue(container: V1Container, resource: string, divisor = '1'): string {
  const [kind, name] = resource.split('.') as [string, string];
  const map = kind === 'limits' ? container.resources?.limits : kind === 'requests' ? container.resources?.requests : undefined;
  if (!map || !name) throw new ConfigError(`unsupported resource "${resource}"`);
  const raw = map[name];
  if (raw === undefined) return kind === 'limits' ? '0' : '0';
  if (name === 'cpu') return String(Math.ceil(toMilliValue(String(raw)) / toMilliValue(divisor)));
  return String(Math.ceil(toValue(String(raw)) / toValue(divisor)));
}

const VAR_REF = /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g;
export function expandVars(input: string, vars: Map<string, string>): string {
  return input.replace(VAR_REF, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && vars.has(name) ? vars.get(name)! : whole;
  });
}

export async function resolveEnv(pod: V1Pod, container: V1Container, ctx: EnvContext): Promise<Map<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await ctx.api.getConfigMap(ns, from.configMapRef.name ?? '');
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) vars.set(prefix + k, v);
    } else if (from.secretRef) {
      const s = await ctx.api.getSecret(ns, from.secretRef.name ?? '');
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(s.data ?? {})) vars.set(prefix + k, Buffer.from(v, 'base64').toString());
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      vars.set(e.name, expandVars(e.value ?? '', vars));
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef) vars.set(e.name, fieldPathValue(pod, vf.fieldRef.fieldPath, ctx));
    else if (vf.resourceFieldRef) {
      const target = vf.resourceFieldRef.containerName
        ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === vf.resourceFieldRef!.containerName)
        : container;
      if (!target) throw new ConfigError(`container "${vf.resourceFieldRef.containerName}" not found for env ${e.name}`);
      vars.set(e.name, resourceFieldValue(target, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor ? String(vf.resourceFieldRef.divisor) : '1'));
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = await ctx.api.getConfigMap(ns, ref.name ?? '');
      const v = cm?.data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(cm ? `couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}` : `configmap "${ref.name}" not found`);
      }
      vars.set(e.name, v);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = await ctx.api.getSecret(ns, ref.name ?? '');
      const v = s?.data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(s ? `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}` : `secret "${ref.name}" not found`);
      }
      vars.set(e.name, Buffer.from(v, 'base64').toString());
    }
  }
  return vars;
}
