// S6 stock Kubernetes: the same dead node (its kwok kubelet killed: no heartbeat, no Lease renewal), 110 pods,
// kube-controller-manager with its default settings and no lastgasp. Timed until the pods are gone, or until the
// cap, with when the node was marked unhealthy and when eviction began along the way. Three healthy nodes stand
// by: with none, the node lifecycle controller would see a full zone disruption and evict nothing at all.
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { performance } from "node:perf_hooks";
import { waitFor } from "../../test/harness/wait.ts";
import { createNodesWithPods, waitRunning, watchFrom } from "../lib/cluster.ts";
import { loopbackAddress } from "../lib/panics.ts";
import { seconds, withControlPlane, type Scenario } from "../lib/scenario.ts";
import { PODS_PER_NODE } from "./s2-remediation.ts";

export const s6: Scenario = {
  id: "S6",
  title: "stock Kubernetes (no lastgasp)",
  run: async (ctx) =>
    withControlPlane({ controllerManager: true, kwok: true }, async (plane) => {
      const capMs = ctx.quick ? 75_000 : 600_000;
      const kc = plane.adminKubeConfig();
      const healthy = [0, 1, 2].map((i) => ({
        name: `s6-healthy-${i}`,
        ip: loopbackAddress(7, i + 10),
        kubelets: "fake",
      }));
      await createNodesWithPods(kc, { scenario: "S6-healthy", namespace: "s6", nodes: healthy, podsPerNode: 0 });
      const dead = { name: "s6-dead", ip: loopbackAddress(7, 0), kubelets: "s6" };
      await createNodesWithPods(kc, { scenario: "S6", namespace: "s6", nodes: [dead], podsPerNode: PODS_PER_NODE });
      const kubelet = await plane.startKubelets("s6");
      await waitRunning(kc, "S6", PODS_PER_NODE, 60_000);
      const seen = { notReadyAt: 0, taintedAt: 0, firstEvictedAt: 0, allEvictedAt: 0, goneAt: 0 };
      const evicted = new Set<string>();
      let left = PODS_PER_NODE;
      const pods = await watchFrom<V1Pod>(
        kc,
        "/api/v1/pods",
        { labelSelector: "bench.lastgasp.dev/scenario=S6" },
        (type, pod, at) => {
          if (type === "DELETED") left--;
          if (pod.metadata?.deletionTimestamp !== undefined) evicted.add(pod.metadata.name ?? "");
          if (evicted.size > 0) seen.firstEvictedAt ||= at;
          if (evicted.size === PODS_PER_NODE) seen.allEvictedAt ||= at;
          if (left === 0) seen.goneAt ||= at;
        },
      );
      const node = await watchFrom<V1Node>(
        kc,
        "/api/v1/nodes",
        { fieldSelector: `metadata.name=${dead.name}` },
        (_, n, at) => {
          if (n.status?.conditions?.some((c) => c.type === "Ready" && c.status !== "True")) seen.notReadyAt ||= at;
          if (n.spec?.taints?.some((t) => t.effect === "NoExecute")) seen.taintedAt ||= at;
        },
      );
      const diedAt = performance.now();
      kubelet.killNow();
      ctx.log(`S6: kubelet of ${dead.name} killed; waiting up to ${seconds(capMs)} for stock Kubernetes`);
      await waitFor(() => seen.goneAt > 0 || performance.now() - diedAt >= capMs, {
        what: "the pods gone or the cap",
        timeoutMs: capMs + 10_000,
        intervalMs: 200,
      });
      pods.stop();
      node.stop();
      const after = (t: number) => (t === 0 ? null : Math.round(t - diedAt));
      const figures = {
        capMs,
        pods: PODS_PER_NODE,
        nodeNotReadyMs: after(seen.notReadyAt),
        noExecuteTaintMs: after(seen.taintedAt),
        firstPodEvictedMs: after(seen.firstEvictedAt),
        allPodsEvictedMs: after(seen.allEvictedAt),
        podsGoneMs: after(seen.goneAt),
        podsLeftAtEnd: left,
        podsTerminatingAtEnd: evicted.size - (PODS_PER_NODE - left),
      };
      const at = (ms: number | null, what: string) =>
        ms === null ? `not within ${seconds(capMs)}` : `${seconds(ms)}${what}`;
      return {
        figures,
        rows: [
          { figure: "node marked NotReady/Unknown after", value: at(figures.nodeNotReadyMs, "") },
          { figure: "first pod evicted (deletion started) after", value: at(figures.firstPodEvictedMs, "") },
          { figure: `all ${PODS_PER_NODE} pods gone after`, value: at(figures.podsGoneMs, "") },
          {
            figure: "pods still in the API at the end (of which Terminating)",
            value: `${left} (${figures.podsTerminatingAtEnd})`,
          },
        ],
      };
    }),
};
