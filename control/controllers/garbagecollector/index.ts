// The garbage collector as kube-controller-manager hosts it: `newGarbageCollector(ctx).run(workers)`.
import type { ControllerConstructor } from '../controller.ts';
import { GarbageCollector } from './garbagecollector.ts';

export const newGarbageCollector: ControllerConstructor = (ctx) => new GarbageCollector(ctx);

export { GarbageCollector } from './garbagecollector.ts';
export type { GarbageCollectorOptions } from './garbagecollector.ts';
export { DependencyGraph } from './graph.ts';
export { RestMapper, discover } from './restmapper.ts';
