// Detached processes recorded by PID and start time; stopped by PID only (never by name).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { LabProcess } from './state.ts';

/**
 * The fields of a /proc stat file (a process's or a thread's) from field 3 on: field n is at index n - 3.
 * The command name (field 2) may hold spaces and parentheses, so the split starts after its closing one.
 */
export function statFields(statPath: string): string[] {
  const stat = readFileSync(statPath, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const rest = statFields(`/proc/${pid}/stat`);
    if (rest[0] === 'Z') return undefined; // a zombie has exited
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isAlive(p: Pick<LabProcess, 'pid' | 'startTime'>): boolean {
  return p.pid > 0 && processStartTime(p.pid) === p.startTime;
}

/** Starts cmd in its own session with stdout and stderr appended to log; the lab command may exit after. */
export function startDetached(name: string, cmd: string, args: string[], log: string, node?: string, env?: NodeJS.ProcessEnv): LabProcess {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], ...(env ? { env } : {}) });
    child.unref();
    if (!child.pid) throw new Error(`could not start ${name} (${cmd})`);
    const startTime = processStartTime(child.pid);
    if (!startTime) throw new Error(`${name} (${cmd}) exited at once; see ${log}`);
    return { name, pid: child.pid, startTime, log, ...(node ? { node } : {}) };
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after graceMs; returns when the process is gone. */
export async function stopProcess(p: Pick<LabProcess, 'pid' | 'startTime'>, graceMs = 10_000): Promise<void> {
  if (!isAlive(p)) return;
  try { process.kill(p.pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (isAlive(p) && Date.now() < deadline) await sleep(50);
  if (!isAlive(p)) return;
  try { process.kill(p.pid, 'SIGKILL'); } catch { return; }
  while (isAlive(p)) await sleep(20);
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Thrown from a waitUntil check to stop waiting at once (a process it waits on has exited). */
export class ProcessExitedError extends Error {}

/** Polls check until it returns true; the message names what was awaited and where its log is. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await check().catch((err: unknown) => {
      if (err instanceof ProcessExitedError) throw err;
      return false; // not up yet
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await sleep(200);
  }
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}
