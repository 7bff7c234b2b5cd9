// Server-side apply (application/apply-patch+yaml) and Update-manager bookkeeping for metadata.managedFields.
// A simplified structured merge: maps merge by field, keyed lists by the kind's merge key, set lists by value,
// other lists and scalars are atomic. Keyed lists use the strategic-merge-patch keys (e.g. ports by containerPort).
import { parseAllDocuments } from 'yaml';
import { ApiError, errors, type Cause } from '../../../../api/errors.ts';
import { isObject, deepClone, getOwn, setOwn, type Json, type JsonObject } from '../body.ts';
import { childSchema, fieldMeta, schemaForKind, type FieldMeta, type SchemaNode } from '../strategic/schema.ts';
import {
  elementKey, fieldSetOf, isMembership, listKind, pathKey, pathString, prefixesOf, removePaths, rootSchema, sameValue, type FieldSet, type Path,
} from './fieldpath.ts';
import { describeManager, now, readEntries, sameOwner, writeEntries, type ManagerEntry } from './managed.ts';

export interface GVK { group: string; version: string; kind: string }
export interface ApplyOptions { gvk: GVK; fieldManager?: string; force?: boolean; name?: string }

/** Upstream's default manager when ?fieldManager is absent: the User-Agent up to the first "/" ("kubectl"). */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const name = (userAgent ?? '').split('/')[0].trim();
  return (name || 'unknown').slice(0, 128);
}

const apiVersionOf = (gvk: GVK) => (gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version);

function parseApplyBody(body: Buffer): JsonObject {
  const text = body.toString('utf8');
  if (text.trim() === '') throw errors.badRequest('apply patch: the request body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text); // kubectl sends JSON: skip the (much slower) YAML parser when it is
  } catch {
    const docs = parseAllDocuments(text, { prettyErrors: false });
    if (!Array.isArray(docs)) throw errors.badRequest('apply patch: error decoding YAML');
    if (docs.length !== 1) throw errors.badRequest('apply patch: the body must hold exactly one YAML or JSON object');
    const [doc] = docs;
    if (doc.errors.length) throw errors.badRequest(`apply patch: error decoding YAML: ${doc.errors[0].message.split('\n')[0]}`);
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw errors.badRequest(`apply patch: error decoding YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!isObject(value as Json)) throw errors.badRequest('apply patch: the body must be a YAML or JSON object');
  return value as JsonObject;
}

function checkConfig(config: JsonObject, opts: ApplyOptions): void {
  const want = apiVersionOf(opts.gvk);
  if (typeof config.apiVersion !== 'string' || config.apiVersion === '') throw errors.badRequest(`Object 'apiVersion' is missing in apply patch`);
  if (typeof config.kind !== 'string' || config.kind === '') throw errors.badRequest(`Object 'Kind' is missing in apply patch`);
  if (config.apiVersion !== want || config.kind !== opts.gvk.kind) {
    throw errors.badRequest(`apply patch: the object is ${config.apiVersion}, Kind=${config.kind} but the request is for ${want}, Kind=${opts.gvk.kind}`);
  }
  const meta = config.metadata;
  if (meta !== undefined && meta !== null && !isObject(meta)) throw errors.badRequest('apply patch: metadata must be an object');
  if (isObject(meta) && meta.managedFields !== undefined && meta.managedFields !== null) {
    throw errors.badRequest('metadata.managedFields must be nil');
  }
  if (opts.name && isObject(meta) && typeof meta.name === 'string' && meta.name !== opts.name) {
    throw errors.badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${opts.name})`);
  }
}

/** Merges the applied configuration into the live object: maps by field, keyed lists by key, sets by value. */
function mergeApplied(live: Json | undefined, config: Json, meta: FieldMeta | undefined, node: SchemaNode | undefined): Json {
  if (isObject(config) && meta?.atomicStruct) return deepClone(config);
  if (isObject(config)) {
    const out: JsonObject = isObject(live) ? live : {};
    for (const [k, v] of Object.entries(config)) {
      if (v === null) { if (Object.hasOwn(out, k)) delete out[k]; continue; }
      const m = fieldMeta(node, k);
      setOwn(out, k, mergeApplied(getOwn(out, k), v, m, childSchema(m)));
    }
    return out;
  }
  const lk = listKind(meta);
  if (Array.isArray(config) && Array.isArray(live) && lk.kind !== 'atomic') {
    const out = [...live];
    if (lk.kind === 'set') {
      const seen = new Set(out.map((e) => JSON.stringify(e)));
      for (const v of config) {
        const id = JSON.stringify(v);
        if (!seen.has(id)) { seen.add(id); out.push(v); }
      }
      return out;
    }
    const at = new Map<string, number>();
    out.forEach((e, i) => { const id = JSON.stringify(elementKey(lk.keys, e) ?? null); if (!at.has(id)) at.set(id, i); });
    for (const item of config) {
      const key = elementKey(lk.keys, item);
      if (!key) return config.map((v) => (isObject(v) ? mergeApplied(undefined, v, undefined, childSchema(meta)) : v));
      const id = JSON.stringify(key);
      const i = at.get(id);
      if (i !== undefined) { out[i] = mergeApplied(out[i], item, undefined, childSchema(meta)); continue; }
      at.set(id, out.length);
      out.push(mergeApplied(undefined, item, undefined, childSchema(meta)));
    }
    return out;
  }
  if (Array.isArray(config)) return config.map((v) => (isObject(v) ? mergeApplied(undefined, v, undefined, childSchema(meta)) : v));
  return config;
}

