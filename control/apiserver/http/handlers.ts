// Resource requests: one function per verb, translating HTTP (query, body, Accept) into registry calls and back.
import { ApiError, cause, errors, successStatus } from '../../../api/errors.ts';
import type { KubeObject } from '../storage/etcd-store.ts';
import type { DeleteOptions, ResourceStore } from '../registry/rest.ts';
import { isObject } from '../registry/common.ts';
import type { Obj } from '../registry/types.ts';
import { decodeBody, mediaType } from './body.ts';
import { applyPatchBody, managerName, withManager } from './patch.ts';
import { checkDecode, hasModel, modelName } from './schema.ts';
import { tableContentType, toTable, wantsTable, type IncludeObject } from './table.ts';

export interface Reply { code: number; body: unknown; contentType?: string; warnings?: string[] }

/** Query parameters with Go-style parsing: booleans case-insensitive, integers checked. */
export class Query {
  readonly params: URLSearchParams;
  constructor(params: URLSearchParams) { this.params = params; }
  str(name: string): string | undefined {
    const v = this.params.get(name);
    return v === null ? undefined : v;
  }
  bool(name: string): boolean {
    const v = this.params.get(name);
    if (v === null || v === '') return false;
    const l = v.toLowerCase();
    if (['true', '1', 't'].includes(l)) return true;
    if (['false', '0', 'f'].includes(l)) return false;
    throw errors.badRequest(`invalid boolean value "${v}" for query parameter "${name}"`);
  }
  int(name: string, min = -Infinity): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d{1,15}$/.test(v)) throw errors.badRequest(`invalid integer value "${v}" for query parameter "${name}"`);
    const n = Number(v);
    if (n < min) throw errors.badRequest(`query parameter "${name}" must be at least ${min}, got ${n}`);
    return n;
  }
}

export interface Ctx {
  store: ResourceStore;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: Query;
  accept?: string;
  contentType?: string;
  userAgent?: string;
  body?: Buffer;
}

function dryRunOf(q: Query): boolean {
  const all = q.params.getAll('dryRun');
  for (const v of all) if (v !== 'All') throw errors.badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return all.length > 0;
}

