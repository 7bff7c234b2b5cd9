// etcdserverpb.Watch: one bidirectional stream carries many watchers. Create answers "created" (then history,
// then live events), cancel answers "canceled", a progress request answers the current revision.
import type { ServiceHandlers, StreamCall } from './grpc-server.ts';
import type { EtcdServer } from './etcd-server.ts';
import type { WatchHub } from './watch-hub.ts';
import type { Event } from '../mvcc/types.ts';

interface CreateReq {
  key: Buffer; range_end: Buffer; start_revision: string; progress_notify: boolean; filters: string[];
  prev_kv: boolean; watch_id: string; fragment: boolean;
}
interface WatchReq {
  request_union?: 'create_request' | 'cancel_request' | 'progress_request';
  create_request?: CreateReq; cancel_request?: { watch_id: string }; progress_request?: object;
}

export interface WatchServiceOptions { progressNotifyIntervalMs?: number }

export function watchService(s: EtcdServer, hub: WatchHub, opts: WatchServiceOptions = {}): ServiceHandlers {
  const progressMs = opts.progressNotifyIntervalMs ?? 10 * 60 * 1000;
  return {
    Watch: (call: StreamCall<WatchReq, object>) => {
      const watchers = new Map<number, { stop: () => void; progress: boolean; lastSent: number }>();
      let nextId = 0;
      let closed = false;
      const send = (msg: object) => { if (!closed) call.write({ header: s.header(), ...msg }); };

      const progressTimer = setInterval(() => {
        const now = Date.now();
        for (const [id, w] of watchers) {
          if (w.progress && now - w.lastSent >= progressMs) { w.lastSent = now; send({ watch_id: id }); }
        }
      }, Math.min(progressMs, 60_000));
      progressTimer.unref();

      const create = (r: CreateReq) => {
        let id = Number(r.watch_id ?? 0);
        if (id === 0 || Number.isNaN(id)) { while (watchers.has(nextId)) nextId++; id = nextId++; }
        else if (watchers.has(id)) {
          send({ watch_id: id, created: true, canceled: true, cancel_reason: 'mvcc: duplicate watch ID provided on the WatchStream' });
          return;
        }
        const filters = new Set(r.filters ?? []);
        const w = { stop: () => {}, progress: !!r.progress_notify, lastSent: Date.now() };
        watchers.set(id, w);
        send({ watch_id: id, created: true });
        w.stop = hub.add({
          key: r.key, rangeEnd: r.range_end, startRev: Number(r.start_revision ?? 0), prevKv: !!r.prev_kv,
          noPut: filters.has('NOPUT'), noDelete: filters.has('NODELETE'),
        }, {
          deliver: (events: Event[]) => { w.lastSent = Date.now(); send({ watch_id: id, events }); },
          compacted: (compactRev: number) => {
            watchers.delete(id);
            send({ watch_id: id, canceled: true, compact_revision: compactRev,
              cancel_reason: 'mvcc: required revision has been compacted' });
          },
        });
      };

      call.on('data', (req: WatchReq) => {
        try {
          if (req.create_request) create(req.create_request);
          else if (req.cancel_request) {
            const id = Number(req.cancel_request.watch_id);
            const w = watchers.get(id);
            if (w) { w.stop(); watchers.delete(id); send({ watch_id: id, canceled: true }); }
          } else if (req.progress_request) {
            send({ watch_id: -1 });
          }
        } catch (err) {
          s.log('warn', `watch request failed: ${(err as Error).message}`);
        }
      });
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(progressTimer);
        for (const w of watchers.values()) w.stop();
        watchers.clear();
      };
      call.on('end', () => { close(); call.end(); });
      call.on('cancelled', close);
      call.on('error', close);
      call.on('close', close);
    },
  };
}
