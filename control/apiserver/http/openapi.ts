// A minimal OpenAPI v3: per group-version, every resource's PATCH operation declares the fieldValidation query
// parameter with its group-version-kind. That is what kubectl's --validate=strict probes for (wire doc §2).
import { createHash } from 'node:crypto';
import type { Strategy } from '../registry/types.ts';
import { groupsOf } from './discovery.ts';

export interface OpenApi { root: object; docs: Map<string, string> }

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function buildOpenApi(strategies: Strategy[]): OpenApi {
  const docs = new Map<string, string>();
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, list] of groupsOf(strategies)) {
    const version = list[0]!.version;
    const gvp = gvPath(group, version);
    const docPaths: Record<string, unknown> = {};
    for (const s of list) {
      const base = `/${gvp}/${s.namespaced ? 'namespaces/{namespace}/' : ''}${s.resource}/{name}`;
      const gvk = { group, version, kind: s.kind };
      const patch = {
        'x-kubernetes-group-version-kind': gvk,
        'x-kubernetes-action': 'patch',
        operationId: `patch${s.kind}`,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
        ],
        responses: { 200: { description: 'OK' }, 201: { description: 'Created' } },
      };
      docPaths[base] = { patch };
      if (s.hasStatus) docPaths[`${base}/status`] = { patch: { ...patch, operationId: `patch${s.kind}Status` } };
    }
    const doc = JSON.stringify({ openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: docPaths, components: { schemas: {} } });
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 128).toUpperCase();
    docs.set(gvp, doc);
    paths[gvp] = { serverRelativeURL: `/openapi/v3/${gvp}?hash=${hash}` };
  }
  return { root: { paths }, docs };
}