type FieldValidation = 'Ignore' | 'Warn' | 'Strict';
function fieldValidationOf(q: Query): FieldValidation {
  const v = q.str('fieldValidation') ?? 'Warn';
  if (v !== 'Ignore' && v !== 'Warn' && v !== 'Strict') {
    throw errors.badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return v;
}

function gvkOf(store: ResourceStore) {
  const s = store.strategy;
  return { group: s.group, version: s.version, kind: s.kind };
}

function fieldManagerOf(q: Query): string | undefined {
  const m = q.str('fieldManager');
  if (m !== undefined && (m.length > 128 || /[^\x20-\x7e]/.test(m))) {
    throw errors.badRequest('fieldManager: Invalid value: must be no more than 128 printable characters');
  }
  return m;
}

/** Type checks and unknown-field handling for a decoded object of the store's kind (or another model). */
function checkFields(obj: unknown, store: ResourceStore, q: Query, warnings: string[], model?: { name: string; kind: string; version: string }): void {
  if (!isObject(obj)) return;
  const s = store.strategy;
  const m = model ?? { name: modelName(s.group, s.version, s.kind), kind: s.kind, version: store.apiVersion };
  if (!hasModel(m.name)) return;
  const probs = checkDecode(obj, m.name, m.kind);
  if (probs.typeError) throw errors.badRequest(`${m.kind} in version "${m.version}" cannot be handled as a ${m.kind}: ${probs.typeError}`);
  const unknown = probs.unknown.filter((u) => u !== 'apiVersion' && u !== 'kind');
  if (!unknown.length) return;
  const mode = fieldValidationOf(q);
  if (mode === 'Strict') throw errors.badRequest(`strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
  if (mode === 'Warn') for (const u of unknown) warnings.push(`unknown field "${u}"`);
}

async function readObject(ctx: Ctx, warnings: string[]): Promise<Obj> {
  const obj = await decodeBody(ctx.contentType, ctx.body);
  if (!isObject(obj)) throw errors.badRequest(`the body of the request must be a JSON or YAML object, got ${Array.isArray(obj) ? 'an array' : typeof obj}`);
  checkFields(obj, ctx.store, ctx.query, warnings);
  return obj;
}

function includeObjectOf(q: Query): IncludeObject {
  const v = q.str('includeObject') ?? 'Metadata';
  if (v !== 'None' && v !== 'Metadata' && v !== 'Object') throw errors.badRequest(`includeObject: Unsupported value: "${v}": supported values: "Metadata", "None", "Object"`);
  return v;
}

function objectReply(ctx: Ctx, code: number, obj: KubeObject, warnings: string[] = []): Reply {
  if (wantsTable(ctx.accept)) {
    return { code, body: toTable(ctx.store.strategy, [obj], includeObjectOf(ctx.query), { resourceVersion: obj.metadata?.resourceVersion }), contentType: tableContentType, warnings };
  }
  return { code, body: obj, warnings };
}

export async function getObject(ctx: Ctx): Promise<Reply> {
  const obj = await ctx.store.get(ctx.namespace, ctx.name!);
  if (ctx.subresource === 'scale') return { code: 200, body: toScale(ctx.store, obj) };
  return objectReply(ctx, 200, obj);
}

export async function listObjects(ctx: Ctx): Promise<Reply> {
  const q = ctx.query;
  const res = await ctx.store.list(ctx.namespace, {
    labelSelector: q.str('labelSelector'), fieldSelector: q.str('fieldSelector'), limit: q.int('limit', 0),
    continue: q.str('continue'), resourceVersion: q.str('resourceVersion'), resourceVersionMatch: q.str('resourceVersionMatch'),
  });
  const meta: Record<string, unknown> = { resourceVersion: res.resourceVersion };
  if (res.continue) meta.continue = res.continue;
  if (wantsTable(ctx.accept)) {
    return { code: 200, body: toTable(ctx.store.strategy, res.items, includeObjectOf(q), meta), contentType: tableContentType };
  }
  const s = ctx.store.strategy;
  return { code: 200, body: { kind: `${s.kind}List`, apiVersion: ctx.store.apiVersion, metadata: meta, items: res.items } };
}

export async function createObject(ctx: Ctx): Promise<Reply> {
  const warnings: string[] = [];
  const obj = await readObject(ctx, warnings);
  const manager = managerName(fieldManagerOf(ctx.query), ctx.userAgent);
  const created = await ctx.store.create(ctx.namespace, withManager(undefined, obj, manager, gvkOf(ctx.store)), { dryRun: dryRunOf(ctx.query) });
  return objectReply(ctx, 201, created, warnings);
}

export async function updateObject(ctx: Ctx): Promise<Reply> {
  const warnings: string[] = [];
  const dryRun = dryRunOf(ctx.query);
  const manager = managerName(fieldManagerOf(ctx.query), ctx.userAgent);
  if (ctx.subresource === 'scale') {
    const body = await decodeBody(ctx.contentType, ctx.body);
    checkFields(body, ctx.store, ctx.query, warnings, { name: 'V1Scale', kind: 'Scale', version: 'autoscaling/v1' });
    const obj = await writeScale(ctx, () => body, dryRun);
    return { code: 200, body: toScale(ctx.store, obj), warnings };
  }
  const obj = await readObject(ctx, warnings);
  const status = ctx.subresource === 'status' ? 'status' : undefined;
  const { obj: out, created } = await ctx.store.update(ctx.namespace, ctx.name!, obj, { dryRun, subresource: status },
    (current) => (status ? obj : withManager(current ?? undefined, obj, manager, gvkOf(ctx.store))));
  return objectReply(ctx, created ? 201 : 200, out, warnings);
}

export async function patchObject(ctx: Ctx): Promise<Reply> {
  const warnings: string[] = [];
  const q = ctx.query;
  const dryRun = dryRunOf(q);
  const fieldManager = fieldManagerOf(q);
  const force = q.bool('force');
  const mt = mediaType(ctx.contentType);
  if (force && mt !== 'application/apply-patch+yaml') throw errors.badRequest('force: Invalid value: true: may not be specified for non-apply patch');
  const s = ctx.store.strategy;
  if (ctx.subresource === 'scale') {
    const obj = await writeScale(ctx, async (scale) => {
      const patched = applyPatchBody(ctx.contentType, scale, ctx.body, { gvk: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, fieldManager, force });
      checkFields(patched, ctx.store, q, warnings, { name: 'V1Scale', kind: 'Scale', version: 'autoscaling/v1' });
      return patched;
    }, dryRun);
    return { code: 200, body: toScale(ctx.store, obj), warnings };
  }
  const isApply = mt === 'application/apply-patch+yaml';
  const { obj, created } = await ctx.store.guaranteedUpdate(ctx.namespace, ctx.name!, async (current) => {
    let patched = applyPatchBody(ctx.contentType, current ?? undefined, ctx.body, { gvk: gvkOf(ctx.store), fieldManager, force, resource: s.resource, name: ctx.name });
    warnings.length = 0;
    checkFields(patched, ctx.store, q, warnings);
    if (!isApply) patched = withManager(current ?? undefined, patched, managerName(fieldManager, ctx.userAgent), gvkOf(ctx.store), ctx.subresource === 'status' ? 'status' : undefined);
    return patched;
  }, { dryRun, subresource: ctx.subresource === 'status' ? 'status' : undefined, allowCreate: isApply && !ctx.subresource });
  return objectReply(ctx, created ? 201 : 200, obj, warnings);
}

async function deleteOptionsOf(ctx: Ctx): Promise<DeleteOptions> {
  const q = ctx.query;
  let body: Obj = {};
  if (ctx.body && ctx.body.length) {
    const decoded = await decodeBody(ctx.contentType, ctx.body);
    if (!isObject(decoded)) throw errors.badRequest('the DeleteOptions body must be an object');
    body = decoded;
    const probs = checkDecode(body, 'V1DeleteOptions', 'DeleteOptions');
    if (probs.typeError) throw errors.badRequest(`DeleteOptions in version "v1" cannot be handled as a DeleteOptions: ${probs.typeError}`);
  }
  const opts: DeleteOptions = {
    gracePeriodSeconds: body.gracePeriodSeconds ?? q.int('gracePeriodSeconds'),
    propagationPolicy: body.propagationPolicy ?? q.str('propagationPolicy'),
    orphanDependents: body.orphanDependents ?? (q.str('orphanDependents') !== undefined ? q.bool('orphanDependents') : undefined),
    preconditions: isObject(body.preconditions) ? body.preconditions : undefined,
    dryRun: (Array.isArray(body.dryRun) && body.dryRun.length > 0) || dryRunOf(q),
  };
  if (Array.isArray(body.dryRun)) for (const v of body.dryRun) if (v !== 'All') throw errors.badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  if (opts.orphanDependents !== undefined && opts.propagationPolicy !== undefined) {
    throw errors.invalid('DeleteOptions', '', [cause.invalid('propagationPolicy', opts.propagationPolicy, 'orphanDependents and deletionPropagation cannot be both set')]);
  }
  if (opts.orphanDependents === true) opts.propagationPolicy = 'Orphan';
  return opts;
}

export async function deleteObject(ctx: Ctx): Promise<Reply> {
  const opts = await deleteOptionsOf(ctx);
  const { obj } = await ctx.store.delete(ctx.namespace, ctx.name!, opts);
  return { code: 200, body: obj };
}

export async function deleteCollection(ctx: Ctx): Promise<Reply> {
  const opts = await deleteOptionsOf(ctx);
  const items = await ctx.store.deleteCollection(ctx.namespace, { labelSelector: ctx.query.str('labelSelector'), fieldSelector: ctx.query.str('fieldSelector') }, opts);
  const s = ctx.store.strategy;
  return { code: 200, body: { kind: `${s.kind}List`, apiVersion: ctx.store.apiVersion, metadata: {}, items } };
}

// ---- scale ----

function toScale(store: ResourceStore, obj: KubeObject) {
  const rules = store.strategy.scale!;
  const r = rules.read(obj);
  const md = obj.metadata as Obj;
  return {
    kind: 'Scale', apiVersion: 'autoscaling/v1',
    metadata: { name: md.name, namespace: md.namespace, uid: md.uid, resourceVersion: md.resourceVersion, creationTimestamp: md.creationTimestamp },
    spec: { replicas: r.replicas }, status: { replicas: r.statusReplicas, selector: r.selector },
  };
}

async function writeScale(ctx: Ctx, produce: (scale: object) => unknown | Promise<unknown>, dryRun: boolean): Promise<KubeObject> {
  const store = ctx.store;
  const { obj } = await store.guaranteedUpdate(ctx.namespace, ctx.name!, async (current) => {
    if (!current) throw errors.notFound(store.strategy.resource, ctx.name!, store.strategy.group);
    const scale = await produce(toScale(store, current));
    if (!isObject(scale)) throw errors.badRequest('the Scale body must be an object');
    if (scale.kind !== undefined && scale.kind !== 'Scale') throw errors.badRequest(`the kind "${String(scale.kind)}" of the object does not match the kind of the request "Scale"`);
    const replicas = scale.spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw errors.invalid('Scale', ctx.name!, [cause.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')], 'autoscaling');
    }
    const rv = scale.metadata?.resourceVersion;
    if (rv && rv !== current.metadata?.resourceVersion) throw errors.staleResourceVersion(store.strategy.resource, ctx.name!, store.strategy.group);
    store.strategy.scale!.write(current, replicas);
    return current;
  }, { dryRun });
  return obj;
}

// ---- pods/binding and pods/eviction ----

export async function bindPod(ctx: Ctx): Promise<Reply> {
  const body = await decodeBody(ctx.contentType, ctx.body);
  if (!isObject(body)) throw errors.badRequest('the Binding body must be an object');
  const probs = checkDecode(body, 'V1Binding', 'Binding');
  if (probs.typeError) throw errors.badRequest(`Binding in version "v1" cannot be handled as a Binding: ${probs.typeError}`);
  const node = body.target?.name;
  if (typeof node !== 'string' || !node) throw errors.invalid('Binding', ctx.name!, [cause.required('target.name')]);
  if (body.metadata?.name && body.metadata.name !== ctx.name) throw errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${ctx.name})`);
  await ctx.store.guaranteedUpdate(ctx.namespace, ctx.name!, (current) => {
    const pod = current as Obj;
    if (pod.metadata.deletionTimestamp) throw errors.conflict('pods/binding', ctx.name!, `pod ${ctx.name} is being deleted, cannot be assigned to a host`);
    if (pod.spec?.nodeName) throw errors.conflict('pods/binding', ctx.name!, `pod ${ctx.name} is already assigned to node "${pod.spec.nodeName}"`);
    pod.spec.nodeName = node;
    if (isObject(body.metadata?.annotations)) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...body.metadata.annotations };
    const conds = (Array.isArray(pod.status?.conditions) ? pod.status.conditions : []).filter((c: Obj) => c?.type !== 'PodScheduled');
    conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    pod.status = { ...(pod.status ?? {}), conditions: conds };
    return pod;
  }, { subresource: 'internal', dryRun: dryRunOf(ctx.query) });
  return { code: 201, body: { ...successStatus(), code: 201 } };
}

export async function evictPod(ctx: Ctx): Promise<Reply> {
  const body = await decodeBody(ctx.contentType, ctx.body);
  if (!isObject(body)) throw errors.badRequest('the Eviction body must be an object');
  if (body.metadata?.name && body.metadata.name !== ctx.name) throw errors.badRequest(`name in URL does not match name in Eviction object`);
  const opts = isObject(body.deleteOptions) ? body.deleteOptions : {};
  try {
    await ctx.store.delete(ctx.namespace, ctx.name!, {
      gracePeriodSeconds: opts.gracePeriodSeconds, propagationPolicy: opts.propagationPolicy, preconditions: opts.preconditions,
      dryRun: Array.isArray(opts.dryRun) && opts.dryRun.length > 0,
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw err;
  }
  return { code: 201, body: { ...successStatus(), code: 201 } };
}
