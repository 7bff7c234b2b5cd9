// Node pressure: the eviction signals upstream's kubelet watches (memory.available, nodefs.available,
// nodefs.inodesFree, pid.available), read from the host and compared with the hard eviction thresholds
// (KubeletConfiguration evictionHard; upstream's defaults). A signal under its threshold turns the node's
// MemoryPressure, DiskPressure or PIDPressure condition True. Evicting pods is not done here (yet).
import { readFile, statfs } from 'node:fs/promises';
import { toBytes } from '../../api/quantity.ts';

export type Signal = 'memory.available' | 'nodefs.available' | 'nodefs.inodesFree' | 'pid.available';
const SIGNALS: Signal[] = ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'pid.available'];

/** A hard threshold: an absolute amount (bytes, inodes, PIDs) or a fraction of the capacity. */
export type Threshold = { quantity: number } | { fraction: number };

/** Upstream's evictionHard defaults (pid.available has none upstream; it is set here so PIDPressure means something). */
export const DEFAULT_EVICTION_HARD: Record<Signal, string> = {
  'memory.available': '100Mi', 'nodefs.available': '10%', 'nodefs.inodesFree': '5%', 'pid.available': '5%',
};

/** One measurement: how much is available out of how much there is. */
export interface Measure { available: number; capacity: number }
export type Signals = Record<Signal, Measure>;

/** evictionHard ({"memory.available": "100Mi", "nodefs.available": "10%"}) to thresholds; a bad entry names itself. */
export function parseEvictionHard(spec: Record<string, unknown>, field = 'evictionHard'): Partial<Record<Signal, Threshold>> {
  const out: Partial<Record<Signal, Threshold>> = {};
  for (const [name, raw] of Object.entries(spec)) {
    if (!SIGNALS.includes(name as Signal)) throw new Error(`${field}: unknown signal "${name}" (known: ${SIGNALS.join(', ')})`);
    const value = String(raw).trim();
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
    if (pct) {
      const fraction = Number(pct[1]) / 100;
      if (fraction > 1) throw new Error(`${field}: ${name}: "${value}" is over 100%`);
      out[name as Signal] = { fraction };
      continue;
    }
    try {
      out[name as Signal] = { quantity: toBytes(value) };
    } catch {
      throw new Error(`${field}: ${name}: "${value}" is neither a quantity (100Mi) nor a percentage (10%)`);
    }
  }
  return out;
}

function isUnder(m: Measure, t: Threshold): boolean {
  const limit = 'fraction' in t ? t.fraction * m.capacity : t.quantity;
  return m.available < limit;
}

export interface Pressure { memory: boolean; disk: boolean; pid: boolean }

/** Which conditions the signals put under pressure. */
export function pressureOf(signals: Signals, thresholds: Partial<Record<Signal, Threshold>>): Pressure {
  const under = (s: Signal) => thresholds[s] !== undefined && isUnder(signals[s], thresholds[s]!);
  return {
    memory: under('memory.available'),
    disk: under('nodefs.available') || under('nodefs.inodesFree'),
    pid: under('pid.available'),
  };
}

/** /proc/meminfo's MemAvailable and MemTotal, in bytes. */
export function parseMeminfo(text: string): Measure {
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/meminfo: no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { available: kib('MemAvailable'), capacity: kib('MemTotal') };
}

/** PIDs left: pid_max less the tasks that exist (the fourth field of /proc/loadavg counts them: "running/total"). */
export function parsePids(loadavg: string, pidMax: string): Measure {
  const m = /^\S+ \S+ \S+ \d+\/(\d+) /.exec(loadavg);
  const max = Number(pidMax.trim());
  if (!m || !Number.isFinite(max) || max <= 0) throw new Error(`cannot read the number of tasks from /proc/loadavg "${loadavg.trim()}"`);
  return { available: max - Number(m[1]), capacity: max };
}

/** Reads every signal from this host; nodefs is the filesystem holding the kubelet's root dir. */
export async function readSignals(rootDir: string): Promise<Signals> {
  const [meminfo, loadavg, pidMax, fs] = await Promise.all([
    readFile('/proc/meminfo', 'utf8'), readFile('/proc/loadavg', 'utf8'), readFile('/proc/sys/kernel/pid_max', 'utf8'), statfs(rootDir),
  ]);
  return {
    'memory.available': parseMeminfo(meminfo),
    'nodefs.available': { available: fs.bavail * fs.bsize, capacity: fs.blocks * fs.bsize },
    'nodefs.inodesFree': { available: fs.ffree, capacity: fs.files },
    'pid.available': parsePids(loadavg, pidMax),
  };
}
