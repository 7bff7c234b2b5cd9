// Applying rendered payloads with the real iptables: pick the backend (nft or legacy) once and never mix,
// ensure the jump rules from the built-in chains (-C, else -I), load each payload with one
// `iptables-restore --noflush`, and on failure report the payload lines around the one iptables names.
import type { Executor } from '../exec.ts';
import { jumpRules, missingJumps } from './render.ts';

export type IptablesVariant = 'nft' | 'legacy';

export class IptablesRestoreError extends Error {
  readonly line: number | null;
  readonly context: string;
  constructor(message: string, line: number | null, context: string) {
    super(context ? `${message}\n${context}` : message);
    this.name = 'IptablesRestoreError';
    this.line = line;
    this.context = context;
  }
}

function countRules(save: string): { rules: number; kube: boolean } {
  let rules = 0;
  let kube = false;
  for (const line of save.split('\n')) {
    if (line.startsWith('-A ')) rules++;
    if (line.startsWith(':KUBE-')) kube = true;
  }
  return { rules, kube };
}

/**
 * Which iptables backend holds the rules here: the one that already has KUBE- chains, else the one with
 * more rules, else the default `iptables` points at (as upstream's iptables-wrapper decides).
 */
export async function detectVariant(exec: Executor): Promise<IptablesVariant> {
  const [legacy, nft] = await Promise.all([
    exec.run('iptables-legacy-save', []), exec.run('iptables-nft-save', []),
  ]);
  const l = legacy.exitCode === 0 ? countRules(legacy.stdout) : { rules: -1, kube: false };
  const n = nft.exitCode === 0 ? countRules(nft.stdout) : { rules: -1, kube: false };
  if (l.kube !== n.kube) return l.kube ? 'legacy' : 'nft';
  if (l.rules !== n.rules && (l.rules > 0 || n.rules > 0)) return l.rules > n.rules ? 'legacy' : 'nft';
  const v = await exec.run('iptables', ['--version']);
  return /legacy/.test(v.stdout) ? 'legacy' : 'nft';
}

export function binaries(variant: IptablesVariant): { iptables: string; restore: string; save: string } {
  return { iptables: `iptables-${variant}`, restore: `iptables-${variant}-restore`, save: `iptables-${variant}-save` };
}

/** The failing line number iptables-restore names in its error output, if any. */
export function failedLine(stderr: string): number | null {
  const m = /line:? (\d+)/i.exec(stderr);
  return m ? Number(m[1]) : null;
}

/** Up to `around` lines either side of `line` (1-based), numbered, the failing one marked. */
export function linesAround(payload: string, line: number, around = 3): string {
  const lines = payload.split('\n');
  const from = Math.max(1, line - around);
  const to = Math.min(lines.length, line + around);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${i === line ? '>' : ' '}${String(i).padStart(6)}: ${lines[i - 1]}`);
  return out.join('\n');
}

export class IptablesApplier {
  readonly exec: Executor;
  readonly variant: IptablesVariant;
  readonly lockWaitSeconds: number;

  constructor(exec: Executor, variant: IptablesVariant, lockWaitSeconds = 5) {
    this.exec = exec;
    this.variant = variant;
    this.lockWaitSeconds = lockWaitSeconds;
  }

  /** Create our top-level chains if needed and make sure the built-in chains jump to them. */
  async ensureJumps(): Promise<void> {
    const bin = binaries(this.variant).iptables;
    const w = ['-w', String(this.lockWaitSeconds)];
    const made = new Set<string>();
    for (const j of jumpRules) {
      const target = j.args[j.args.length - 1]!;
      if (!made.has(`${j.table}/${target}`)) {
        made.add(`${j.table}/${target}`);
        const n = await this.exec.run(bin, [...w, '-t', j.table, '-N', target]);
        if (n.exitCode !== 0 && !/exists/i.test(n.stderr)) throw new Error(`${bin} -t ${j.table} -N ${target}: ${n.stderr.trim()}`);
      }
      const c = await this.exec.run(bin, [...w, '-t', j.table, '-C', j.chain, ...j.args]);
      if (c.exitCode === 0) continue;
      const i = await this.exec.run(bin, [...w, '-t', j.table, '-I', j.chain, ...j.args]);
      if (i.exitCode !== 0) throw new Error(`${bin} -t ${j.table} -I ${j.chain}: ${i.stderr.trim()}`);
    }
  }

  /** Load one payload atomically; on failure throw with the payload lines around the failing one. */
  async restore(payload: string): Promise<void> {
    const bin = binaries(this.variant).restore;
    const r = await this.exec.run(bin, ['-w', String(this.lockWaitSeconds), '--noflush', '--counters'], payload);
    if (r.exitCode === 0) return;
    const line = failedLine(r.stderr);
    throw new IptablesRestoreError(`${bin} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, line,
      line === null ? '' : linesAround(payload, line));
  }

  /** iptables-save of one table (nat holds the per-service chains; nat + filter hold every jump rule). */
  async save(table: 'nat' | 'filter'): Promise<string> {
    const bin = binaries(this.variant).save;
    const r = await this.exec.run(bin, ['-t', table]);
    if (r.exitCode !== 0) throw new Error(`${bin} -t ${table}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * The rules of the built-in chains our jumps live in, as save-format text. `iptables -S <chain>` reads one
   * chain: instant even at 10k services with nf_tables, where `-C` or a save takes seconds.
   */
  async builtinRules(): Promise<string> {
    const bin = binaries(this.variant).iptables;
    const out: string[] = [];
    const byTable = new Map<string, Set<string>>();
    for (const j of jumpRules) {
      if (!byTable.has(j.table)) byTable.set(j.table, new Set());
      byTable.get(j.table)!.add(j.chain);
    }
    // Reads only: run them side by side.
    const tables = [...byTable].map(async ([table, builtins]) => {
      const listings = await Promise.all([...builtins].map(async (chain) => {
        const r = await this.exec.run(bin, ['-w', String(this.lockWaitSeconds), '-t', table, '-S', chain]);
        if (r.exitCode !== 0) throw new Error(`${bin} -t ${table} -S ${chain}: ${r.stderr.trim()}`);
        return r.stdout.trimEnd();
      }));
      return [`*${table}`, ...listings, 'COMMIT'];
    });
    for (const lines of await Promise.all(tables)) out.push(...lines);
    return out.join('\n') + '\n';
  }

  /** True when every jump rule is in place. */
  async jumpsInPlace(): Promise<boolean> {
    return missingJumps(await this.builtinRules()).length === 0;
  }
}

/** Per-service nat chains in an iptables-save text (after a restart or a failure the model may not know them). */
export function serviceChainsIn(saved: string): Set<string> {
  const out = new Set<string>();
  for (const line of saved.split('\n')) {
    const m = /^:(KUBE-(?:SVC|SVL|EXT|FW|SEP)-[A-Z2-7]{16}) /.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}
