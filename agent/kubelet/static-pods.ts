// Static pods: pod manifests in a directory (--pod-manifest-path), run by this kubelet without the API
// server, and mirrored into the API as read-only "mirror pods" so kubectl shows them.
import type { V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ANNOTATION_CONFIG_SOURCE = 'kubernetes.io/config.source';
export const ANNOTATION_CONFIG_HASH = 'kubernetes.io/config.hash';
export const ANNOTATION_CONFIG_MIRROR = 'kubernetes.io/config.mirror';

export function isMirrorPod(pod: V1Pod): boolean {
  return !!pod.metadata?.annotations?.[ANNOTATION_CONFIG_MIRROR];
}

/** uid-like hash of the manifest and node, so an edited manifest becomes a new pod (as upstream). */
function staticUid(nodeName: string, text: string): string {
  const h = createHash('sha256').update(nodeName).update('\0').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface StaticPodLoad { pods: V1Pod[]; errors: string[] }

/** Reads every .yaml/.yml/.json manifest in dir; bad files are reported, not fatal. */
export async function loadStaticPods(dir: string, nodeName: string): Promise<StaticPodLoad> {
  const out: StaticPodLoad = { pods: [], errors: [] };
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    out.errors.push(`${dir}: ${(err as Error).message}`);
    return out;
  }
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      const text = await readFile(file, 'utf8');
      const docs = parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean) as V1Pod[];
      for (const pod of docs) {
        if (pod.kind !== 'Pod') throw new Error(`kind is "${pod.kind}", want Pod`);
        if (!pod.metadata?.name) throw new Error('metadata.name is required');
        if (!pod.spec?.containers?.length) throw new Error('spec.containers must not be empty');
        const uid = staticUid(nodeName, JSON.stringify(pod));
        pod.metadata = {
          ...pod.metadata,
          name: `${pod.metadata.name}-${nodeName}`,
          namespace: pod.metadata.namespace ?? 'default',
          uid,
          annotations: { ...(pod.metadata.annotations ?? {}), [ANNOTATION_CONFIG_SOURCE]: 'file', [ANNOTATION_CONFIG_HASH]: uid },
        };
        pod.spec = { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30, ...pod.spec, nodeName };
        out.pods.push(pod);
      }
    } catch (err) {
      out.errors.push(`${file}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The API object for a static pod: same spec, a mirror annotation, no uid (the API server assigns one). */
export function mirrorPod(pod: V1Pod): V1Pod {
  const { uid: _uid, resourceVersion: _rv, ...meta } = pod.metadata ?? {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { ...meta, annotations: { ...(meta.annotations ?? {}), [ANNOTATION_CONFIG_MIRROR]: pod.metadata?.uid ?? '' } },
    spec: pod.spec,
  };
}
