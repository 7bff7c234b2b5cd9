// kts client library: how every component except the apiserver reads and writes the cluster.
// Plain HTTP(S) + JSON with a keep-alive agent; @kubernetes/client-node is used for its *types* only.
//
// Connect
//   const client = new RestClient(loadConfig({ kubeconfig: opts.kubeconfig }));   // --kubeconfig, $KUBECONFIG,
//                                                                                  // in-cluster, ~/.kube/config
//   parseKubeconfig(yamlText, { baseDir }) / loadKubeconfigFile(path, context?) / inClusterConfig()
//   ClientConfig also sets qps/burst (default 50/100), timeoutMs (default 30 s), userAgent.
//   new RestClient(config, { onWarning: (text) => log.warn(text) }) surfaces `Warning: 299` headers.
//
// Read and write (ResourceRef = { group?, version, resource, namespace?, name?, subresource? })
//   const pods = { version: 'v1', resource: 'pods' };  // core group: group omitted; or resources.pods (resources.ts)
//   await client.get<V1Pod>({ ...pods, namespace: 'default', name: 'web' });
//   await client.list<V1Pod>({ ...pods, namespace: 'default' }, { labelSelector: 'app=web' });  // one page
//   await client.listAll<V1Pod>(pods, { fieldSelector: 'spec.nodeName=n1' });  // follows `continue`
//   await client.create(ref, obj, { fieldManager }); client.update(ref, obj) (409 Conflict if RV stale)
//   await client.updateStatus(ref, obj); client.patch(ref, 'merge'|'strategic'|'json'|'apply', body, opts)
//   await client.patchStatus(...); client.delete(ref, { propagationPolicy, gracePeriodSeconds, preconditions })
//   POST to a subresource: client.create({ ...pods, namespace, name, subresource: 'binding' }, binding)
//   Errors: non-2xx replies throw ApiError (api/errors.ts); check err.reason ('NotFound', 'Conflict', ...)
//   or err.code. Network failures throw plain Errors (err.code like 'ECONNREFUSED'; name 'TimeoutError').
//
// Watch and cache
//   const inf = new Informer<V1Pod>(client, pods, {
//     fieldSelector: `spec.nodeName=${node}`, indexers: { byNode: (p) => [p.spec?.nodeName ?? ''] } });
//   inf.addEventHandler({ onAdd: (p) => q.add(keyOf(p)), onUpdate: (old, p) => ..., onDelete: (p) => ... });
//   inf.start(); await inf.waitForSync(signal);
//   inf.store.get('ns/name') / getByName(ns, name) / list() / byIndex('byNode', 'n1')  -- O(1), read-only objects
//   await inf.stop();
//   Lists, then watches from the list RV; resumes from the last RV (bookmarks too) when the stream ends;
//   relists on 410 (HTTP or ERROR event) and delivers the difference as add/update/delete; backs off on
//   errors (reported through opts.onError) and never stops until stop(). Handlers run synchronously in event
//   order right after the store changed: keep them short (enqueue a key). With opts.resyncMs, onUpdate(o, o)
//   is also called periodically (old === new). waitForSync() waits as long as the server is unreachable:
//   pass AbortSignal.timeout(ms) to bound it. Stop informers before client.close().
//   Low-level: `for await (const ev of watch(client, ref, { resourceVersion })) ...`
//   Shared (controller-manager): const f = new InformerFactory(client); const pods = f.informerFor<V1Pod>(resources.pods);
//   ... f.start(); await f.waitForSync(signal);   -- one informer per (resource, namespace, selectors)
//
// Work queue (controllers)
//   const q = new WorkQueue<string>();  q.add(key); const key = await q.get(); ...; q.done(key);
//   q.addRateLimited(key) / q.forget(key) / q.addAfter(key, ms) / q.shutDown() / q.shutDownWithDrain()
//   runWorkers(q, 2, async (key) => sync(key))   // forget on success, addRateLimited on error
//
// Events (core/v1): const rec = new EventRecorder(client, { component: 'default-scheduler' });
//   rec.event(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: ...');  // background, deduped
//
// Leader election (coordination.k8s.io/v1 Lease)
//   await new LeaderElector({ client, namespace: 'kube-system', name: 'kube-scheduler', identity,
//     releaseOnCancel: true, onStartedLeading: (signal) => runScheduler(signal), onStoppedLeading: () => process.exit(0),
//   }).run(signal);
export { RestClient, resourcePath, statusToError, encodeQuery, patchContentType, parseWarnings } from './rest.ts';
export type {
  ResourceRef, KubeList, ListMeta, ListOptions, WriteOptions, PatchOptions, PatchType, DeleteOptions, RequestOptions, RawResponse, Query,
} from './rest.ts';
export { loadConfig, loadKubeconfigFile, parseKubeconfig, inClusterConfig, SERVICE_ACCOUNT_DIR } from './kubeconfig.ts';
export type { ClientConfig, LoadOptions, ParseOptions, InClusterOptions } from './kubeconfig.ts';
export { watch, parseWatchLine, WatchDecodeError } from './watch.ts';
export type { WatchEvent, WatchEventType, WatchOptions } from './watch.ts';
export { Informer, startAndSync } from './informer.ts';
export { InformerFactory } from './factory.ts';
export type { FactoryOptions, SharedInformerOptions } from './factory.ts';
export type { EventHandlers, InformerOptions, InformerPhase } from './informer.ts';
export { Store, keyOf, splitKey, namespaceIndex, NAMESPACE_INDEX } from './store.ts';
export type { IndexFunc } from './store.ts';
export {
  WorkQueue, runWorkers, defaultControllerRateLimiter, ItemExponentialRateLimiter, BucketRateLimiter, MaxOfRateLimiter,
} from './workqueue.ts';
export type { RateLimiter, WorkerOptions } from './workqueue.ts';
export { LeaderElector, microTime } from './leaderelection.ts';
export { EventRecorder, referenceTo, restEventSink } from './events.ts';
export type { EventRecorderOptions, EventSink, EventType } from './events.ts';
export type { LeaderElectionConfig } from './leaderelection.ts';
export { TokenBucket, Backoff, sleep } from './ratelimit.ts';
export { resources, apiVersionOf } from './resources.ts';
