// The iptables mode of the proxier: render (pure) then apply (one iptables-restore), keeping what the
// kernel holds after the last successful sync so the next one can be partial.
import type { ProxyBackend, SyncRequest } from '../proxier.ts';
import type { Executor } from '../exec.ts';
import { flushStaleUDP } from '../conntrack.ts';
import type { StaleEndpoints } from '../conntrack.ts';
import { missingJumps, render } from './render.ts';
import type { JumpRule, RenderResult } from './render.ts';
import { IptablesApplier, serviceChainsIn } from './apply.ts';
import type { IptablesVariant } from './apply.ts';

export interface IptablesBackendOptions {
  exec: Executor;
  variant: IptablesVariant;
  warn?: (msg: string) => void;
}

export class IptablesBackend implements ProxyBackend {
  readonly mode = 'iptables' as const;
  readonly applier: IptablesApplier;
  private readonly exec: Executor;
  private readonly warn: (msg: string) => void;
  /** Known kernel state after the last successful sync; null when unknown (start, after a failure). */
  private applied: RenderResult | null = null;
  /** The last rendered result and payload, for diagnostics and tests. */
  lastRender: RenderResult | null = null;

  constructor(opts: IptablesBackendOptions) {
    this.exec = opts.exec;
    this.applier = new IptablesApplier(opts.exec, opts.variant);
    this.warn = opts.warn ?? (() => {});
  }

  /** The jump-rule check started after the last periodic full sync (awaited before the next sync). */
  private jumpCheck: Promise<void> = Promise.resolve();

  async sync({ state, changed }: SyncRequest): Promise<void> {
    await this.jumpCheck;
    const full = changed === undefined || this.applied === null;
    const known = this.applied !== null;
    let previousChains = this.applied?.serviceChains;
    let jumps: JumpRule[] = [];
    if (!known) {
      // Unknown kernel state (start, after a failure): read it once, to delete stale service chains and
      // to insert the missing jump rules within the same restore.
      // Two saves (nat has the service chains, both have jump rules): fewer processes than one listing per
      // built-in chain, and the nat save has to be read anyway.
      const reads = Promise.all([this.applier.save('nat'), this.applier.save('filter')]);
      // While those processes run, render once to fill the per-service render cache (the render below is then cheap).
      render(state);
      const [nat, filter] = await reads;
      previousChains = serviceChainsIn(nat);
      jumps = missingJumps(nat + filter);
    }
    const result = render(state, {
      changed: full ? undefined : changed,
      previous: full ? undefined : this.applied!,
      previousChains,
      previousShared: this.applied?.shared,
      jumps,
    });
    this.lastRender = result;
    try {
      if (result.payload !== '') await this.applier.restore(result.payload);
    } catch (err) {
      this.applied = null;
      throw err;
    }
    this.applied = result;
    if (full && known) {
      // Periodic full sync: check the jump rules (someone may have flushed them) after the restore, off the
      // sync's critical path; if any is gone the kernel state is unknown again and the next sync repairs it.
      // Started on the next turn of the event loop: spawning its processes is synchronous work (~10 ms each).
      this.jumpCheck = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.applier.jumpsInPlace()).then((ok) => {
        if (!ok) { this.warn('kube-proxy jump rules missing from the built-in chains: next sync re-creates them'); this.applied = null; }
      }, (err: unknown) => { this.warn(`checking jump rules: ${String(err)}`); });
    }
  }

  /** Wait for background work (the jump-rule check). */
  async idle(): Promise<void> {
    await this.jumpCheck;
  }

  async flushStale(stale: StaleEndpoints[]): Promise<void> {
    await flushStaleUDP(this.exec, stale, this.warn);
  }
}
