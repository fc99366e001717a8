// Every series name the receiver's and the reconciler's registries expose (histograms as _bucket, _sum, _count):
// what dashboards and alert rules may query.
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { ReconcilerMetrics } from "../../operator/reconciler/metrics.ts";

export async function registeredMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [new ReceiverMetrics().registry, new ReconcilerMetrics().registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      // prom-client's types call it an enum; at run time it is the text.
      const suffixes = String(metric.type) === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
      for (const suffix of suffixes) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}
