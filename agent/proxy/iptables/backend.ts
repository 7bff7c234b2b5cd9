// The iptables mode of the proxier: render (pure) then apply (one iptables-restore), keeping what the
// kernel holds after the last successful sync so the next one can be partial.
import type { ProxyBackend, SyncRequest } from '../proxier.ts';
import type { Executor } from '../exec.ts';
import { flushStaleUDP } from '../conntrack.ts';
import type { StaleEndpoints } from '../conntrack.ts';
import { render } from './render.ts';
import type { RenderResult } from './render.ts';
import { IptablesApplier } from './apply.ts';
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
  private applied: { chains: Set<string>; shared: Map<string, string> } | null = null;
  /** The last rendered result and payload, for diagnostics and tests. */
  lastRender: RenderResult | null = null;

  constructor(opts: IptablesBackendOptions) {
    this.exec = opts.exec;
    this.applier = new IptablesApplier(opts.exec, opts.variant);
    this.warn = opts.warn ?? (() => {});
  }

  async sync({ state, changed }: SyncRequest): Promise<void> {
    const full = changed === undefined || this.applied === null;
    let previousChains = this.applied?.chains;
    if (full) {
      await this.applier.ensureJumps();
      // Unknown kernel state: ask the kernel which service chains exist so stale ones are deleted.
      if (!this.applied) previousChains = await this.applier.existingServiceChains();
    }
    const result = render(state, {
      changed: full ? undefined : changed,
      previousChains,
      previousShared: this.applied?.shared,
    });
    this.lastRender = result;
    try {
      if (result.payload !== '') await this.applier.restore(result.payload);
    } catch (err) {
      this.applied = null;
      throw err;
    }
    this.applied = { chains: result.serviceChains, shared: result.shared };
  }

  async flushStale(stale: StaleEndpoints[]): Promise<void> {
    await flushStaleUDP(this.exec, stale, this.warn);
  }
}
