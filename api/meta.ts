// Object metadata helpers shared by the apiserver and controllers: names, uids, timestamps, ages.
import { randomUUID, randomInt } from 'node:crypto';

export function newUid(): string {
  return randomUUID();
}

/** RFC 3339 with second precision, as metav1.Time serialises ("2024-05-01T10:00:00Z"). */
export function rfc3339(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** RFC 3339 with microseconds, as metav1.MicroTime serialises. */
export function rfc3339Micro(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

// Upstream's name generator alphabet: no vowels (no words) and no confusable characters.
const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
export function randomSuffix(length = 5): string {
  let s = '';
  for (let i = 0; i < length; i++) s += suffixAlphabet[randomInt(suffixAlphabet.length)];
  return s;
}

/** generateName + random suffix, truncating the base so the result fits 63 characters. */
export function generateName(base: string): string {
  return base.slice(0, 58) + randomSuffix(5);
}

/** Human-readable age like kubectl prints it (k8s.io/apimachinery duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

/** Age of an object from its creationTimestamp, "<unknown>" when absent. */
export function age(timestamp: string | undefined, now: number = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

/** The etcd-style key of an object: namespace/name or just name. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
