// <dir>/lab.json: the plan plus every process the lab started (PID, its start time, log file). It is written
// after each step of `up`, so that `down` can undo a half-finished `up` too.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LabPlan } from './plan.ts';

export interface LabProcess {
  name: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled PID is never mistaken for ours. */
  startTime: string;
  log: string;
  /** The node it belongs to, if any. */
  node?: string;
}

export interface LabState {
  plan: LabPlan;
  processes: LabProcess[];
  /** Set once `up` finished. */
  ready: boolean;
}

export function statePath(dir: string): string {
  return path.join(dir, 'lab.json');
}

export function readState(dir: string): LabState | undefined {
  const file = statePath(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabState;
  } catch (err) {
    throw new Error(`${file} is not a lab state file: ${(err as Error).message}`);
  }
}

export function writeState(s: LabState): void {
  const file = statePath(s.plan.options.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
