// Pieces several strategies share: the name column, ages, pod template defaulting and validation.
import { cause, type Cause } from '../../../api/errors.ts';
import { age } from '../../../api/meta.ts';
import { isQuantity } from '../../../api/quantity.ts';
import { isDNS1123Label, isValidLabelValue, isQualifiedName } from '../../../api/validation.ts';
import { labelSelectorFromObject } from '../../../api/selectors.ts';
import type { Obj, TableColumn } from './types.ts';

export const nameColumn: TableColumn = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 };
export const ageColumn: TableColumn = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.', priority: 0 };
export function col(name: string, type: TableColumn['type'] = 'string', priority = 0, description = ''): TableColumn {
  return { name, type, format: '', description, priority };
}
export function ageOf(obj: Obj, now: number): string {
  return age(obj?.metadata?.creationTimestamp, now);
}

export function isObject(v: unknown): v is Record<string, Obj> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Image pull policy default: Always for ":latest" or untagged images, IfNotPresent otherwise (digests count as tagged). */
export function defaultPullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const tagSep = image.indexOf(':', lastSlash + 1);
  const tag = tagSep >= 0 ? image.slice(tagSep + 1) : '';
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Obj): void {
  if (!isObject(c)) return;
  c.imagePullPolicy ??= defaultPullPolicy(c.image);
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  if (isObject(c.resources) && isObject(c.resources.limits) && !c.resources.requests) {
    // requests default to limits, like upstream
    c.resources.requests = { ...c.resources.limits };
  }
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) p.protocol ??= 'TCP';
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    if (!isObject(probe)) continue;
    probe.timeoutSeconds ??= 1;
    probe.periodSeconds ??= 10;
    probe.successThreshold ??= 1;
    probe.failureThreshold ??= 3;
    if (isObject(probe.httpGet)) { probe.httpGet.path ??= '/'; probe.httpGet.scheme ??= 'HTTP'; }
  }
}

/** Upstream SetDefaults_PodSpec and friends. */
export function defaultPodSpec(spec: Obj): void {
  if (!isObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  if (spec.serviceAccountName && !spec.serviceAccount) spec.serviceAccount = spec.serviceAccountName;
  for (const list of [spec.containers, spec.initContainers]) if (Array.isArray(list)) list.forEach(defaultContainer);
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      if (!isObject(v)) continue;
      if (isObject(v.configMap)) v.configMap.defaultMode ??= 420;
      if (isObject(v.secret)) v.secret.defaultMode ??= 420;
    }
  }
}

export function defaultPodTemplate(template: Obj): void {
  if (!isObject(template)) return;
  template.metadata ??= {};
  if (isObject(template.metadata)) template.metadata.creationTimestamp ??= null;
  if (isObject(template.spec)) defaultPodSpec(template.spec);
}

