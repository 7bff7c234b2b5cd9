// `kts agent`: the kubelet and kube-proxy in one Node process, the way k3s runs its agent. Two Node processes
// cost at least 2 x 43 MB of RSS before any of our code (agent/kubelet/README.md, "Memory"); in one they share
// the runtime, the HTTP and API client code. `kts kubelet` and `kts proxy` stay as they are: this only runs both.
// Usage: kts agent <kubelet flags> -- <kube-proxy flags>
export function splitAgentArgs(argv: string[]): { kubelet: string[]; proxy: string[] } {
  const i = argv.indexOf('--');
  return i < 0 ? { kubelet: argv, proxy: [] } : { kubelet: argv.slice(0, i), proxy: argv.slice(i + 1) };
}

export async function main(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.log('usage: kts agent <kubelet flags> -- <kube-proxy flags>\n\nRuns `kts kubelet` and `kts proxy` in one process; see `kts kubelet --help` and `kts proxy --help`.');
    return;
  }
  const args = splitAgentArgs(argv);
  const [kubelet, proxy] = await Promise.all([import('./main.ts'), import('../proxy/main.ts')]);
  // Either one failing to start ends the process (as a failing unit would), naming which one it was.
  const named = (what: string, p: Promise<void>) => p.catch((err: unknown) => {
    throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  });
  await Promise.all([named('kubelet', kubelet.main(args.kubelet)), named('proxy', proxy.main(args.proxy))]);
}
