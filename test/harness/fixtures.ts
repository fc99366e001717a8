// Cluster objects shared by tests, the demo and benchmarks.
import type { V1Node } from "@kubernetes/client-node";
import { kwokNodeAnnotation } from "./components.ts";

/**
 * A Node whose kubelet kwok simulates (it turns Ready, its Lease is renewed, its pods go Running), with a
 * loopback InternalIP so that a test can send that node's netconsole packets from the same address.
 */
export function kwokNode(name: string, internalIP: string, kubeletGroup: string = kwokNodeAnnotation.value): V1Node {
  return {
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation.key]: kubeletGroup },
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", type: "kwok" },
    },
    spec: {},
    status: {
      addresses: [
        { type: "InternalIP", address: internalIP },
        { type: "Hostname", address: name },
      ],
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
    },
  };
}
