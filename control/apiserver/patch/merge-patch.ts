// RFC 7386 JSON merge patch (application/merge-patch+json): objects merge recursively, null deletes,
// everything else (lists included) replaces.
import { errors } from '../../../api/errors.ts';
import { isObject, parseJsonBody, deepClone, getOwn, setOwn, type Json, type JsonObject } from './body.ts';

export function mergePatchValue(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return deepClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatchValue(getOwn(out, k), v));
  }
  return out;
}

export function applyMergePatch(current: object, body: Buffer): object {
  const patch = parseJsonBody(body, 'merge patch');
  if (!isObject(patch)) throw errors.badRequest('merge patch: the body must be a JSON object');
  return mergePatchValue(deepClone(current) as JsonObject, patch) as object;
}
