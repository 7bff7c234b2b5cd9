// Strategic merge patch (application/strategic-merge-patch+json), server side. Maps merge recursively and null
// deletes; lists merge by the schema's merge key (or as a set of primitives) or are replaced whole; directives:
// "$patch": replace|delete|merge, "$retainKeys", "$setElementOrder/<list>", "$deleteFromPrimitiveList/<list>".
// Element order follows upstream (apimachinery strategicpatch/patch.go): patch items in patch order interleaved
// with server-only items in their live order, where an item that only the patch knows comes first.
import { errors } from '../../../../api/errors.ts';
import { isObject, deepClone, getOwn, setOwn, type Json, type JsonObject } from '../body.ts';
import { childSchema, fieldMeta, type FieldMeta, type SchemaNode } from './schema.ts';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER_PREFIX = '$setElementOrder/';
const DELETE_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/';

const bad = (msg: string) => errors.badRequest(msg);
/** JSON for error messages, cut short: a hostile patch must not become a megabyte of error text */
const show = (v: unknown) => { const j = JSON.stringify(v) ?? String(v); return j.length > 200 ? `${j.slice(0, 200)}...` : j; };

/** Applies a parsed strategic merge patch to a copy of `original`. Throws BadRequest on malformed patches. */
export function strategicMerge(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): JsonObject {
  return mergeMap(deepClone(original), deepClone(patch), schema);
}

function mergeMap(original: JsonObject | undefined, patchIn: JsonObject, schema: SchemaNode | undefined): JsonObject {
  let patch = patchIn;
  if (Object.hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    const { [DIRECTIVE]: _drop, ...rest } = patch;
    if (directive === 'replace') return mergeMap(undefined, rest, schema);
    if (directive === 'delete') return {};
    if (directive !== 'merge') throw bad(`unknown patch type: ${show(directive)} in map: ${show(patch)}`);
    patch = rest;
  }
  const out: JsonObject = original ?? {};
  applyRetainKeys(out, patch);
  applySetElementOrder(out, patch, schema);
  for (const [rawKey, value] of Object.entries(patch)) {
    let key = rawKey;
    let deleteList = false;
    if (rawKey.startsWith(DELETE_PRIMITIVE_PREFIX)) {
      key = rawKey.slice(DELETE_PRIMITIVE_PREFIX.length);
      deleteList = true;
      if (!Array.isArray(value)) throw bad(`invalid patch format: ${rawKey} must be a list of primitives`);
    } else if (rawKey.startsWith('$')) {
      throw bad(`unknown directive ${show(rawKey)} in strategic merge patch`);
    }
    if (value === null) { if (Object.hasOwn(out, key)) delete out[key]; continue; }
    const current = getOwn(out, key);
    if (deleteList) {
      const drop = new Set(value as Json[]);
      if (Array.isArray(current)) setOwn(out, key, current.filter((v) => !drop.has(v)));
      continue;
    }
    const meta = fieldMeta(schema, key);
    if (current === undefined || shape(current) !== shape(value)) { setOwn(out, key, fresh(value, meta)); continue; }
    if (isObject(current)) {
      setOwn(out, key, meta?.strategy === 'replace' ? fresh(value, undefined) : mergeMap(current, value as JsonObject, childSchema(meta)));
    } else if (Array.isArray(current)) {
      setOwn(out, key, meta?.strategy === 'merge' ? mergeList(current, value as Json[], meta) : (value as Json[]));
    } else {
      setOwn(out, key, value);
    }
  }
  return out;
}

function shape(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}

/** A value that has no counterpart in the original: directives applied, nulls dropped. */
function fresh(value: Json, meta: FieldMeta | undefined): Json {
  if (isObject(value)) return mergeMap(undefined, value, childSchema(meta));
  if (Array.isArray(value) && meta?.strategy === 'merge') return mergeList([], value, meta);
  return value;
}

function applyRetainKeys(out: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list) || !list.every((k) => typeof k === 'string')) throw bad('invalid patch format of retainKeys');
  const keep = new Set(list as string[]);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith('$')) continue;
    if (!keep.has(k)) throw bad(`patch content doesn't match retainKeys list: ${show(k)} is not in ${show(list)}`);
  }
  for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
}

type ElementKind = 'map' | 'primitive';

function elementKind(...lists: Json[][]): ElementKind | undefined {
  let kind: string | undefined;
  for (const list of lists) {
    for (const v of list) {
      if (Array.isArray(v)) throw bad('lists of lists are not supported');
      const k = isObject(v) ? 'map' : typeof v;
      if (kind === undefined) kind = k;
      else if (kind !== k) throw bad(`list element types are not identical: ${show(lists)}`);
    }
  }
  return kind === undefined ? undefined : kind === 'map' ? 'map' : 'primitive';
}

function requireKey(item: Json, mergeKey: string): JsonObject {
  if (!isObject(item)) throw bad(`invalid list element ${show(item)}: expected a map with merge key ${show(mergeKey)}`);
  if (!Object.hasOwn(item, mergeKey)) throw bad(`map: ${show(item)} does not contain declared merge key: ${mergeKey}`);
  return item;
}

function mergeList(original: Json[], patch: Json[], meta: FieldMeta): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  const mergeKey = meta.mergeKey ?? '';
  let server = original;
  let patchItems = patch;
  let merged: Json[];
  if (kind === 'primitive') {
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw bad(`cannot merge lists of maps without a merge key: ${show(patch)}`);
    [server, patchItems] = applyListDirectives(original, patch, mergeKey);
    merged = [...server];
    const at = positions(merged, mergeKey, 'map');
    for (const item of patchItems) {
      const p = requireKey(item, mergeKey);
      const i = at.get(p[mergeKey]);
      if (i !== undefined) { merged[i] = mergeMap(merged[i] as JsonObject, p, childSchema(meta)); continue; }
      at.set(p[mergeKey], merged.length);
      merged.push(mergeMap(undefined, p, childSchema(meta)));
    }
  }
  return orderList(merged, patchItems, server, mergeKey, kind ?? 'primitive');
}

