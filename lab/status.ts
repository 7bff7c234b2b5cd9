// `kts lab status`: every recorded process alive or dead, then `kubectl get nodes` against the lab.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pkiFiles } from './pki.ts';
import { isAlive } from './process.ts';
import { readState } from './state.ts';

const run = promisify(execFile);

export interface LabStatus {
  dir: string;
  ready: boolean;
  processes: { name: string; pid: number; alive: boolean; log: string }[];
  /** kubectl's output, or its error. */
  nodes: string;
}

export async function labStatus(dir: string): Promise<LabStatus | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  const processes = state.processes.map((p) => ({ name: p.name, pid: p.pid, alive: isAlive(p), log: p.log }));
  const kubeconfig = pkiFiles(state.plan).adminKubeconfig;
  const nodes = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'wide', '--request-timeout=5s'], { timeout: 20_000 })
    .then((r) => r.stdout, (err: { stderr?: string; message: string }) => `kubectl get nodes failed: ${(err.stderr || err.message).trim()}\n`);
  return { dir, ready: state.ready, processes, nodes };
}

export function formatStatus(s: LabStatus): string {
  const width = Math.max(...s.processes.map((p) => p.name.length), 4);
  return [`lab in ${s.dir}${s.ready ? '' : ' (up did not finish)'}`, '',
    `${'NAME'.padEnd(width)}  ${'PID'.padStart(7)}  STATE  LOG`,
    ...s.processes.map((p) => `${p.name.padEnd(width)}  ${String(p.pid).padStart(7)}  ${p.alive ? 'alive' : 'dead '}  ${p.log}`),
    '', s.nodes.trimEnd()].join('\n');
}
