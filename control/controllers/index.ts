// The controllers kube-controller-manager can run, by their upstream --controllers names. Adding one is one line.
import type { ControllerConstructor } from './controller.ts';
import { newDeploymentController } from './deployment/controller.ts';
import { newGarbageCollector } from './garbagecollector/index.ts';
import { newReplicaSetController } from './replicaset/controller.ts';

export const controllers: Record<string, ControllerConstructor> = {
  deployment: newDeploymentController,
  'garbage-collector': newGarbageCollector,
  replicaset: newReplicaSetController,
};

/** Upstream disables a few controllers unless named explicitly ("bootstrapsigner", "tokencleaner"); none of ours yet. */
export const disabledByDefault = new Set<string>();

/** Upstream's other spellings of the same controllers (1.28+ "-controller" names, the old "garbagecollector"). */
export const aliases: Record<string, string> = {
  'deployment-controller': 'deployment',
  'replicaset-controller': 'replicaset',
  garbagecollector: 'garbage-collector',
  'garbage-collector-controller': 'garbage-collector',
};

/**
 * The --controllers flag: "*" enables every controller not disabled by default, "name" enables one,
 * "-name" disables one. Unknown names are an error that names them.
 */
export function selectControllers(flags: string[], known: Record<string, ControllerConstructor> = controllers): string[] {
  const canonical = (item: string) => {
    const neg = item.startsWith('-');
    const name = neg ? item.slice(1) : item;
    const real = aliases[name] && aliases[name]! in known ? aliases[name]! : name;
    return neg ? `-${real}` : real;
  };
  const items = flags.flatMap((f) => f.split(',')).map((s) => s.trim()).filter(Boolean).map(canonical);
  const unknown = items.map((i) => i.replace(/^-/, '')).filter((n) => n !== '*' && !(n in known));
  if (unknown.length) throw new Error(`--controllers: unknown controller(s) ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${Object.keys(known).sort().join(', ')}`);
  const star = items.includes('*');
  return Object.keys(known).sort().filter((name) => {
    if (items.includes(`-${name}`)) return false;
    if (items.includes(name)) return true;
    return star && !disabledByDefault.has(name);
  });
}
