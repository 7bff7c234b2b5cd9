// Turns a URL path into what the request is about (upstream RequestInfoFactory): API group/version, namespace,
// resource, name, subresource and verb. Paths that are not resource paths come back with resource undefined.
export interface RequestInfo {
  apiPrefix: 'api' | 'apis';
  group: string;
  version: string;
  namespace?: string;
  resource?: string;
  name?: string;
  subresource?: string;
  /** Old-style /watch/ path prefix. */
  watchPath: boolean;
  parts: string[];
}

const namespaceSubresources = new Set(['status', 'finalize']);

/** Parses /api/v1/... or /apis/<g>/<v>/...; returns undefined for other paths or paths too short to name a GV. */
export function parseResourcePath(path: string): RequestInfo | undefined {
  let raw = path.split('/').filter((p, i) => i > 0 || p !== '');
  if (raw.length && raw[raw.length - 1] === '') raw = raw.slice(0, -1);
  let parts: string[];
  try {
    parts = raw.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  if (parts[0] === 'api') {
    if (parts.length < 2) return undefined;
    return fill({ apiPrefix: 'api', group: '', version: parts[1]!, watchPath: false, parts }, parts.slice(2));
  }
  if (parts[0] === 'apis') {
    if (parts.length < 3) return undefined;
    return fill({ apiPrefix: 'apis', group: parts[1]!, version: parts[2]!, watchPath: false, parts }, parts.slice(3));
  }
  return undefined;
}

function fill(info: RequestInfo, rest: string[]): RequestInfo {
  if (rest[0] === 'watch') { info.watchPath = true; rest = rest.slice(1); }
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1];
    if (rest.length > 2 && !namespaceSubresources.has(rest[2]!)) rest = rest.slice(2);
    else { info.resource = 'namespaces'; info.name = rest[1]; info.namespace = undefined; info.subresource = rest[2]; if (rest.length > 3) info.resource = undefined; return info; }
  }
  info.resource = rest[0];
  info.name = rest[1];
  info.subresource = rest[2];
  if (rest.length > 3) info.subresource = rest.slice(2).join('/');
  return info;
}
