// Consensus for a one-member cluster: the member is always the leader; a proposal is committed once it is
// in the WAL and fsynced. Proposals that arrive while a write is in flight are batched into the next write,
// so many concurrent clients share one fsync.
import path from 'node:path';
import fs from 'node:fs';
import { LogFile } from './log-file.ts';
import { etcdErrors } from '../mvcc/errors.ts';
import type { Consensus, ConsensusStatus, StateMachine } from './consensus.ts';

export class SingleMember implements Consensus {
  private readonly log: LogFile;
  private apply: (data: Uint8Array, index: number) => void = () => {};
  private pending: Uint8Array[] = [];
  private flushing = false;
  private stopped = false;
  private index = 0;
  private readonly memberId: string;
  private readonly warn: (msg: string) => void;
  onLeaderChange: (isLeader: boolean) => void = () => {};

  constructor(dataDir: string, memberId: string, warn: (msg: string) => void = () => {}) {
    fs.mkdirSync(path.join(dataDir, 'member', 'wal'), { recursive: true });
    this.log = new LogFile(path.join(dataDir, 'member', 'wal', 'single.log'));
    this.memberId = memberId;
    this.warn = warn;
  }

  async start(sm: StateMachine): Promise<void> {
    this.apply = (data, index) => sm.apply(data, index);
    await this.log.open((payload) => { this.index++; sm.apply(payload, this.index); }, this.warn);
    this.onLeaderChange(true);
  }

  propose(data: Uint8Array): void {
    if (this.stopped) throw etcdErrors.stopped();
    this.pending.push(data);
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0 && !this.stopped) {
        const batch = this.pending;
        this.pending = [];
        await this.log.append(batch);
        for (const data of batch) { this.index++; this.apply(data, this.index); }
      }
    } catch (err) {
      // a failed fsync leaves the log in an unknown state: stop accepting writes rather than lie
      this.warn(`wal write failed, refusing further writes: ${(err as Error).message}`);
      this.stopped = true;
    } finally {
      this.flushing = false;
    }
  }

  async readIndex(): Promise<void> {
    // everything acknowledged has been applied already: proposals resolve only after apply
  }

  isLeader(): boolean { return !this.stopped; }

  status(): ConsensusStatus {
    return { memberId: this.memberId, leaderId: this.memberId, term: 1, commitIndex: this.index, appliedIndex: this.index };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
    this.log.close();
  }
}