function conflictError(conflicts: { entry: ManagerEntry; path: Path }[]): ApiError {
  const causes: Cause[] = conflicts.map(({ entry, path }) =>
    ({ reason: 'FieldManagerConflict', message: `conflict with ${describeManager(entry)}`, field: pathString(path) }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: ${causes[0].message}: ${causes[0].field}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of causes) byManager.set(c.message, [...(byManager.get(c.message) ?? []), c.field as string]);
    message = `Apply failed with ${conflicts.length} conflicts: ` +
      [...byManager].map(([m, fields]) => `${m.replace(/^conflict/, 'conflicts')}:\n${fields.map((f) => `- ${f}`).join('\n')}`).join('\n');
  }
  return new ApiError('Conflict', message, {}, causes);
}

export function applyServerSide(current: object | undefined, body: Buffer, opts: ApplyOptions): object {
  const manager = opts.fieldManager;
  if (!manager) throw errors.badRequest('fieldManager is required for apply patch');
  if (manager.length > 128) throw errors.badRequest('fieldManager may not be more than 128 characters');
  const config = parseApplyBody(body);
  checkConfig(config, opts);
  const schema = rootSchema(schemaForKind(opts.gvk.group, opts.gvk.kind));
  const appliedValues = new Map<string, Json>();
  const applied = fieldSetOf(config, schema, appliedValues);
  const live = current === undefined ? undefined : (deepClone(current) as JsonObject);
  const entries = readEntries(live);
  const mine = (e: ManagerEntry) => sameOwner(e, manager, 'Apply');
  // upstream: an object nobody tracked yet is owned by "before-first-apply", so a first apply still sees conflicts
  const liveValues = new Map<string, Json>();
  const liveSet = live ? fieldSetOf(live, schema, liveValues) : new Map<string, Path>();
  if (live && entries.length === 0) {
    const existing = new Map(liveSet);
    if (existing.size > 0) entries.push({ manager: 'before-first-apply', operation: 'Update', apiVersion: apiVersionOf(opts.gvk), set: existing });
  }

  if (live) {
    const conflicts: { entry: ManagerEntry; path: Path }[] = [];
    for (const entry of entries) {
      if (mine(entry)) continue;
      for (const [k, path] of applied) {
        if (!entry.set.has(k) || isMembership(path) || !liveSet.has(k)) continue;
        if (!sameValue(liveValues.get(k), appliedValues.get(k))) conflicts.push({ entry, path });
      }
    }
    if (conflicts.length && !opts.force) throw conflictError(conflicts);
    for (const { entry, path } of conflicts) entry.set.delete(pathKey(path));
  }

  const merged = (live ? mergeApplied(live, config, undefined, schema) : mergeApplied(undefined, config, undefined, schema)) as JsonObject;

  // fields this manager applied before and no longer applies go away, unless someone else owns them
  const previous = entries.find(mine)?.set ?? new Map<string, Path>();
  const stillOwned = prefixesOf(applied, ...entries.filter((e) => !mine(e)).map((e) => e.set));
  const dropped = [...previous].filter(([k]) => !stillOwned.has(k)).map(([, p]) => p);
  removePaths(merged, dropped);

  const entry: ManagerEntry = { manager, operation: 'Apply', apiVersion: apiVersionOf(opts.gvk), time: now(), set: applied };
  const at = entries.findIndex(mine);
  if (at >= 0) entries[at] = entry; else entries.push(entry);
  writeEntries(merged, entries);
  return merged;
}

/**
 * Records an Update-operation manager (POST/PUT/non-apply PATCH) on `updated`: the manager takes the fields it
 * changed or added (other managers lose them), removed fields leave every set. Returns a copy of `updated` with
 * metadata.managedFields set. A client that sends managedFields explicitly replaces them; `[]` clears them.
 */
export function recordUpdateManager(current: object | undefined, updated: object, manager: string, gvk: GVK, subresource?: string): object {
  const out = deepClone(updated) as JsonObject;
  const prior = current ? (deepClone(current) as JsonObject) : undefined;
  const sent = isObject(out.metadata) ? out.metadata.managedFields : undefined;
  if (Array.isArray(sent) && sent.length === 0) { if (isObject(out.metadata)) delete out.metadata.managedFields; return out; }
  const priorFields = isObject(prior?.metadata) ? (prior.metadata as JsonObject).managedFields : undefined;
  const base = Array.isArray(sent) && JSON.stringify(sent) !== JSON.stringify(priorFields) ? out : prior;
  const entries = readEntries(base);
  const schema = rootSchema(schemaForKind(gvk.group, gvk.kind));
  const afterValues = new Map<string, Json>();
  const beforeValues = new Map<string, Json>();
  const after = fieldSetOf(out, schema, afterValues);
  const before = prior ? fieldSetOf(prior, schema, beforeValues) : new Map<string, Path>();
  const changed: FieldSet = new Map();
  for (const [k, path] of after) {
    if (!prior || !before.has(k)) { changed.set(k, path); continue; }
    if (isMembership(path)) continue;
    if (!sameValue(beforeValues.get(k), afterValues.get(k))) changed.set(k, path);
  }
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const isMe = (e: ManagerEntry) => sameOwner(e, manager || 'unknown', 'Update', subresource);
  for (const e of entries) {
    for (const k of removed) e.set.delete(k);
    if (!isMe(e)) for (const k of changed.keys()) e.set.delete(k);
  }
  if (changed.size > 0) {
    const at = entries.findIndex(isMe);
    const set: FieldSet = new Map(at >= 0 ? entries[at].set : []);
    for (const [k, p] of changed) set.set(k, p);
    const entry: ManagerEntry = { manager: manager || 'unknown', operation: 'Update', apiVersion: apiVersionOf(gvk), time: now(), set,
      ...(subresource ? { subresource } : {}) };
    if (at >= 0) entries[at] = entry; else entries.push(entry);
  }
  writeEntries(out, entries);
  return out;
}
