// Service-account signing and verification keys, as upstream's flags take them: a PEM private key (RSA or EC,
// PKCS#1, SEC1 or PKCS#8) to sign with, and PEM files holding public keys, certificates or private keys to verify
// with. Each key gets upstream's key id (base64url SHA-256 of the PKIX public key), which goes in the JWT "kid".
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

export type JwtAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512';

export interface SigningKey { key: KeyObject; alg: JwtAlgorithm; kid: string }
export interface VerificationKey { key: KeyObject; alg: JwtAlgorithm; kid: string }

const curveAlg: Record<string, JwtAlgorithm> = { 'prime256v1': 'ES256', 'P-256': 'ES256', 'secp384r1': 'ES384', 'P-384': 'ES384', 'secp521r1': 'ES512', 'P-521': 'ES512' };

/** The JWS algorithm upstream uses for a key: RS256 for RSA, ES256/384/512 by EC curve. */
export function algorithmOf(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = curveAlg[curve];
    if (alg) return alg;
    throw new Error(`unsupported EC curve "${curve}" for service account tokens: want P-256, P-384 or P-521`);
  }
  throw new Error(`unsupported key type "${key.asymmetricKeyType}" for service account tokens: want RSA or EC`);
}

/** base64url(SHA-256(PKIX DER of the public key)), as upstream's keyIDFromPublicKey. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Parses the one private key in a PEM text (file name only for error messages). */
export function parseSigningKey(pem: string | Buffer, source = 'signing key'): SigningKey {
  const text = pem.toString();
  const blocks = [...text.matchAll(pemBlock)].filter((m) => /PRIVATE KEY/.test(m[1]!));
  if (blocks.length === 0) throw new Error(`${source}: no PEM private key found`);
  let key: KeyObject;
  try {
    key = createPrivateKey(blocks[0]![0]);
  } catch (err) {
    throw new Error(`${source}: cannot read the private key: ${(err as Error).message}`);
  }
  const alg = algorithmOf(key);
  return { key, alg, kid: keyIdOf(createPublicKey(key)) };
}

/** Every public key in a PEM text: PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE and private key blocks (their public half). */
export function parseVerificationKeys(pem: string | Buffer, source = 'key file'): VerificationKey[] {
  const text = pem.toString();
  const out: VerificationKey[] = [];
  for (const m of text.matchAll(pemBlock)) {
    const label = m[1]!;
    if (!/PUBLIC KEY|PRIVATE KEY|CERTIFICATE/.test(label) || /ENCRYPTED/.test(label)) continue;
    let key: KeyObject;
    try {
      key = createPublicKey(m[0]);
    } catch (err) {
      throw new Error(`${source}: cannot read the ${label}: ${(err as Error).message}`);
    }
    out.push({ key, alg: algorithmOf(key), kid: keyIdOf(key) });
  }
  if (out.length === 0) throw new Error(`${source}: no PEM public key, certificate or private key found`);
  return out;
}

/** The verification half of a signing key (a server that signs also accepts its own tokens). */
export function verificationKeyOf(k: SigningKey): VerificationKey {
  const key = createPublicKey(k.key);
  return { key, alg: k.alg, kid: k.kid };
}
