// Fills the node agents' compile cache (lab/node-flags.ts) so that even the first `kts lab up` starts them warm:
// a cold start strips TypeScript through a WebAssembly module that then stays resident (~25 MB per process).
// The modules load with the agents' own Node flags: V8 rejects code cached under other flags.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { AGENT_LAZY_MODULES, labCompileCacheDir, nodeAgentEnv } from '../lab/node-flags.ts';

const root = path.resolve(import.meta.dirname, '..');
const env = nodeAgentEnv(labCompileCacheDir(root));
const node = process.execPath;
execFileSync(node, [path.join(root, 'bin/kts.ts'), 'agent', '--help'], { env, stdio: 'ignore' });
execFileSync(node, ['-e', `Promise.all(${JSON.stringify(AGENT_LAZY_MODULES.map((m) => path.join(root, m)))}.map((m) => import(m)))`], { env, stdio: 'inherit' });
