// PATCH bodies. The full implementation (strategic merge with every directive, server-side apply) lives in
// control/apiserver/patch/ once written; until then this keeps merge patch, JSON patch and a basic strategic merge.
import jsonpatch from 'fast-json-patch';
import { ApiError, errors } from '../../../api/errors.ts';
import { parseJson, parseYaml, mediaType } from './body.ts';

export interface PatchOptions { gvk: { group: string; version: string; kind: string }; fieldManager?: string; force?: boolean }
type ApplyPatch = (contentType: string, current: object | undefined, body: Buffer, opts: PatchOptions) => object;

export const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

const invalidPatch = (message: string) => new ApiError('Invalid', message);

let external: ApplyPatch | null | undefined;
async function loadExternal(): Promise<ApplyPatch | null> {
  if (external !== undefined) return external;
  const path = '../patch/index.ts';
  try {
    const mod = (await import(path)) as { applyPatch?: ApplyPatch };
    external = mod.applyPatch ?? null;
  } catch {
    external = null;
  }
  return external;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return patch;
  const out: Record<string, unknown> = isPlain(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// The merge keys kubectl relies on most; lists of objects carrying one of these merge by it.
const mergeKeys = ['name', 'containerPort', 'port', 'type', 'ip', 'mountPath', 'uid', 'devicePath', 'topologyKey'];

function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return patch;
  if (patch.$patch === 'replace') { const { $patch: _, ...rest } = patch; return rest; }
  if (patch.$patch === 'delete') return undefined;
  let out: Record<string, unknown> = isPlain(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    if (k.startsWith('$')) continue;
    if (v === null) { delete out[k]; continue; }
    const cur = out[k];
    if (Array.isArray(v) && Array.isArray(cur)) {
      const key = mergeKeys.find((mk) => v.every((e) => isPlain(e) && mk in e) && cur.every((e) => isPlain(e) && mk in e));
      if (key && v.length) {
        const result = cur.map((e) => ({ ...(e as object) })) as Record<string, unknown>[];
        for (const pe of v as Record<string, unknown>[]) {
          const idx = result.findIndex((e) => e[key] === pe[key]);
          if (pe.$patch === 'delete') { if (idx >= 0) result.splice(idx, 1); continue; }
          if (idx >= 0) result[idx] = strategicMerge(result[idx], pe) as Record<string, unknown>;
          else result.push(strategicMerge(undefined, pe) as Record<string, unknown>);
        }
        const order = patch[`$setElementOrder/${k}`];
        if (Array.isArray(order)) {
          const pos = (e: Record<string, unknown>) => { const i = order.findIndex((o) => isPlain(o) && o[key] === e[key]); return i < 0 ? order.length : i; };
          result.sort((a, b) => pos(a) - pos(b));
        }
        out[k] = result;
        continue;
      }
      out[k] = v.filter((e) => !(isPlain(e) && e.$patch === 'delete')).map((e) => strategicMerge(undefined, e));
      continue;
    }
    const merged = strategicMerge(cur, v);
    if (merged === undefined) delete out[k]; else out[k] = merged;
  }
  if (retain) out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  return out;
}

function minimalPatch(mt: string, current: object | undefined, body: Buffer): object {
  if (mt === 'application/json-patch+json') {
    const ops = parseJson(body);
    if (!Array.isArray(ops)) throw errors.badRequest('the JSON patch must be an array of operations');
    const err = jsonpatch.validate(ops as jsonpatch.Operation[], current ?? {});
    if (err) throw invalidPatch(`the JSON patch could not be applied: ${err.message.split('\n')[0]}`);
    try {
      return jsonpatch.applyPatch(structuredClone(current ?? {}), ops as jsonpatch.Operation[], true, false).newDocument as object;
    } catch (e) {
      throw invalidPatch(`the JSON patch could not be applied: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const patch = mt === 'application/apply-patch+yaml' ? parseYaml(body) : parseJson(body);
  if (!isPlain(patch)) throw errors.badRequest('the patch must be a JSON object');
  if (mt === 'application/merge-patch+json') return mergePatch(current ?? {}, patch) as object;
  return strategicMerge(current ?? {}, patch) as object;
}

/** Applies a PATCH body of any of the four types to current (undefined when the object does not exist yet). */
export async function applyPatchBody(contentType: string | undefined, current: object | undefined, body: Buffer | undefined, opts: PatchOptions): Promise<object> {
  const mt = mediaType(contentType);
  if (!patchTypes.includes(mt)) throw errors.unsupportedMediaType(contentType ?? '');
  if (!body || body.length === 0) throw errors.badRequest('the patch body is empty');
  if (mt === 'application/apply-patch+yaml' && !opts.fieldManager) {
    throw errors.badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  }
  const ext = await loadExternal();
  try {
    return ext ? ext(contentType ?? mt, current, body, opts) : minimalPatch(mt, current, body);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw errors.badRequest(`the patch could not be applied: ${(err as Error).message}`);
  }
}
