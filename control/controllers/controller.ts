// What every controller in kube-controller-manager looks like to the process that hosts it: built from a shared
// context (one API client, one informer factory, one event recorder), then run with N workers until the signal aborts.
import type { InformerFactory } from '../../client/factory.ts';
import type { RestClient } from '../../client/rest.ts';

export interface ControllerContext {
  client: RestClient;
  /** Shared informers: ask for them in the constructor, the host starts the factory and waits for sync before run(). */
  factory: InformerFactory;
  /** Aborted when the process stops or loses leadership. */
  signal: AbortSignal;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface Controller {
  /** Upstream controller name, as in --controllers (e.g. "deployment", "replicaset", "garbage-collector"). */
  readonly name: string;
  /** Process work items until ctx.signal aborts; resolves once the workers have stopped. */
  run(workers: number): Promise<void>;
}

export type ControllerConstructor = (ctx: ControllerContext) => Controller;
