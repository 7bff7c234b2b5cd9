// Field paths and field sets in the notation of metadata.managedFields (FieldsV1): "f:<field>" for struct and map
// fields, "k:{<key json>}" for an element of a keyed list, "v:<json>" for a value of a set list. A field set is
// the set of paths a manager owns; leaves are owned values, and keyed-list elements are owned as members too.
import { isObject, type Json, type JsonObject } from '../body.ts';
import { childSchema, fieldMeta, structs, type FieldMeta, type SchemaNode } from '../strategic/schema.ts';

export type Path = string[];
export type FieldSet = Map<string, Path>;

const SEP = '\u0000';
export const pathKey = (p: Path) => p.join(SEP);

/** Fields the server owns or that identify the object: never part of a manager's set. */
const IGNORED_TOP = new Set(['apiVersion', 'kind']);
const IGNORED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

export function rootSchema(schema: SchemaNode | undefined): SchemaNode {
  return schema ?? { fields: { metadata: { type: 'ObjectMeta' } } };
}

type ListKind = { kind: 'keyed'; keys: string[] } | { kind: 'set' } | { kind: 'atomic' };
export function listKind(meta: FieldMeta | undefined): ListKind {
  if (meta?.strategy !== 'merge') return { kind: 'atomic' };
  if (meta.listMapKeys) return { kind: 'keyed', keys: meta.listMapKeys };
  return meta.mergeKey ? { kind: 'keyed', keys: [meta.mergeKey] } : { kind: 'set' };
}

/** Schema defaults of key fields (upstream +default on protocol), so {containerPort: 80} keys as TCP. */
const KEY_DEFAULTS: Record<string, Json> = { protocol: 'TCP' };
const keyField = (item: JsonObject, k: string): Json | undefined =>
  Object.hasOwn(item, k) && item[k] !== null ? item[k] : (Object.hasOwn(KEY_DEFAULTS, k) ? KEY_DEFAULTS[k] : undefined);

/** The key of a keyed-list element in key order, or undefined when a key field is missing. */
export function elementKey(keys: string[], item: Json): JsonObject | undefined {
  if (!isObject(item)) return undefined;
  const out: JsonObject = {};
  for (const k of keys) {
    const v = keyField(item, k);
    if (v === undefined) return undefined;
    setOwnKey(out, k, v);
  }
  return out;
}
function setOwnKey(o: JsonObject, k: string, v: Json) {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

export function keyElement(key: JsonObject): string {
  return `k:${JSON.stringify(key)}`;
}

/** Every path set in `obj` (nulls are not values), relative to the kind's schema. */
export function fieldSetOf(obj: JsonObject, schema: SchemaNode | undefined, values?: Map<string, Json>): FieldSet {
  const set: FieldSet = new Map();
  const add = (p: Path, value?: Json) => {
    const k = pathKey(p);
    set.set(k, p);
    if (values && value !== undefined) values.set(k, value);
  };
  const walkObject = (o: JsonObject, path: Path, node: SchemaNode | undefined, depth: number) => {
    let any = false;
    for (const [k, v] of Object.entries(o)) {
      if (v === null) continue;
      if (depth === 0 && IGNORED_TOP.has(k)) continue;
      if (depth === 1 && path[0] === 'f:metadata' && IGNORED_META.has(k)) continue;
      any = true;
      walkValue(v, [...path, `f:${k}`], fieldMeta(node, k), depth + 1);
    }
    if (!any && depth > 0 && Object.keys(o).length === 0) add(path, o);
  };
  const walkValue = (v: Json, path: Path, meta: FieldMeta | undefined, depth: number) => {
    if (isObject(v)) {
      if (meta?.atomicStruct) add(path, v); else walkObject(v, path, childSchema(meta), depth);
      return;
    }
    if (Array.isArray(v)) {
      const lk = listKind(meta);
      if (lk.kind === 'atomic') { add(path, v); return; }
      if (lk.kind === 'set') { for (const item of v) add([...path, `v:${JSON.stringify(item)}`]); return; }
      for (const item of v) {
        const key = elementKey(lk.keys, item);
        if (!key) { add(path, v); return; } // an element without its key: own the list whole
        const el = [...path, keyElement(key)];
        add(el);
        walkObject(item as JsonObject, el, childSchema(meta), depth + 1);
      }
      return;
    }
    add(path, v);
  };
  walkObject(obj, [], rootSchema(schema), 0);
  return set;
}

export interface Found { found: boolean; value?: Json }

/** The value at a path, following keyed-list elements and set values. */
export function valueAt(obj: Json, path: Path): Found {
  let cur: Json = obj;
  for (const el of path) {
    if (el.startsWith('f:')) {
      if (!isObject(cur) || !Object.hasOwn(cur, el.slice(2))) return { found: false };
      cur = cur[el.slice(2)];
      if (cur === null) return { found: false };
    } else if (el.startsWith('k:')) {
      if (!Array.isArray(cur)) return { found: false };
      const key = JSON.parse(el.slice(2)) as JsonObject;
      const match: Json | undefined = cur.find((e) => isObject(e) && Object.entries(key).every(([k, v]) => keyField(e, k) === v));
      if (match === undefined) return { found: false };
      cur = match;
    } else if (el.startsWith('v:')) {
      if (!Array.isArray(cur)) return { found: false };
      const want = el.slice(2);
      const match = cur.find((e) => JSON.stringify(e) === want);
      if (match === undefined) return { found: false };
      cur = match;
    } else {
      return { found: false };
    }
  }
  return { found: true, value: cur };
}

/** Keyed-list elements and set values are owned for their presence; everything else for its value. */
export function isMembership(path: Path): boolean {
  const last = path[path.length - 1] ?? '';
  return last.startsWith('k:') || last.startsWith('v:');
}

/** ".spec.template.spec.containers[name=\"web\"].image", as upstream prints conflict fields. */
export function pathString(path: Path): string {
  return path.map((el) => {
    if (el.startsWith('f:')) return `.${el.slice(2)}`;
    if (el.startsWith('k:')) {
      const key = JSON.parse(el.slice(2)) as JsonObject;
      return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    }
    if (el.startsWith('v:')) return `[=${el.slice(2)}]`;
    return el;
  }).join('');
}

export function toFieldsV1(set: FieldSet): JsonObject {
  type Node = { member: boolean; children: Map<string, Node> };
  const root: Node = { member: false, children: new Map() };
  for (const path of set.values()) {
    let node = root;
    for (const el of path) {
      let next = node.children.get(el);
      if (!next) { next = { member: false, children: new Map() }; node.children.set(el, next); }
      node = next;
    }
    node.member = true;
  }
  const render = (node: Node): JsonObject => {
    const out: JsonObject = {};
    if (node.member && node.children.size > 0) out['.'] = {};
    for (const k of [...node.children.keys()].sort()) out[k] = render(node.children.get(k) as Node);
    return out;
  };
  return render(root);
}

export function fromFieldsV1(tree: Json): FieldSet {
  const set: FieldSet = new Map();
  const walk = (node: Json, path: Path) => {
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length > 0) { set.set(pathKey(path), path); return; }
    for (const k of keys) {
      if (k === '.') { if (path.length > 0) set.set(pathKey(path), path); continue; }
      walk(node[k], [...path, k]);
    }
  };
  walk(tree, []);
  return set;
}

