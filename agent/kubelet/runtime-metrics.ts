// Per-CRI-call metrics (upstream names). Made before the kubelet starts, so the calls of its start-up
// (static pods, adopted sandboxes) are counted too; the kubelet server exposes the same registry.
import { Counter, Histogram, Registry } from 'prom-client';

export class RuntimeOperationMetrics {
  readonly registry: Registry;
  private readonly durations: Histogram<'operation_type'>;
  private readonly errors: Counter<'operation_type'>;

  constructor(registry = new Registry()) {
    this.registry = registry;
    this.durations = new Histogram({ name: 'kubelet_runtime_operations_duration_seconds', help: 'Duration in seconds of runtime operations',
      labelNames: ['operation_type'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
    this.errors = new Counter({ name: 'kubelet_runtime_operations_errors_total', help: 'Cumulative number of runtime operation errors',
      labelNames: ['operation_type'], registers: [registry] });
  }

  /** Feed from CriClient's onCall: "RunPodSandbox" is recorded as operation_type="run_pod_sandbox". */
  observe(method: string, ms: number, ok: boolean): void {
    const op = method.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
    this.durations.observe({ operation_type: op }, ms / 1000);
    if (!ok) this.errors.inc({ operation_type: op });
  }
}
