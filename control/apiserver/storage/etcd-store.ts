// The apiserver's only door to etcd: objects stored as JSON under /registry/..., resourceVersion = mod_revision,
// every write a guarded transaction. Works against real etcd and against ours (plain etcd v3 KV + Watch).
import { Etcd3 } from 'etcd3';
import type { IKeyValue, IRangeRequest } from 'etcd3/lib/rpc.js';
import { ApiError, errors } from '../../../api/errors.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface StoredItem { key: string; obj: KubeObject; rv: number }

export interface RawEvent {
  type: 'put' | 'delete';
  key: string;
  rv: number;
  /** The object after a put; the last stored object before a delete. */
  obj: KubeObject;
  created: boolean;
  prev?: KubeObject;
}

function decode(kv: IKeyValue): StoredItem {
  const obj = JSON.parse(kv.value.toString('utf8')) as KubeObject;
  const rv = Number(kv.mod_revision);
  obj.metadata = obj.metadata ?? {};
  obj.metadata.resourceVersion = String(rv);
  return { key: kv.key.toString('utf8'), obj, rv };
}

// resourceVersion lives in etcd's mod_revision, never in the stored bytes.
function encode(obj: KubeObject): Buffer {
  const md = obj.metadata ?? {};
  const { resourceVersion: _rv, ...rest } = md;
  return Buffer.from(JSON.stringify({ ...obj, metadata: rest }));
}

/** The key just after every key starting with prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) { const out = Buffer.from(b.subarray(0, i + 1)); out[i]!++; return out; }
  }
  return Buffer.from([0]);
}

function isCompacted(err: unknown): boolean {
  return err instanceof Error && /compacted/i.test(err.message);
}

// etcd's default --max-request-bytes (1.5 MiB) less room for the key and the transaction around the value.
export const maxValueBytes = 1.5 * 1024 * 1024 - 8 * 1024;

// etcd3's default per-host circuit breaker opens after three "recoverable" errors, and one oversized request counts:
// a client could take storage away from everyone. Calls pass straight through instead; the global retry remains.
const passThrough = { execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })) };

function checkSize(value: Buffer, key: string): void {
  if (value.length > maxValueBytes) {
    throw new ApiError('RequestEntityTooLarge', `the object ${key.split('/').slice(-1)[0]} is ${value.length} bytes when stored, over the storage limit of ${maxValueBytes} bytes`);
  }
}

export class EtcdStore {
  readonly client: Etcd3;
  constructor(endpoints: string[]) {
    this.client = new Etcd3({
      hosts: endpoints,
      grpcOptions: { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 8 * 1024 * 1024 },
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      faultHandling: { host: () => passThrough as any },
    });
  }

  close(): void { this.client.close(); }

  async get(key: string): Promise<StoredItem | null> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    return res.kvs.length ? decode(res.kvs[0]!) : null;
  }

  /** The store's current revision (cheap: an empty range). */
  async currentRevision(): Promise<number> {
    const res = await this.client.kv.range({ key: Buffer.from('/registry/\0'), count_only: true });
    return Number(res.header.revision);
  }

  /**
   * Reads up to `limit` keys (0 = all) under prefix starting at `from`, at `revision` (0 = now).
   * Reads in pages so no single gRPC message grows with the collection.
   */
  async list(prefix: string, opts: { from?: string; revision?: number; limit?: number; filter?: (o: KubeObject) => boolean } = {})
    : Promise<{ items: StoredItem[]; revision: number; more: boolean; nextKey?: string }> {
    const end = prefixEnd(prefix);
    let start = Buffer.from(opts.from && opts.from > prefix ? opts.from : prefix);
    let revision = opts.revision ?? 0;
    const want = opts.limit ?? 0;
    const items: StoredItem[] = [];
    const page = 1000;
    for (;;) {
      const req: IRangeRequest = { key: start, range_end: end, limit: page };
      if (revision) req.revision = revision;
      let res;
      try {
        res = await this.client.kv.range(req);
      } catch (err) {
        if (isCompacted(err)) throw errors.expired(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.`);
        throw err;
      }
      if (!revision) revision = Number(res.header.revision);
      for (let i = 0; i < res.kvs.length; i++) {
        const item = decode(res.kvs[i]!);
        if (opts.filter && !opts.filter(item.obj)) continue;
        items.push(item);
        if (want && items.length === want) {
          const moreHere = i < res.kvs.length - 1 || res.more;
          return { items, revision, more: moreHere, nextKey: moreHere ? item.key + '\0' : undefined };
        }
      }
      if (!res.more || res.kvs.length === 0) return { items, revision, more: false };
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /** Creates key only if absent. Returns the new revision, or null if the key exists. */
  async create(key: string, obj: KubeObject): Promise<number | null> {
    const k = Buffer.from(key);
    const value = encode(obj);
    checkSize(value, key);
    const res = await this.client.kv.txn({
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value } }],
      failure: [],
    });
    return res.succeeded ? Number(res.header.revision) : null;
  }

  /** Writes key only if its mod_revision is still `expectedRv`. Returns the new revision, or null on conflict. */
  async update(key: string, obj: KubeObject, expectedRv: number): Promise<number | null> {
    const k = Buffer.from(key);
    const value = encode(obj);
    checkSize(value, key);
    const res = await this.client.kv.txn({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRv }],
      success: [{ request_put: { key: k, value } }],
      failure: [],
    });
    return res.succeeded ? Number(res.header.revision) : null;
  }

  /** Deletes key only if its mod_revision is still `expectedRv`. Returns the deletion revision, or null on conflict. */
  async delete(key: string, expectedRv: number): Promise<number | null> {
    const k = Buffer.from(key);
    const res = await this.client.kv.txn({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRv }],
      success: [{ request_delete_range: { key: k } }],
      failure: [],
    });
    return res.succeeded ? Number(res.header.revision) : null;
  }

  /** Drops history older than revision (what kube-apiserver does every --etcd-compaction-interval). */
  async compact(revision: number): Promise<void> {
    await this.client.kv.compact({ revision });
  }

  /** One etcd watch over a prefix from `fromRev` (inclusive), with previous values. */
  async watch(prefix: string, fromRev: number, onEvent: (e: RawEvent) => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
    const watcher = await this.client.watch().prefix(prefix).startRevision(String(fromRev)).withPreviousKV().create();
    watcher.on('put', (kv, prev) => {
      try {
        const item = decode(kv);
        onEvent({ type: 'put', key: item.key, rv: item.rv, obj: item.obj, created: kv.create_revision === kv.mod_revision, prev: prev ? decode(prev).obj : undefined });
      } catch (err) { onError(err as Error); }
    });
    watcher.on('delete', (kv, prev) => {
      if (!prev) return; // without the old value there is nothing to tell watchers
      try {
        const before = decode(prev).obj;
        const rv = Number(kv.mod_revision);
        before.metadata!.resourceVersion = String(rv);
        onEvent({ type: 'delete', key: kv.key.toString('utf8'), rv, obj: before, created: false });
      } catch (err) { onError(err as Error); }
    });
    watcher.on('error', (err) => onError(err));
    return async () => { await watcher.cancel(); };
  }
}
