// The informer's local cache: objects keyed by "namespace/name" (or "name" when cluster-scoped) with O(1)
// lookups, plus optional secondary indexes (e.g. pods by spec.nodeName) kept up to date on every change.
// Objects in the store are shared with every reader: treat them as read-only (copy before mutating).
import type { KubernetesObject } from '@kubernetes/client-node';

/** Returns the index values an object is filed under (none = not indexed). */
export type IndexFunc<T> = (obj: T) => string[];

export const NAMESPACE_INDEX = 'namespace';

export function keyOf(obj: KubernetesObject): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error('keyOf: object has no metadata.name');
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Index by metadata.namespace: always available in a Store as "namespace". */
export function namespaceIndex(obj: KubernetesObject): string[] {
  return obj.metadata?.namespace ? [obj.metadata.namespace] : [];
}

export class Store<T extends KubernetesObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name -> index value -> keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndexers({ [NAMESPACE_INDEX]: namespaceIndex, ...indexers });
  }

  /** Add indexes (also after objects are stored: they are indexed at once). */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.indexers.has(name)) throw new Error(`Store: index "${name}" already exists`);
      this.indexers.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) this.fileUnder(index, fn(obj), key);
    }
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** Lookup by namespace and name (namespace undefined or "" for cluster-scoped objects). */
  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  list(): T[] {
    return [...this.items.values()];
  }

  /** Objects whose index function returned `value`. */
  byIndex(indexName: string, value: string): T[] {
    const keys = this.indexKeys(indexName, value);
    const out: T[] = [];
    for (const k of keys) out.push(this.items.get(k)!);
    return out;
  }

  /** Keys filed under `value` in the index (a live read-only view; copy before adding to the store). */
  indexKeys(indexName: string, value: string): ReadonlySet<string> {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`Store: no index named "${indexName}"`);
    return index.get(value) ?? EMPTY;
  }

  /** Distinct values present in an index. */
  indexValues(indexName: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`Store: no index named "${indexName}"`);
    return [...index.keys()];
  }

  /** Insert or replace; returns the previous object. */
  set(obj: T): T | undefined {
    const key = keyOf(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      if (old) this.unfile(index, fn(old), key);
      this.fileUnder(index, fn(obj), key);
    }
    return old;
  }

  /** Remove by key; returns the removed object. */
  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.items.delete(key);
    for (const [name, fn] of this.indexers) this.unfile(this.indices.get(name)!, fn(old), key);
    return old;
  }

  clear(): void {
    this.items.clear();
    for (const index of this.indices.values()) index.clear();
  }

  private fileUnder(index: Map<string, Set<string>>, values: string[], key: string): void {
    for (const v of values) {
      let keys = index.get(v);
      if (!keys) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private unfile(index: Map<string, Set<string>>, values: string[], key: string): void {
    for (const v of values) {
      const keys = index.get(v);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) index.delete(v);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
