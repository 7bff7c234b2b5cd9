// The one door to host commands (iptables-restore, ipvsadm, ipset, ip, conntrack). Apply logic takes an
// Executor so it runs against the real host, inside a network namespace, or against a fake in unit tests.
import { execa } from 'execa';

export interface ExecResult { exitCode: number; stdout: string; stderr: string }

export interface Executor {
  run(cmd: string, args: string[], input?: string): Promise<ExecResult>;
}

/** Runs commands on this host; never throws for a non-zero exit (the caller reads exitCode). */
export function hostExecutor(): Executor {
  return {
    async run(cmd, args, input) {
      const r = await execa(cmd, args, { input, reject: false, stripFinalNewline: false });
      if (r.failed && r.exitCode === undefined) {
        return { exitCode: 127, stdout: '', stderr: `${cmd}: ${r.shortMessage ?? 'could not run'}` };
      }
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    },
  };
}

/** Runs every command inside the named network namespace (`ip netns exec`). */
export function netnsExecutor(netns: string, inner: Executor = hostExecutor()): Executor {
  return { run: (cmd, args, input) => inner.run('ip', ['netns', 'exec', netns, cmd, ...args], input) };
}

/** A recorded call, for fake executors in tests. */
export interface ExecCall { cmd: string; args: string[]; input?: string }

/** Fake executor: records calls and answers from `respond` (default: success, empty output). */
export class FakeExecutor implements Executor {
  readonly calls: ExecCall[] = [];
  respond: (call: ExecCall) => Partial<ExecResult> | undefined;
  constructor(respond: (call: ExecCall) => Partial<ExecResult> | undefined = () => undefined) {
    this.respond = respond;
  }
  async run(cmd: string, args: string[], input?: string): Promise<ExecResult> {
    const call = { cmd, args, input };
    this.calls.push(call);
    return { exitCode: 0, stdout: '', stderr: '', ...this.respond(call) };
  }
  commands(): string[] {
    return this.calls.map((c) => [c.cmd, ...c.args].join(' '));
  }
}
