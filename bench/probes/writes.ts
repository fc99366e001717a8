// Child process of S3: "another client" of the apiserver, creating small ConfigMaps at a steady rate while the
// storm is remediated, and reporting the latency of each write. Runs in its own process so that the
// benchmark's watches never delay its requests. Started by ../lib/write-probe.ts; stops on "stop" or when its
// parent goes away.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";

const [kubeconfig, namespace, rate] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig!);
const core = kc.makeApiClient(CoreV1Api);
const intervalMs = 1000 / Number(rate);
const latencies: number[] = [];
let throttled = 0;
let errors = 0;
const state = { stopping: false };

process.on("message", (message) => {
  if (message === "stop") state.stopping = true;
});
process.on("disconnect", () => process.exit(0));

await core.createNamespace({ body: { metadata: { name: namespace! } } }).catch(() => undefined);
process.send!("started");
for (let n = 0; !state.stopping; n++) {
  const started = performance.now();
  try {
    await core.createNamespacedConfigMap({
      namespace: namespace!,
      body: { metadata: { name: `probe-${n}` }, data: { n: String(n) } },
    });
    latencies.push(performance.now() - started);
  } catch (err) {
    if ((err as { code?: number }).code === 429) throttled++;
    else errors++;
  }
  await delay(Math.max(0, intervalMs - (performance.now() - started)));
}
process.send!({ latencies, throttled, errors }, () => process.exit(0));
