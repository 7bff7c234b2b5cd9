// Which resources exist, from API discovery (/api, /apis and each group version), so the collector can monitor every
// resource that can own or be owned and turn an ownerReference's apiVersion/kind into a URL path.
import type { V1APIGroupList, V1APIResourceList, V1APIVersions } from '@kubernetes/client-node';
import type { RestClient, ResourceRef } from '../../../client/rest.ts';
import { groupOf } from './graph.ts';

export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural: "replicasets". */
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** The group's preferred version (the one to watch). */
  preferred: boolean;
}

/** Upstream's default --garbage-collector ignored resources: events are never owners worth a watch. */
export const DEFAULT_IGNORED = new Set(['/events', 'events.k8s.io/events']);

export function refOf(info: ResourceInfo): ResourceRef {
  return info.group ? { group: info.group, version: info.version, resource: info.resource } : { version: info.version, resource: info.resource };
}

export function apiVersionOfInfo(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

export class RestMapper {
  readonly resources: readonly ResourceInfo[];

  constructor(resources: ResourceInfo[]) {
    this.resources = resources;
  }

  /** The resource for an ownerReference's apiVersion and kind: same group and kind, the named version if served. */
  forKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    if (!apiVersion || !kind) return undefined;
    const group = groupOf(apiVersion);
    const version = apiVersion.slice(group ? group.length + 1 : 0);
    const matches = this.resources.filter((r) => r.group === group && r.kind === kind);
    return matches.find((r) => r.version === version) ?? matches.find((r) => r.preferred) ?? matches[0];
  }

  /** What the collector watches: preferred versions that can be listed, watched and deleted, minus ignored ones. */
  monitorable(ignored: ReadonlySet<string> = DEFAULT_IGNORED): ResourceInfo[] {
    return this.resources.filter((r) => r.preferred && ['list', 'watch', 'delete'].every((v) => r.verbs.includes(v))
      && !ignored.has(`${r.group}/${r.resource}`));
  }
}

/** Read legacy discovery: every group version's resources (subresources left out). */
export async function discover(client: RestClient, signal?: AbortSignal): Promise<RestMapper> {
  const out: ResourceInfo[] = [];
  const read = async (path: string, group: string, version: string, preferred: boolean) => {
    const list = await client.request<V1APIResourceList>({ method: 'GET', path, signal });
    for (const r of list?.resources ?? []) {
      if (!r.name || r.name.includes('/') || !r.kind) continue;
      out.push({ group, version, resource: r.name, kind: r.kind, namespaced: Boolean(r.namespaced), verbs: r.verbs ?? [], preferred });
    }
  };
  const core = await client.request<V1APIVersions>({ method: 'GET', path: '/api', signal });
  for (const [i, v] of (core?.versions ?? []).entries()) await read(`/api/${v}`, '', v, i === 0);
  const groups = await client.request<V1APIGroupList>({ method: 'GET', path: '/apis', signal });
  for (const g of groups?.groups ?? []) {
    const preferred = g.preferredVersion?.version ?? g.versions?.[0]?.version;
    for (const v of g.versions ?? []) await read(`/apis/${g.name}/${v.version}`, g.name, v.version, v.version === preferred);
  }
  return new RestMapper(out);
}
