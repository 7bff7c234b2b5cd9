// Watch streams: 200, chunked, one JSON event per line, flushed per event; bookmarks on request; a clean end after
// timeoutSeconds; a too-old resourceVersion becomes an in-stream ERROR event with a 410 Status, like upstream.
import type { ServerResponse } from 'node:http';
import { toStatus } from '../../../api/errors.ts';
import type { KubeObject } from '../storage/etcd-store.ts';
import type { ResourceStore, WatchEvent } from '../registry/rest.ts';
import { tableContentType, toTable, type IncludeObject } from './table.ts';

export interface WatchRequest {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
  table?: { include: IncludeObject };
  bookmarkIntervalMs: number;
}

// Serialising an object once per event, however many watchers receive it.
const jsonCache = new WeakMap<object, string>();
function objectJson(o: KubeObject): string {
  let s = jsonCache.get(o);
  if (s === undefined) { s = JSON.stringify(o); jsonCache.set(o, s); }
  return s;
}

const maxBufferedBytes = 16 * 1024 * 1024;

/** Streams events into res until the client goes away, the timeout passes, or the server stops (onStop). */
export function serveWatch(store: ResourceStore, req: WatchRequest, res: ServerResponse, register: (stop: () => void) => () => void): void {
  res.writeHead(200, {
    'Content-Type': req.table ? tableContentType : 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders(); // clients wait for headers before reading events; a quiet watch must not look hung
  let closed = false;
  let lastRv = Number(req.resourceVersion) || 0;
  let firstTable = true;
  const timers: NodeJS.Timeout[] = [];
  let stopWatch: () => void = () => {};
  let unregister: () => void = () => {};
  const finish = () => {
    if (closed) return;
    closed = true;
    stopWatch();
    unregister();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
  };
  const write = (line: string) => {
    if (closed) return;
    res.write(line);
    if (res.writableLength > maxBufferedBytes) finish(); // a client that does not read is dropped, not buffered forever
  };
  const send = (e: WatchEvent) => {
    lastRv = Math.max(lastRv, e.rv);
    if (req.table) {
      const t = toTable(store.strategy, [e.object], req.table.include, { resourceVersion: String(e.rv) }, firstTable);
      firstTable = false;
      write(`{"type":"${e.type}","object":${JSON.stringify(t)}}\n`);
    } else {
      write(`{"type":"${e.type}","object":${objectJson(e.object)}}\n`);
    }
  };
  res.on('close', finish);
  unregister = register(finish);
  try {
    stopWatch = store.watch(req.namespace, req, send, finish);
  } catch (err) {
    write(`${JSON.stringify({ type: 'ERROR', object: toStatus(err) })}\n`);
    finish();
    return;
  }
  const timeoutMs = req.timeoutSeconds !== undefined ? req.timeoutSeconds * 1000 : (1800 + Math.random() * 1800) * 1000;
  timers.push(setTimeout(finish, timeoutMs));
  if (req.allowWatchBookmarks) {
    const tick = () => {
      if (closed) return;
      const rv = Math.max(lastRv, store.cache.revision);
      lastRv = rv;
      const s = store.strategy;
      const bookmark = { kind: s.kind, apiVersion: store.apiVersion, metadata: { resourceVersion: String(rv) } };
      write(`${JSON.stringify({ type: 'BOOKMARK', object: bookmark })}\n`);
      timers.push(setTimeout(tick, req.bookmarkIntervalMs));
    };
    timers.push(setTimeout(tick, req.bookmarkIntervalMs));
  }
}