function validateResources(r: Obj, field: string, out: Cause[]): void {
  if (r === undefined || r === null) return;
  if (!isObject(r)) { out.push(cause.invalid(field, r, 'must be an object')); return; }
  for (const kind of ['limits', 'requests'] as const) {
    const m = r[kind];
    if (m === undefined || m === null) continue;
    if (!isObject(m)) { out.push(cause.invalid(`${field}.${kind}`, m, 'must be a map of resource name to quantity')); continue; }
    for (const [name, q] of Object.entries(m)) {
      const asString = typeof q === 'number' ? String(q) : q;
      if (typeof asString !== 'string' || !isQuantity(asString)) {
        out.push(cause.invalid(`${field}.${kind}[${name}]`, q, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
      } else if (asString.trim().startsWith('-')) {
        out.push(cause.invalid(`${field}.${kind}[${name}]`, q, 'must be greater than or equal to 0'));
      }
    }
  }
}

function validateContainer(c: Obj, field: string, out: Cause[]): void {
  if (!isObject(c)) { out.push(cause.invalid(field, c, 'must be an object')); return; }
  if (typeof c.name !== 'string' || c.name === '') out.push(cause.required(`${field}.name`));
  else for (const m of isDNS1123Label(c.name)) out.push(cause.invalid(`${field}.name`, c.name, m));
  if (typeof c.image !== 'string' || c.image.trim() === '') out.push(cause.required(`${field}.image`));
  if (c.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy)) {
    out.push(cause.notSupported(`${field}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']));
  }
  validateResources(c.resources, `${field}.resources`, out);
  if (Array.isArray(c.ports)) {
    c.ports.forEach((p: Obj, i: number) => {
      const pf = `${field}.ports[${i}]`;
      if (!isObject(p)) { out.push(cause.invalid(pf, p, 'must be an object')); return; }
      if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) {
        out.push(cause.invalid(`${pf}.containerPort`, p.containerPort, 'must be between 1 and 65535, inclusive'));
      }
      if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol)) out.push(cause.notSupported(`${pf}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    });
  }
  if (Array.isArray(c.env)) {
    c.env.forEach((e: Obj, i: number) => {
      if (!isObject(e) || typeof e.name !== 'string' || e.name === '') out.push(cause.required(`${field}.env[${i}].name`));
    });
  }
}

/** Upstream ValidatePodSpec, the parts that catch everyday mistakes. field is "spec" or "spec.template.spec". */
export function validatePodSpec(spec: Obj, field: string): Cause[] {
  const out: Cause[] = [];
  if (!isObject(spec)) return [cause.required(field)];
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) out.push(cause.required(`${field}.containers`));
  const names = new Set<string>();
  for (const [listName, list] of [['initContainers', spec.initContainers], ['containers', spec.containers]] as const) {
    if (!Array.isArray(list)) continue;
    list.forEach((c: Obj, i: number) => {
      const f = `${field}.${listName}[${i}]`;
      validateContainer(c, f, out);
      if (isObject(c) && typeof c.name === 'string' && c.name) {
        if (names.has(c.name)) out.push(cause.duplicate(`${f}.name`, c.name));
        names.add(c.name);
      }
    });
  }
  if (!['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) out.push(cause.notSupported(`${field}.restartPolicy`, spec.restartPolicy, ['Always', 'OnFailure', 'Never']));
  if (!['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(spec.dnsPolicy)) {
    out.push(cause.notSupported(`${field}.dnsPolicy`, spec.dnsPolicy, ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']));
  }
  if (spec.terminationGracePeriodSeconds !== undefined && (!Number.isInteger(spec.terminationGracePeriodSeconds) || spec.terminationGracePeriodSeconds < 0)) {
    out.push(cause.invalid(`${field}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  const volNames = new Set<string>();
  if (Array.isArray(spec.volumes)) {
    spec.volumes.forEach((v: Obj, i: number) => {
      if (!isObject(v) || typeof v.name !== 'string' || !v.name) { out.push(cause.required(`${field}.volumes[${i}].name`)); return; }
      for (const m of isDNS1123Label(v.name)) out.push(cause.invalid(`${field}.volumes[${i}].name`, v.name, m));
      if (volNames.has(v.name)) out.push(cause.duplicate(`${field}.volumes[${i}].name`, v.name));
      volNames.add(v.name);
    });
  }
  if (isObject(spec.nodeSelector)) {
    for (const [k, v] of Object.entries(spec.nodeSelector)) {
      for (const m of isQualifiedName(k)) out.push(cause.invalid(`${field}.nodeSelector`, k, m));
      if (typeof v !== 'string') out.push(cause.invalid(`${field}.nodeSelector`, v, 'must be a string'));
      else for (const m of isValidLabelValue(v)) out.push(cause.invalid(`${field}.nodeSelector`, v, m));
    }
  }
  return out;
}

/** Workload selector + template rules (deployments, replicasets, daemonsets). */
export function validateSelectorAndTemplate(spec: Obj, out: Cause[]): void {
  if (!isObject(spec)) { out.push(cause.required('spec')); return; }
  const sel = spec.selector;
  if (!isObject(sel) || (!isObject(sel.matchLabels) && !Array.isArray(sel.matchExpressions))) {
    out.push(cause.required('spec.selector'));
  } else if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
    out.push(cause.invalid('spec.selector', sel, 'empty selector is invalid for deployment'));
  }
  const tmpl = spec.template;
  if (!isObject(tmpl)) { out.push(cause.required('spec.template')); return; }
  const labels = isObject(tmpl.metadata) ? tmpl.metadata.labels : undefined;
  if (isObject(sel)) {
    try {
      if (!labelSelectorFromObject(sel).matches(labels as Record<string, string>)) {
        out.push(cause.invalid('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
      }
    } catch {
      out.push(cause.invalid('spec.selector', sel, 'invalid label selector'));
    }
  }
  out.push(...validatePodSpec(tmpl.spec, 'spec.template.spec'));
}

export function selectorString(sel: Obj): string {
  try { return isObject(sel) ? labelSelectorFromObject(sel).toString() : ''; } catch { return ''; }
}

export function nonNegativeInt(v: unknown, field: string, out: Cause[]): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) out.push(cause.invalid(field, v, 'must be greater than or equal to 0'));
}

/** Containers / Images columns of workload tables. */
export function containersAndImages(podSpec: Obj): [string, string] {
  const cs = Array.isArray(podSpec?.containers) ? podSpec.containers : [];
  return [cs.map((c: Obj) => c?.name).join(','), cs.map((c: Obj) => c?.image).join(',')];
}
