// Node settings for the node agents (kubelet, kube-proxy), in one place for the lab and the pod startup
// benchmark; systemd/kubelet.service and systemd/kube-proxy.service carry the same values (a unit test keeps
// them in step). What each one buys, measured: agent/kubelet/README.md ("Memory").
import path from 'node:path';

/**
 * --max-semi-space-size=1: V8's young generation grows its semi-spaces up to 16 MB each under allocation
 * and keeps them; capped at 1 MB the agents' idle RSS drops ~8 MB each, the extra scavenges are cheap.
 */
export const NODE_AGENT_NODE_OPTIONS = '--max-semi-space-size=1';

/**
 * Where compiled code is cached between starts (NODE_COMPILE_CACHE). With a warm cache Node does not load
 * its type-stripping WebAssembly module at all, which otherwise costs each .ts process ~17-24 MB of RSS.
 */
export function nodeCompileCacheDir(base: string): string {
  return path.join(base, 'node-compile-cache');
}

/** The lab's cache: with the checkout's dependencies, so that it outlives `kts lab down` and the next lab starts warm. */
export function labCompileCacheDir(repoRoot: string): string {
  return nodeCompileCacheDir(path.join(repoRoot, 'node_modules', '.cache', 'kts'));
}

/** The environment a node agent runs with: the inherited one plus the flags and the compile cache. */
export function nodeAgentEnv(cacheDir: string, nodeOptions = NODE_AGENT_NODE_OPTIONS, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, NODE_OPTIONS: [base.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' '), NODE_COMPILE_CACHE: cacheDir };
}

/**
 * The agents' modules that `kts agent --help` does not load (the command modules, and what they import only
 * when they start), repo-relative: scripts/warm-compile-cache.ts compiles them too. A unit test checks that
 * every lazy `import('…ts')` under agent/ is here.
 */
export const AGENT_LAZY_MODULES = [
  'agent/kubelet/main.ts', 'agent/proxy/main.ts', 'agent/proxy/apisource.ts', 'client/index.ts', 'control/pki/index.ts',
];