/** Handles {"$patch":"delete",key} and {"$patch":"replace"} elements; returns [original, patch] without them. */
function applyListDirectives(original: Json[], patch: Json[], mergeKey: string): [Json[], Json[]] {
  const plain: Json[] = [];
  const deleted = new Set<Json>();
  let replace = false;
  for (const item of patch) {
    if (!isObject(item) || !Object.hasOwn(item, DIRECTIVE)) { plain.push(item); continue; }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      deleted.add(requireKey(item, mergeKey)[mergeKey]);
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw bad('merging lists cannot yet be specified in the patch');
    } else {
      throw bad(`unknown patch type: ${show(directive)} in map: ${show(item)}`);
    }
  }
  if (replace) return [plain, []];
  const server = deleted.size ? original.filter((e) => !(isObject(e) && deleted.has(e[mergeKey]))) : original;
  return [server, plain];
}

/** The identity of a list element: its merge key value, or the value itself for primitives. */
const identity = (item: Json, mergeKey: string, kind: ElementKind): Json | undefined =>
  kind === 'map' ? (isObject(item) && Object.hasOwn(item, mergeKey) ? item[mergeKey] : undefined) : item;

/** First position of each identity in a list, so ordering stays linear on big lists. */
function positions(list: Json[], mergeKey: string, kind: ElementKind): Map<Json | undefined, number> {
  const out = new Map<Json | undefined, number>();
  list.forEach((e, i) => { const id = identity(e, mergeKey, kind); if (!out.has(id)) out.set(id, i); });
  return out;
}

/** Splits merged items into those named by `order` and the server-only rest, and interleaves them like upstream. */
function orderList(merged: Json[], order: Json[], serverOrder: Json[], mergeKey: string, kind: ElementKind): Json[] {
  if (kind === 'map') for (const item of [...merged, ...order]) requireKey(item, mergeKey);
  const orderAt = positions(order, mergeKey, kind);
  const serverAt = positions(serverOrder, mergeKey, kind);
  const at = (where: Map<Json | undefined, number>, item: Json) => where.get(identity(item, mergeKey, kind)) ?? -1;
  const inOrder = (item: Json) => at(orderAt, item) >= 0;
  const sortBy = (list: Json[], by: Map<Json | undefined, number>) =>
    list.map((item, i) => ({ item, i, at: at(by, item) }))
      .sort((a, b) => a.at - b.at || a.i - b.i).map((x) => x.item);
  const patchItems = sortBy(merged.filter(inOrder), orderAt);
  const serverOnly = sortBy(merged.filter((x) => !inOrder(x)), serverAt);
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < patchItems.length) {
    if (j >= patchItems.length) { out.push(serverOnly[i++]); continue; }
    if (i >= serverOnly.length) { out.push(patchItems[j++]); continue; }
    const li = at(serverAt, serverOnly[i]);
    const ri = at(serverAt, patchItems[j]);
    if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++]);
    else out.push(patchItems[j++]);
  }
  return out;
}

/** "$setElementOrder/<list>": merge that list now (if patched) and impose the given order. */
function applySetElementOrder(out: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ORDER_PREFIX)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    const key = directiveKey.slice(SET_ORDER_PREFIX.length);
    if (!Array.isArray(order)) throw bad(`invalid patch format: ${directiveKey} must be a list`);
    const originalList = getOwn(out, key);
    const patchList = getOwn(patch, key);
    if (originalList !== undefined && !Array.isArray(originalList)) throw bad(`${key} is not a list, but ${directiveKey} was sent`);
    if (patchList !== undefined && patchList !== null && !Array.isArray(patchList)) throw bad(`${key} must be a list next to ${directiveKey}`);
    if (patchList === null) continue; // the list is being deleted; the null is handled by the main loop
    const meta = fieldMeta(schema, key);
    const mergeKey = meta?.mergeKey ?? '';
    const kind = elementKind(order, originalList ?? [], patchList ?? []);
    if (kind === undefined) continue;
    if (kind === 'map' && !mergeKey) throw bad(`${directiveKey}: ${key} has no merge key`);
    let merged: Json[];
    if (patchList === undefined) merged = originalList ?? [];
    else if (originalList === undefined) merged = fresh(patchList, meta) as Json[];
    else merged = meta?.strategy === 'merge' ? mergeList(originalList, patchList, meta) : patchList;
    if (patchList !== undefined) checkPatchFollowsOrder(patchList, order, mergeKey, kind);
    setOwn(out, key, orderList(merged, order, originalList ?? [], mergeKey, kind));
    delete patch[key];
  }
}

function checkPatchFollowsOrder(patchList: Json[], order: Json[], mergeKey: string, kind: ElementKind): void {
  let last = -1;
  const orderAt = positions(order, mergeKey, kind);
  for (const item of patchList) {
    if (isObject(item) && Object.hasOwn(item, DIRECTIVE)) continue;
    const at = orderAt.get(identity(item, mergeKey, kind)) ?? -1;
    if (at < last || at < 0) {
      throw bad(`The order in patch list: ${show(patchList)} doesn't match $setElementOrder list: ${show(order)}`);
    }
    last = at;
  }
}
