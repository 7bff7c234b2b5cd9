// One watch request: GET ...?watch=true, read newline-delimited JSON events until the server ends the stream.
// No retry logic here; the informer decides when to re-watch, relist or back off.
import { StringDecoder } from 'node:string_decoder';
import type { V1Status } from '@kubernetes/client-node';
import type { RestClient, ResourceRef } from './rest.ts';
import { resourcePath } from './rest.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** For ERROR events `object` is a metav1.Status; for BOOKMARK only metadata.resourceVersion is set. */
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions {
  /** Start after this RV; "" or "0" means "send ADDED for everything that exists first". */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  /** Ask the server to end the stream cleanly after this long. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

const EVENT_TYPES = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** A malformed line in the stream: the stream cannot be trusted past it. */
export class WatchDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchDecodeError';
  }
}

export function parseWatchLine<T>(line: string): WatchEvent<T> {
  let ev: { type?: unknown; object?: unknown };
  try {
    ev = JSON.parse(line) as typeof ev;
  } catch {
    throw new WatchDecodeError(`watch: a line of the stream is not JSON: ${line.slice(0, 200)}`);
  }
  if (!ev || typeof ev !== 'object' || !EVENT_TYPES.has(ev.type as WatchEventType) || !ev.object || typeof ev.object !== 'object') {
    throw new WatchDecodeError(`watch: not a watch event (needs type and object): ${line.slice(0, 200)}`);
  }
  return { type: ev.type as WatchEventType, object: ev.object as T };
}

/**
 * Open a watch and yield its events. Ends normally when the server closes the stream; throws ApiError if
 * the server refuses (HTTP 410 included), a network error if the connection breaks, or the signal's reason
 * when aborted. Breaking out of the loop closes the connection.
 */
export async function* watch<T>(client: RestClient, ref: ResourceRef, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T | V1Status>> {
  const res = await client.stream({
    method: 'GET',
    path: resourcePath({ ...ref, name: undefined, subresource: undefined }),
    query: {
      watch: true,
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      // A watch on one object is a field selector on its name, as upstream clients do it.
      fieldSelector: ref.name ? joinSelectors(`metadata.name=${ref.name}`, opts.fieldSelector) : opts.fieldSelector,
      allowWatchBookmarks: opts.allowWatchBookmarks ? true : undefined,
      timeoutSeconds: opts.timeoutSeconds,
    },
    signal: opts.signal,
  });
  const decoder = new StringDecoder('utf8');
  let pending = '';
  try {
    for await (const chunk of res) {
      pending += decoder.write(chunk as Buffer);
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) yield parseWatchLine<T | V1Status>(line);
      }
    }
    const last = (pending + decoder.end()).trim();
    if (last) yield parseWatchLine<T | V1Status>(last);
  } finally {
    res.destroy();
  }
}

function joinSelectors(a: string, b?: string): string {
  return b ? `${a},${b}` : a;
}