/** Every path of the sets and every ancestor of one, for "does anyone own this or something below it". */
export function prefixesOf(...sets: FieldSet[]): Set<string> {
  const out = new Set<string>();
  for (const set of sets) {
    for (const path of set.values()) {
      let key = '';
      for (let i = 0; i < path.length; i++) {
        key = i === 0 ? path[0] : key + SEP + path[i];
        out.add(key);
      }
    }
  }
  return out;
}

type RemovalNode = Map<string, RemovalNode | true>;

/** Removes many paths in one walk of the object (linear, however many elements a list has). */
export function removePaths(obj: JsonObject, paths: Path[]): void {
  const root: RemovalNode = new Map();
  for (const path of paths) {
    let node = root;
    for (let i = 0; i < path.length; i++) {
      const existing = node.get(path[i]);
      if (existing === true) break; // an ancestor goes already
      if (i === path.length - 1) { node.set(path[i], true); break; }
      let next = existing;
      if (!next) { next = new Map(); node.set(path[i], next); }
      node = next;
    }
  }
  removeWalk(obj, root);
}

function removeWalk(value: Json, node: RemovalNode): void {
  if (isObject(value)) {
    for (const [el, child] of node) {
      if (!el.startsWith('f:')) continue;
      const k = el.slice(2);
      if (!Object.hasOwn(value, k)) continue;
      if (child === true) delete value[k];
      else removeWalk(value[k], child);
    }
    return;
  }
  if (!Array.isArray(value)) return;
  const firstKeyed = [...node.keys()].find((el) => el.startsWith('k:'));
  const keys = firstKeyed ? Object.keys(JSON.parse(firstKeyed.slice(2)) as JsonObject) : [];
  const kept: Json[] = [];
  for (const e of value) {
    const key = keys.length ? elementKey(keys, e) : undefined;
    const child = node.get(key ? keyElement(key) : `v:${JSON.stringify(e)}`);
    if (child === true) continue;
    if (child) removeWalk(e, child);
    kept.push(e);
  }
  value.length = 0;
  for (const e of kept) value.push(e);
}

export { structs };

/** Equality of two owned leaf values (primitives directly, atomic lists and structs by content). */
export function sameValue(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
