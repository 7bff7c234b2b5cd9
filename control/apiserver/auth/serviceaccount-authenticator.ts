// `Authorization: Bearer <service-account JWT>`: verify the token, then make sure what it names still exists (the
// service account with the same uid, and a bound pod, secret or node), so deleting the account revokes its tokens.
// Signature checks are cached briefly per token; existence is re-checked on every request against the watch cache.
import type { IncomingMessage } from 'node:http';
import type { KubeObject } from '../storage/etcd-store.ts';
import type { Registry } from '../registry/rest.ts';
import type { Authenticator, UserInfo } from './authenticator.ts';
import type { VerificationKey } from './keys.ts';
import { serviceAccountUsername, type ServiceAccountClaims } from './token-signer.ts';
import { InvalidTokenError, verifyServiceAccountToken } from './token-verifier.ts';

/** Reads the objects a token may be bound to; the registry implements it, unit tests use a map. */
export interface BoundObjectGetter {
  get(resource: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
}

/** Watch cache first (cheap, current to the last event), then etcd for objects created a moment ago. */
export function registryGetter(registry: Registry): BoundObjectGetter {
  return {
    async get(resource, namespace, name) {
      const store = registry.mustGet('', resource);
      const cached = store.cache.get(store.key(namespace, name));
      if (cached) return cached.obj;
      try {
        return await store.get(namespace, name);
      } catch (err) {
        if ((err as { reason?: string }).reason === 'NotFound') return undefined;
        throw err;
      }
    },
  };
}

/** The token in an Authorization header, as upstream's bearertoken authenticator reads it (undefined if none). */
export function bearerToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const parts = h.trim().split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer' || !parts[1]) return undefined;
  return parts[1];
}

export interface ServiceAccountAuthenticatorOptions {
  keys: VerificationKey[];
  issuers: string[];
  /** The apiserver's audiences (--api-audiences; default: the issuers). */
  audiences: string[];
  getter: BoundObjectGetter;
  /** How long a verified signature is remembered (default 10 s); 0 disables. */
  cacheTtlMs?: number;
  now?: () => number;
}

const invalidated = 'service account token has been invalidated';

export class ServiceAccountAuthenticator implements Authenticator {
  private readonly o: ServiceAccountAuthenticatorOptions;
  private readonly verified = new Map<string, { claims: ServiceAccountClaims; until: number }>();

  constructor(o: ServiceAccountAuthenticatorOptions) {
    this.o = o;
  }

  async authenticate(req: Pick<IncomingMessage, 'headers'>): Promise<UserInfo | null> {
    const token = bearerToken(req);
    return token === undefined ? null : this.authenticateToken(token);
  }

  /** null when the token is not one of ours; throws InvalidTokenError when it is ours but not valid. */
  async authenticateToken(token: string, audiences = this.o.audiences): Promise<UserInfo | null> {
    const now = this.o.now?.() ?? Date.now();
    const claims = await this.claimsOf(token, now, audiences);
    if (!claims) return null;
    const k8s = claims['kubernetes.io'];
    const ns = k8s.namespace;
    const sa = await this.o.getter.get('serviceaccounts', ns, k8s.serviceaccount.name);
    if (!sa || sa.metadata?.uid !== k8s.serviceaccount.uid || sa.metadata?.deletionTimestamp) throw new InvalidTokenError(invalidated);
    for (const [resource, ref] of [['pods', k8s.pod], ['secrets', k8s.secret]] as const) {
      if (!ref) continue;
      const obj = await this.o.getter.get(resource, ns, ref.name);
      const deleting = obj?.metadata?.deletionTimestamp && Date.parse(obj.metadata.deletionTimestamp as string) <= now;
      if (!obj || obj.metadata?.uid !== ref.uid || deleting) throw new InvalidTokenError(invalidated);
    }
    // a node is checked only when it is what the token is bound to (pod-bound tokens name their node for information)
    if (k8s.node && !k8s.pod) {
      const node = await this.o.getter.get('nodes', undefined, k8s.node.name);
      if (!node || node.metadata?.uid !== k8s.node.uid) throw new InvalidTokenError(invalidated);
    }
    const extra: Record<string, string[]> = { 'authentication.kubernetes.io/credential-id': [`JTI=${claims.jti}`] };
    if (k8s.pod) { extra['authentication.kubernetes.io/pod-name'] = [k8s.pod.name]; extra['authentication.kubernetes.io/pod-uid'] = [k8s.pod.uid]; }
    if (k8s.node) { extra['authentication.kubernetes.io/node-name'] = [k8s.node.name]; extra['authentication.kubernetes.io/node-uid'] = [k8s.node.uid]; }
    return {
      name: serviceAccountUsername(ns, k8s.serviceaccount.name), uid: k8s.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'], extra,
    };
  }

  private async claimsOf(token: string, now: number, audiences: string[]): Promise<ServiceAccountClaims | undefined> {
    const ttl = this.o.cacheTtlMs ?? 10_000;
    const sameAudiences = audiences === this.o.audiences;
    const hit = sameAudiences ? this.verified.get(token) : undefined;
    if (hit && hit.until > now && hit.claims.exp * 1000 > now) return hit.claims;
    const claims = await verifyServiceAccountToken(token, { keys: this.o.keys, issuers: this.o.issuers, audiences, now });
    if (claims && ttl > 0 && sameAudiences) {
      if (this.verified.size >= 4096) this.verified.clear(); // bounded: a flood of distinct tokens cannot grow memory
      this.verified.set(token, { claims, until: now + ttl });
    }
    return claims;
  }
}
