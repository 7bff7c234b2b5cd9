// A packet tracer for rendered payloads: a small model of iptables-restore --noflush (tables of chains of
// rules) and of the nat/filter walk a new connection takes. Tests use it to ask "where can this packet go,
// is it masqueraded, is it rejected" instead of comparing text. Pure: no kernel involved.
import { inCidr } from '../ip.ts';

export interface Rule {
  text: string;
  src?: { cidr: string; neg: boolean };
  dst?: { cidr: string; neg: boolean };
  proto?: string;
  dport?: number;
  srcTypeLocal?: boolean;
  dstTypeLocal?: boolean;
  mark?: { value: number; mask: number; neg: boolean };
  ctstate?: string[];
  probability?: number;
  recent?: { name: string; op: 'rcheck' | 'set'; seconds?: number };
  matchSet?: { name: string; flags: string[]; neg: boolean };
  target: string;
  toDestination?: string;
  orMark?: number;
  xorMark?: number;
}

export type Table = Map<string, Rule[]>;

export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

function parseMark(s: string): { value: number; mask: number } {
  const [v, m] = s.split('/');
  return { value: Number(v), mask: m === undefined ? 0xffffffff : Number(m) };
}

export function parseRule(args: string[], text: string): Rule {
  const rule: Rule = { text, target: '' };
  let neg = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = () => { const v = args[++i]; if (v === undefined) throw new Error(`"${a}" needs a value in: ${text}`); return v; };
    switch (a) {
      case '!': neg = true; continue;
      case '-s': rule.src = { cidr: next(), neg }; break;
      case '-d': rule.dst = { cidr: next(), neg }; break;
      case '-p': rule.proto = next(); break;
      case '--dport': rule.dport = Number(next()); break;
      case '-m': next(); break;
      case '--comment': next(); break;
      case '--src-type': rule.srcTypeLocal = next() === 'LOCAL'; break;
      case '--dst-type': rule.dstTypeLocal = next() === 'LOCAL'; break;
      case '--mark': rule.mark = { ...parseMark(next()), neg }; break;
      case '--ctstate': rule.ctstate = next().split(','); break;
      case '--mode': next(); break;
      case '--probability': rule.probability = Number(next()); break;
      case '--name': rule.recent = { name: next(), op: 'set' }; break;
      case '--rcheck': rule.recent!.op = 'rcheck'; break;
      case '--set': rule.recent!.op = 'set'; break;
      case '--seconds': rule.recent!.seconds = Number(next()); break;
      case '--reap': case '--random-fully': break;
      case '--match-set': rule.matchSet = { name: next(), flags: next().split(','), neg }; break;
      case '-j': rule.target = next(); break;
      case '--to-destination': rule.toDestination = next(); break;
      case '--or-mark': rule.orMark = Number(next()); break;
      case '--xor-mark': rule.xorMark = Number(next()); break;
      case '--reject-with': next(); break;
      default: throw new Error(`tracer does not understand "${a}" in: ${text}`);
    }
    neg = false;
  }
  if (!rule.target) throw new Error(`rule without -j: ${text}`);
  return rule;
}

const builtins: Record<string, string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};
const verdicts = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'DNAT', 'MASQUERADE', 'MARK', 'SNAT']);

/** Rules as iptables would hold them after a series of `iptables-restore --noflush` runs. */
export class RuleSet {
  readonly tables = new Map<string, Table>();
  /** ipsets by name: type and entries, as `ipset restore` would leave them. */
  readonly ipsets = new Map<string, { type: string; entries: Set<string> }>();

