// serviceaccounts/token (authentication.k8s.io/v1 TokenRequest, `kubectl create token`, the kubelet's projected
// tokens): checks the request as upstream does (pkg/registry/core/serviceaccount/storage/token.go), resolves the
// bound object, and signs a JWT for the service account.
import { cause, errors } from '../../../api/errors.ts';
import type { ObjectRef, TokenSigner } from '../auth/token-signer.ts';
import { checkDecode } from '../http/schema.ts';
import { isObject } from './common.ts';
import type { Registry } from './rest.ts';
import type { Obj } from './types.ts';

const group = 'authentication.k8s.io';
/** ValidateTokenRequest's bounds. */
export const minTokenSeconds = 600;
export const maxTokenSeconds = 2 ** 32;
export const defaultTokenSeconds = 3600;

export interface TokenRequestOptions {
  signer: TokenSigner;
  /** Default audiences when the request names none (the apiserver's --api-audiences). */
  apiAudiences: string[];
  /** --service-account-max-token-expiration in seconds (0/undefined: no cap). */
  maxExpirationSeconds?: number;
  now?: () => number;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function checkBody(body: unknown, namespace: string, name: string): Obj {
  if (!isObject(body)) throw errors.badRequest('the body of the request must be a TokenRequest object');
  if (body.kind !== undefined && body.kind !== 'TokenRequest') throw errors.badRequest(`the kind "${String(body.kind)}" of the object does not match the kind of the request "TokenRequest"`);
  if (body.apiVersion !== undefined && body.apiVersion !== `${group}/v1`) throw errors.badRequest(`the apiVersion "${String(body.apiVersion)}" of the object does not match the request "${group}/v1"`);
  const probs = checkDecode(body, 'AuthenticationV1TokenRequest', 'TokenRequest');
  if (probs.typeError) throw errors.badRequest(`TokenRequest in version "v1" cannot be handled as a TokenRequest: ${probs.typeError}`);
  const md = isObject(body.metadata) ? body.metadata : {};
  if (md.name && md.name !== name) throw errors.invalid('TokenRequest', name, [cause.invalid('metadata.name', md.name, 'must match the service account name if specified')], group);
  if (md.namespace && md.namespace !== namespace) throw errors.invalid('TokenRequest', name, [cause.invalid('metadata.namespace', md.namespace, 'must match the service account namespace if specified')], group);
  return body;
}

/** Defaults and validates spec in place; returns warnings (a capped expiry). */
export function prepareTokenRequestSpec(spec: Obj, o: Pick<TokenRequestOptions, 'apiAudiences' | 'maxExpirationSeconds'>): string[] {
  const warnings: string[] = [];
  if (!Array.isArray(spec.audiences) || spec.audiences.length === 0) spec.audiences = [...o.apiAudiences];
  if (spec.expirationSeconds === undefined || spec.expirationSeconds === null) spec.expirationSeconds = defaultTokenSeconds;
  const exp = spec.expirationSeconds;
  const causes = [];
  if (!Number.isInteger(exp) || exp < minTokenSeconds) causes.push(cause.invalid('spec.expirationSeconds', exp, 'may not specify a duration less than 10 minutes'));
  else if (exp > maxTokenSeconds) causes.push(cause.invalid('spec.expirationSeconds', exp, 'may not specify a duration larger than 2^32 seconds'));
  for (const [i, a] of spec.audiences.entries()) if (typeof a !== 'string' || !a) causes.push(cause.invalid(`spec.audiences[${i}]`, a, 'must be a non-empty string'));
  if (causes.length) throw errors.invalid('TokenRequest', '', causes, group);
  if (o.maxExpirationSeconds && exp > o.maxExpirationSeconds) {
    warnings.push(`requested expiration of ${exp} seconds shortened to ${o.maxExpirationSeconds} seconds`);
    spec.expirationSeconds = o.maxExpirationSeconds;
  }
  return warnings;
}

interface Bound { pod?: ObjectRef; secret?: ObjectRef; node?: ObjectRef }

/** Resolves spec.boundObjectRef (Pod, Secret or Node in the core group) to name+uid, as upstream binds tokens. */
async function resolveBound(registry: Registry, namespace: string, saName: string, ref: Obj): Promise<Bound> {
  const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
  const refGroup = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  const version = apiVersion.includes('/') ? apiVersion.split('/')[1]! : apiVersion;
  const kind = typeof ref.kind === 'string' ? ref.kind : '';
  const name = typeof ref.name === 'string' ? ref.name : '';
  if (refGroup !== '' || !['Pod', 'Secret', 'Node'].includes(kind)) throw errors.badRequest(`cannot bind token to object of type ${refGroup}/${version}, Kind=${kind}`);
  if (!name) throw errors.invalid('TokenRequest', '', [cause.required('spec.boundObjectRef.name')], group);
  const out: Bound = {};
  let uid: string;
  if (kind === 'Pod') {
    const pod = await registry.mustGet('', 'pods').get(namespace, name) as Obj;
    if ((pod.spec?.serviceAccountName ?? 'default') !== saName) {
      throw errors.badRequest(`cannot bind token for serviceaccount "${saName}" to pod running with different serviceaccount name.`);
    }
    uid = pod.metadata.uid;
    out.pod = { name, uid };
    const nodeName = pod.spec?.nodeName;
    if (typeof nodeName === 'string' && nodeName) {
      const node = registry.mustGet('', 'nodes');
      const item = node.cache.get(node.key(undefined, nodeName));
      if (item) out.node = { name: nodeName, uid: (item.obj as Obj).metadata.uid };
    }
  } else if (kind === 'Secret') {
    const secret = await registry.mustGet('', 'secrets').get(namespace, name) as Obj;
    uid = secret.metadata.uid;
    out.secret = { name, uid };
  } else {
    const node = await registry.mustGet('', 'nodes').get(undefined, name) as Obj;
    uid = node.metadata.uid;
    out.node = { name, uid };
  }
  if (typeof ref.uid === 'string' && ref.uid && ref.uid !== uid) {
    throw errors.conflict(kind, name, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  return out;
}

/** Answers POST .../serviceaccounts/{name}/token with the TokenRequest carrying status.token. */
export async function createTokenRequest(registry: Registry, o: TokenRequestOptions, namespace: string, name: string, raw: unknown): Promise<{ body: Obj; warnings: string[] }> {
  const body = checkBody(raw, namespace, name);
  const spec: Obj = isObject(body.spec) ? { ...body.spec } : {};
  const warnings = prepareTokenRequestSpec(spec, o);
  const sa = await registry.mustGet('', 'serviceaccounts').get(namespace, name) as Obj;
  const bound = isObject(spec.boundObjectRef) ? await resolveBound(registry, namespace, name, spec.boundObjectRef) : {};
  const now = o.now?.() ?? Date.now();
  const { token, expiresAt } = await o.signer.sign({
    namespace, serviceAccount: { name, uid: sa.metadata.uid }, audiences: spec.audiences, expirationSeconds: spec.expirationSeconds, ...bound, now,
  });
  return {
    body: {
      kind: 'TokenRequest', apiVersion: `${group}/v1`,
      metadata: { name, namespace, creationTimestamp: rfc3339(now) },
      spec, status: { token, expirationTimestamp: rfc3339(expiresAt.getTime()) },
    },
    warnings,
  };
}
