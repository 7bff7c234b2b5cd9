// Checks a service-account JWT the way upstream's authenticator does (pkg/serviceaccount/jwt.go): a token whose
// issuer is not ours is "not mine" (undefined, so another authenticator may take it); one that claims our issuer
// must carry a valid signature from one of our keys, an audience we accept, and a live exp/nbf window.
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { VerificationKey } from './keys.ts';
import type { ServiceAccountClaims } from './token-signer.ts';

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

export interface VerifyOptions {
  keys: VerificationKey[];
  /** Accepted issuers (the first signs). */
  issuers: string[];
  /** The apiserver's audiences: a token must name at least one. */
  audiences: string[];
  /** Milliseconds since the epoch; defaults to now. */
  now?: number;
}

/** go-jose's default leeway, which upstream's claim validation uses for exp and nbf. */
const leewaySeconds = 60;

function hasShape(p: Record<string, unknown>): p is ServiceAccountClaims & Record<string, unknown> {
  const k = p['kubernetes.io'] as Record<string, unknown> | undefined;
  const sa = k?.serviceaccount as Record<string, unknown> | undefined;
  return typeof p.sub === 'string' && typeof k?.namespace === 'string' && typeof sa?.name === 'string' && typeof sa?.uid === 'string';
}

/** Returns the verified claims, undefined when the token is not a JWT from one of our issuers, or throws InvalidTokenError. */
export async function verifyServiceAccountToken(token: string, o: VerifyOptions): Promise<ServiceAccountClaims | undefined> {
  let unverified: Record<string, unknown>;
  let kid: string | undefined;
  try {
    unverified = decodeJwt(token) as Record<string, unknown>;
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return undefined; // not a JWT at all: some other token authenticator's business
  }
  if (typeof unverified.iss !== 'string' || !o.issuers.includes(unverified.iss)) return undefined;
  // keys with the token's kid first; a token without a known kid is tried against every key, as upstream does
  const candidates = [...o.keys.filter((k) => k.kid === kid), ...o.keys.filter((k) => k.kid !== kid)];
  const currentDate = o.now === undefined ? undefined : new Date(o.now);
  let lastError = 'no verification keys configured';
  for (const k of candidates) {
    try {
      const { payload } = await jwtVerify(token, k.key, {
        algorithms: [k.alg], issuer: o.issuers, audience: o.audiences, clockTolerance: leewaySeconds, currentDate, requiredClaims: ['exp'],
      });
      const p = payload as Record<string, unknown>;
      if (!hasShape(p)) throw new InvalidTokenError('service account token lacks the kubernetes.io namespace and serviceaccount claims');
      const k8s = p['kubernetes.io'];
      if (p.sub !== `system:serviceaccount:${k8s.namespace}:${k8s.serviceaccount.name}`) throw new InvalidTokenError('service account token subject does not match its kubernetes.io claim');
      return p;
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JOSEAlgNotAllowed) { lastError = 'invalid signature'; continue; }
      if (err instanceof joseErrors.JWTExpired) throw new InvalidTokenError('service account token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === 'aud') throw new InvalidTokenError(`token audiences ${JSON.stringify(unverified.aud)} is invalid for the target audiences ${JSON.stringify(o.audiences)}`);
        if (err.claim === 'nbf' || err.claim === 'iat') throw new InvalidTokenError('service account token is not valid yet');
        throw new InvalidTokenError(`service account token claim "${err.claim}" is invalid: ${err.message}`);
      }
      lastError = (err as Error).message;
    }
  }
  throw new InvalidTokenError(`service account token could not be verified: ${lastError}`);
}
