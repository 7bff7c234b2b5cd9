// The node agents' Node settings: the systemd units carry the same flags as the lab (lab/node-flags.ts), and
// the environment helper adds them to what is inherited instead of replacing it.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AGENT_LAZY_MODULES, labCompileCacheDir, NODE_AGENT_NODE_OPTIONS, nodeAgentEnv, nodeCompileCacheDir } from '../../../lab/node-flags.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

t.test('systemd units run the agents with the lab\'s Node flags and a compile cache', async (t) => {
  for (const unit of ['kubelet.service', 'kube-proxy.service', 'kts-agent.service']) {
    const text = readFileSync(path.join(ROOT, 'systemd', unit), 'utf8');
    t.match(text, `\nEnvironment=NODE_OPTIONS=${NODE_AGENT_NODE_OPTIONS}\n`, `${unit} sets NODE_OPTIONS`);
    const cache = /\nEnvironment=NODE_COMPILE_CACHE=(\/var\/cache\/kts\/\S+)\n/.exec(text);
    t.ok(cache, `${unit} sets NODE_COMPILE_CACHE under /var/cache/kts`);
    t.match(text, '\nCacheDirectory=kts\n', `${unit} has systemd make /var/cache/kts`);
  }
});

t.test('nodeAgentEnv adds the flags and the cache to the inherited environment', async (t) => {
  const env = nodeAgentEnv(nodeCompileCacheDir('/var/lib/kts-lab'), '--max-semi-space-size=1', { PATH: '/bin', NODE_OPTIONS: '--trace-warnings' });
  t.equal(env.PATH, '/bin');
  t.equal(env.NODE_OPTIONS, '--trace-warnings --max-semi-space-size=1');
  t.equal(env.NODE_COMPILE_CACHE, '/var/lib/kts-lab/node-compile-cache');
  t.equal(nodeAgentEnv('/c', '', {}).NODE_OPTIONS, '', 'no flags at all is an empty NODE_OPTIONS');
  t.equal(labCompileCacheDir('/src/kts'), '/src/kts/node_modules/.cache/kts/node-compile-cache', 'the lab keeps its cache with the dependencies');
});

t.test('the compile-cache warm-up covers every module the agents import lazily', async (t) => {
  const lazy = new Set<string>();
  for (const file of readdirSync(path.join(ROOT, 'agent'), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(path.join(ROOT, 'agent', file), 'utf8');
    for (const m of text.matchAll(/await import\('(\.{1,2}\/[^']+\.ts)'\)/g)) {
      lazy.add(path.relative(ROOT, path.resolve(ROOT, 'agent', path.dirname(file), m[1])));
    }
  }
  t.ok(lazy.size >= 3, `found the lazy imports (${[...lazy].join(', ')})`);
  for (const m of lazy) t.ok(AGENT_LAZY_MODULES.includes(m), `${m} is warmed`);
  for (const m of AGENT_LAZY_MODULES) t.ok(readFileSync(path.join(ROOT, m)), `${m} exists`);
});
