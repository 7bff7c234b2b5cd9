// Stable chain names, as upstream: base32(sha256(servicePortName + protocol [+ endpoint]))[:16].
// Names are cached because a 10k-service sync asks for the same names every time.
import { createHash } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

const cache = new Map<string, string>();

/** 16 base32 characters of sha256(input). */
export function hash16(input: string): string {
  let h = cache.get(input);
  if (h === undefined) {
    h = base32(createHash('sha256').update(input).digest(), 16);
    if (cache.size > 200_000) cache.clear();
    cache.set(input, h);
  }
  return h;
}

/** protocol is lower case in the hash input ("tcp"), as upstream does. */
export function portProtoHash(servicePortKey: string, protocol: string): string {
  return hash16(servicePortKey + protocol.toLowerCase());
}

export function serviceChain(key: string, protocol: string): string {
  return `KUBE-SVC-${portProtoHash(key, protocol)}`;
}
export function localServiceChain(key: string, protocol: string): string {
  return `KUBE-SVL-${portProtoHash(key, protocol)}`;
}
export function externalChain(key: string, protocol: string): string {
  return `KUBE-EXT-${portProtoHash(key, protocol)}`;
}
export function firewallChain(key: string, protocol: string): string {
  return `KUBE-FW-${portProtoHash(key, protocol)}`;
}
/** endpoint is "ip:port". */
export function endpointChain(key: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(key + protocol.toLowerCase() + endpoint)}`;
}