  /** Apply an `ipset restore` input (create, flush, add, swap, destroy). */
  restoreIpsets(input: string): void {
    for (const line of input.split('\n')) {
      const [op, name, arg] = line.trim().split(/\s+/);
      if (!op || !name) continue;
      const set = this.ipsets.get(name);
      if (op === 'create') { if (!set) this.ipsets.set(name, { type: arg!, entries: new Set() }); continue; }
      if (!set) throw new Error(`ipset ${op}: no set ${name}`);
      if (op === 'flush') set.entries.clear();
      else if (op === 'add') set.entries.add(arg!);
      else if (op === 'destroy') this.ipsets.delete(name);
      else if (op === 'swap') {
        const other = this.ipsets.get(arg!);
        if (!other) throw new Error(`ipset swap: no set ${arg}`);
        this.ipsets.set(name, other);
        this.ipsets.set(arg!, set);
      } else throw new Error(`ipset: unknown operation ${op}`);
    }
  }

  table(name: string): Table {
    let t = this.tables.get(name);
    if (!t) {
      t = new Map((builtins[name] ?? []).map((c) => [c, []]));
      this.tables.set(name, t);
    }
    return t;
  }

  /** Apply a payload the way iptables-restore --noflush does: atomically per table, failing on bad references. */
  restore(payload: string): void {
    let current: string | null = null;
    let staged: Table | null = null;
    const lines = payload.split('\n');
    lines.forEach((raw, index) => {
      const line = raw.trim();
      const where = `line ${index + 1}`;
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('*')) {
        current = line.slice(1);
        staged = new Map([...this.table(current)].map(([c, rules]) => [c, [...rules]]));
        return;
      }
      if (!staged || !current) throw new Error(`${where}: rule outside a table`);
      if (line === 'COMMIT') {
        for (const [chain, rules] of staged) {
          for (const r of rules) {
            if (!verdicts.has(r.target) && !staged.has(r.target)) throw new Error(`${where}: chain ${chain} jumps to missing chain ${r.target}`);
          }
        }
        this.tables.set(current, staged);
        staged = null;
        return;
      }
      if (line.startsWith(':')) {
        staged.set(line.slice(1).split(/\s+/)[0]!, []);
        return;
      }
      const tokens = tokenize(line);
      if (tokens[0] === '-X') {
        const name = tokens[1]!;
        if (!staged.has(name)) throw new Error(`${where}: -X of missing chain ${name}`);
        for (const [chain, rules] of staged) {
          if (rules.some((r) => r.target === name)) throw new Error(`${where}: -X ${name} still referenced from ${chain}`);
        }
        staged.delete(name);
        return;
      }
      if (tokens[0] === '-A') {
        const chain = tokens[1]!;
        const rules = staged.get(chain);
        if (!rules) throw new Error(`${where}: -A to missing chain ${chain}`);
        rules.push(parseRule(tokens.slice(2), line));
        return;
      }
      throw new Error(`${where}: cannot parse "${line}"`);
    });
    if (staged) throw new Error('payload ends without COMMIT');
  }

  chainNames(table: string): string[] {
    return [...this.table(table).keys()];
  }
}

export interface Packet {
  src: string;
  dst: string;
  dport: number;
  proto?: 'TCP' | 'UDP' | 'SCTP';
  /** The packet is sent by a process on this node (OUTPUT path) rather than arriving (PREROUTING). */
  fromNode?: boolean;
  /** Addresses of this node, for addrtype LOCAL. */
  nodeAddresses: string[];
}

/** ipvs: the real servers ("ip:port") of the virtual server at dst:dport, or null when there is none. */
export type IpvsLookup = (dst: string, dport: number, proto: string) => string[] | null;

export interface Outcome {
  /** DNAT destination "ip:port", or null when nat left the packet alone. */
  destination: string | null;
  /** REJECT / DROP from the filter table, or ACCEPT when nothing stopped it. */
  verdict: 'ACCEPT' | 'REJECT' | 'DROP';
  masquerade: boolean;
  /** The recent list (affinity) this path checked and its timeout, when it went through an affinity rule. */
  affinity?: { name: string; seconds: number };
  /** Recent lists this path adds the source to. */
  recentSet: string[];
  chains: string[];
  /** Share of new connections taking this path (statistic matches), affinity paths counted apart. */
  probability: number;
}

