// `bin/kts apiserver` as a child process on loopback, started and stopped by PID: the one way tests and
// benchmarks run the apiserver as its own process (control/apiserver/testing/server.ts runs it in process).
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface ApiServerProcessOptions {
  etcdEndpoint: string;
  /** 0 (the default) picks a free port; a fixed one lets a restarted apiserver come back at the same URL. */
  port?: number;
  /** Serving certificate, key and client CA files; without them the apiserver serves its own PKI's. */
  tls?: { certFile: string; keyFile: string; clientCAFile: string };
  /** Where the apiserver keeps (or makes) its own PKI (--pki-dir). */
  pkiDir?: string;
  /** Plain HTTP (--insecure-http). */
  plainHttp?: boolean;
}

export interface ApiServerProcess {
  /** The URL from its "serving on" line. */
  url: string;
  port: number;
  pid: number;
  /** Its recent stderr, for failure messages. */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s), or SIGKILL at once to simulate a crash; resolves once it has exited. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** Start the apiserver and wait for its "serving on" line (60 s at most). */
export async function startApiServerProcess(o: ApiServerProcessOptions): Promise<ApiServerProcess> {
  const args = ['apiserver', '--etcd-servers', o.etcdEndpoint, '--bind-address', '127.0.0.1', '--secure-port', String(o.port ?? 0)];
  if (o.tls) {
    args.push('--advertise-address', '127.0.0.1', '--tls-cert-file', o.tls.certFile, '--tls-private-key-file', o.tls.keyFile,
      '--client-ca-file', o.tls.clientCAFile);
  }
  if (o.plainHttp) args.push('--insecure-http');
  if (o.pkiDir) args.push('--pki-dir', o.pkiDir);
  const child = spawn(path.join(ROOT, 'bin/kts'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    process.kill(child.pid, signal);
    const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL'); }, 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`apiserver did not start: ${stderr}`)), 60_000);
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-8000);
        const m = /serving on (https?:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`apiserver exited early (${code}): ${stderr}`));
      });
    });
    return { url, port: Number(new URL(url).port), pid: child.pid!, log: () => stderr, kill };
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
}
