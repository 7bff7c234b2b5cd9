// A throwaway lab of network namespaces for the proxy's integration tests and benchmark: namespaces named
// with a random suffix, veth links created inside them, processes started by PID, and one cleanup() that
// kills those PIDs and deletes those namespaces (which takes their links, routes and rules along).
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class NetLab {
  readonly suffix = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly pids: number[] = [];
  private readonly dirs: string[] = [];

  /** Create a namespace `kp<role><suffix>` with loopback up. */
  async netns(role: string): Promise<string> {
    const name = `kp${role}${this.suffix}`;
    await execa('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.ip(name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** `ip -n ns ...` */
  async ip(ns: string, ...args: string[]): Promise<void> {
    await execa('ip', ['-n', ns, ...args]);
  }

  /** Run a command inside a namespace and return its result (never throws on exit codes). */
  async exec(ns: string, cmd: string, args: string[], timeoutMs = 10_000) {
    return execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, timeout: timeoutMs });
  }

  async sysctl(ns: string, key: string, value: string): Promise<void> {
    await execa('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** A veth pair: `ifA` in nsA, `ifB` in nsB, both up. */
  async veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    await this.ip(nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
    await this.ip(nsA, 'link', 'set', ifA, 'up');
    await this.ip(nsB, 'link', 'set', ifB, 'up');
  }

  /** busybox httpd in `ns` on `port`, serving an index.html that says `body`. Returns its PID. */
  async httpd(ns: string, port: number, body: string): Promise<number> {
    const dir = await mkdtemp(join(tmpdir(), 'kp-httpd-'));
    this.dirs.push(dir);
    await writeFile(join(dir, 'index.html'), `${body}\n`);
    // `ip netns exec` execs the command, so the PID we get is busybox's own.
    const child = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
    if (child.pid === undefined) throw new Error('could not start busybox httpd');
    child.unref();
    this.pids.push(child.pid);
    for (let i = 0; i < 100; i++) {
      const r = await this.exec(ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', `http://127.0.0.1:${port}/`]);
      if (r.exitCode === 0) return child.pid;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error(`busybox httpd in ${ns} did not listen on ${port}`);
  }

  async cleanup(): Promise<void> {
    for (const pid of this.pids.splice(0)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      await execa('ip', ['netns', 'del', ns], { reject: false });
    }
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}