interface WalkState { prob: number; dst: string; dport: number; mark: number; destination: string | null; affinity?: { name: string; seconds: number }; recentSet: string[]; chains: string[]; terminal: string | null }

const isLocal = (ip: string, pkt: Packet) => ip.startsWith('127.') || pkt.nodeAddresses.includes(ip);

type Ipsets = RuleSet['ipsets'];

/** The element a packet presents to a set match with these flags (ip / proto:port per dimension). */
function setElement(type: string, flags: string[], pkt: Packet, s: WalkState): string {
  const proto = (pkt.proto ?? 'TCP').toLowerCase();
  if (type.startsWith('bitmap:port')) return flags[0] === 'dst' ? String(s.dport) : '?';
  return flags.map((f, i) => {
    if (i === 1) return f === 'dst' ? `${proto}:${s.dport}` : '?';
    return f === 'dst' ? s.dst : pkt.src;
  }).join(',');
}

function matches(rule: Rule, pkt: Packet, s: WalkState, sets: Ipsets): boolean {
  if (rule.matchSet) {
    const set = sets.get(rule.matchSet.name);
    if (!set) throw new Error(`match-set ${rule.matchSet.name}: no such ipset`);
    if (set.entries.has(setElement(set.type, rule.matchSet.flags, pkt, s)) === rule.matchSet.neg) return false;
  }
  if (rule.src && inCidr(pkt.src, rule.src.cidr) === rule.src.neg) return false;
  if (rule.dst && inCidr(s.dst, rule.dst.cidr) === rule.dst.neg) return false;
  if (rule.proto && rule.proto !== (pkt.proto ?? 'TCP').toLowerCase()) return false;
  if (rule.dport !== undefined && rule.dport !== s.dport) return false;
  if (rule.srcTypeLocal && !isLocal(pkt.src, pkt)) return false;
  if (rule.dstTypeLocal && !isLocal(s.dst, pkt)) return false;
  if (rule.mark && ((s.mark & rule.mark.mask) === rule.mark.value) === rule.mark.neg) return false;
  if (rule.ctstate && !rule.ctstate.includes('NEW')) return false;
  return true;
}

function clone(s: WalkState): WalkState {
  return { ...s, recentSet: [...s.recentSet], chains: [...s.chains] };
}

/** Walk `chain`, returning every state the packet can leave in (statistic and recent matches fork the walk). */
function walk(table: Table, chain: string, pkt: Packet, start: WalkState, sets: Ipsets, depth = 0): WalkState[] {
  if (depth > 32) throw new Error(`jump loop through ${chain}`);
  const rules = table.get(chain);
  if (!rules) throw new Error(`no chain ${chain}`);
  let live: WalkState[] = [clone(start)];
  live.forEach((s) => s.chains.push(chain));
  const done: WalkState[] = [];
  for (const rule of rules) {
    const next: WalkState[] = [];
    for (const s of live) {
      if (!matches(rule, pkt, s, sets)) { next.push(s); continue; }
      const forks = rule.probability !== undefined || rule.recent?.op === 'rcheck';
      const taken = clone(s);
      if (forks) {
        const notTaken = clone(s); // the "did not match" branch
        if (rule.probability !== undefined) { notTaken.prob *= 1 - rule.probability; taken.prob *= rule.probability; }
        next.push(notTaken);
      }
      if (rule.recent?.op === 'rcheck') taken.affinity = { name: rule.recent.name, seconds: rule.recent.seconds ?? 0 };
      if (rule.recent?.op === 'set') taken.recentSet.push(rule.recent.name);
      switch (rule.target) {
        case 'RETURN': done.push(taken); break;
        case 'MARK':
          if (rule.orMark !== undefined) taken.mark |= rule.orMark;
          if (rule.xorMark !== undefined) taken.mark ^= rule.xorMark;
          next.push(taken);
          break;
        case 'DNAT': {
          taken.destination = rule.toDestination ?? null;
          taken.terminal = 'DNAT';
          done.push(taken);
          break;
        }
        case 'ACCEPT': case 'DROP': case 'REJECT': case 'MASQUERADE': case 'SNAT':
          taken.terminal = rule.target; done.push(taken); break;
        default:
          for (const out of walk(table, rule.target, pkt, taken, sets, depth + 1)) (out.terminal ? done : next).push(out);
      }
    }
    live = next;
  }
  return [...done, ...live];
}

