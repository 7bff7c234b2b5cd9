// Decoding checks that Go's typed JSON decoder does upstream: wrong JSON types are a 400, unknown fields are
// reported (fieldValidation=Strict -> 400, Warn -> warning) and dropped. The type map comes from
// @kubernetes/client-node's generated models, so it tracks the real object model.
import * as k8s from '@kubernetes/client-node';

interface Attr { name: string; baseName: string; type: string }
const models = k8s as unknown as Record<string, { attributeTypeMap?: Attr[] } | undefined>;

// Resource quantity maps accept JSON numbers too (resource.Quantity unmarshals both).
const quantityMaps = new Set(['limits', 'requests', 'capacity', 'allocatable', 'hard', 'used', 'overhead']);

export interface DecodeProblems { unknown: string[]; typeError?: string }

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

function goType(t: string): string {
  if (t === 'number') return 'int64';
  if (t === 'Date' || t === 'V1MicroTime') return 'v1.Time';
  if (t.startsWith('Array<')) return `[]${goType(t.slice(6, -1))}`;
  if (t.startsWith('{ [key: string]: ')) return `map[string]${goType(t.slice(17, -3))}`;
  return t.replace(/^V\d+(alpha\d+|beta\d+)?/, 'v1.').replace(/^CoreV1/, 'v1.');
}

/** Walks value against the model type name, pruning unknown fields in place. Stops at the first type error. */
function walk(value: unknown, type: string, path: string, owner: string, probs: DecodeProblems, parentKey: string): void {
  if (probs.typeError || value === null || value === undefined) return;
  const bad = (want: string) => {
    probs.typeError = `json: cannot unmarshal ${jsonType(value)} into Go struct field ${owner}.${path} of type ${want}`;
  };
  switch (type) {
    case 'any': return;
    case 'string':
      if (typeof value !== 'string') bad('string');
      return;
    case 'number':
      if (typeof value !== 'number') bad('int64');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') bad('bool');
      return;
    case 'Date': case 'V1MicroTime':
      if (typeof value !== 'string') bad('v1.Time');
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number') bad('intstr.IntOrString');
      return;
  }
  if (type.startsWith('Array<')) {
    if (!Array.isArray(value)) { bad(goType(type)); return; }
    const inner = type.slice(6, -1);
    for (const v of value) walk(v, inner, path, owner, probs, parentKey);
    return;
  }
  if (type.startsWith('{ [key: string]: ')) {
    if (jsonType(value) !== 'object') { bad(goType(type)); return; }
    const inner = type.slice(17, -3);
    for (const v of Object.values(value as object)) {
      if (inner === 'string' && typeof v === 'number' && quantityMaps.has(parentKey)) continue;
      walk(v, inner, path, owner, probs, parentKey);
    }
    return;
  }
  const attrs = models[type]?.attributeTypeMap;
  if (!attrs) return; // a type we have no map for: accept as is
  if (jsonType(value) !== 'object') { bad(goType(type)); return; }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const attr = attrs.find((a) => a.baseName === key);
    const sub = path ? `${path}.${key}` : key;
    if (!attr) {
      probs.unknown.push(sub);
      delete obj[key];
      continue;
    }
    walk(obj[key], attr.type, sub, owner, probs, key);
    if (probs.typeError) return;
  }
}

/** The client-node model name of a kind in a group ("CoreV1Event" for core events, "V1Pod" otherwise). */
export function modelName(group: string, version: string, kind: string): string {
  if (kind === 'Event' && group === '') return 'CoreV1Event';
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

export function hasModel(name: string): boolean {
  return Boolean(models[name]?.attributeTypeMap);
}

/** Checks and prunes obj in place. apiVersion/kind are always allowed. */
export function checkDecode(obj: Record<string, unknown>, model: string, kind: string): DecodeProblems {
  const probs: DecodeProblems = { unknown: [] };
  walk(obj, model, '', kind, probs, '');
  return probs;
}