/**
 * Trace a new connection through nat (KUBE-SERVICES, as jumped to from PREROUTING or OUTPUT), then filter
 * (KUBE-SERVICES / KUBE-EXTERNAL-SERVICES as the jump rules place them), then nat KUBE-POSTROUTING.
 */
export function trace(rules: RuleSet, pkt: Packet, ipvs?: IpvsLookup): Outcome[] {
  const nat = rules.table('nat');
  const filter = rules.table('filter');
  const initial: WalkState = { prob: 1, dst: pkt.dst, dport: pkt.dport, mark: 0, destination: null, recentSet: [], chains: [], terminal: null };
  const natOut = nat.has('KUBE-SERVICES') ? walk(nat, 'KUBE-SERVICES', pkt, initial, rules.ipsets) : [initial];
  const outcomes: Outcome[] = [];
  // ipvs mode: no DNAT rules; the virtual server (on kube-ipvs0, so local input) picks the destination.
  const expanded: WalkState[] = [];
  for (const s of natOut) {
    const picks = ipvs && !s.destination ? ipvs(s.dst, s.dport, pkt.proto ?? 'TCP') : null;
    if (!picks || picks.length === 0) { expanded.push(s); continue; }
    for (const d of picks) expanded.push({ ...clone(s), destination: d, prob: s.prob / picks.length });
  }
  for (const s of expanded) {
    const after = clone(s);
    after.terminal = null;
    if (s.destination) {
      const [ip, port] = s.destination.split(':');
      after.dst = ip!;
      after.dport = Number(port);
    }
    const filterChains = pkt.fromNode ? ['KUBE-PROXY-FIREWALL', 'KUBE-SERVICES']
      : isLocal(after.dst, pkt) ? ['KUBE-PROXY-FIREWALL', 'KUBE-EXTERNAL-SERVICES'] : ['KUBE-PROXY-FIREWALL', 'KUBE-EXTERNAL-SERVICES', 'KUBE-SERVICES'];
    let verdict: Outcome['verdict'] = 'ACCEPT';
    for (const c of filterChains) {
      if (!filter.has(c)) continue;
      for (const f of walk(filter, c, pkt, after, rules.ipsets)) {
        if (f.terminal === 'REJECT' || f.terminal === 'DROP') verdict = f.terminal;
      }
    }
    let masquerade = false;
    if (nat.has('KUBE-POSTROUTING')) {
      masquerade = walk(nat, 'KUBE-POSTROUTING', { ...pkt }, after, rules.ipsets).some((p) => p.terminal === 'MASQUERADE');
    }
    outcomes.push({ probability: s.prob, destination: s.destination, verdict, masquerade, affinity: s.affinity, recentSet: s.recentSet, chains: s.chains });
  }
  return outcomes;
}

/** Endpoints ("ip:port") a packet can reach, ignoring rejected paths. */
export function reachable(outcomes: Outcome[]): string[] {
  return [...new Set(outcomes.filter((o) => o.verdict === 'ACCEPT' && o.destination).map((o) => o.destination!))].sort();
}

/** Share of new connections (no affinity entry yet) reaching each destination. */
export function shares(outcomes: Outcome[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of outcomes) {
    if (o.affinity || o.verdict !== 'ACCEPT' || !o.destination) continue;
    out.set(o.destination, (out.get(o.destination) ?? 0) + o.probability);
  }
  return out;
}
