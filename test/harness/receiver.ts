// Runs the real receiver in-process against a test control plane, on an ephemeral loopback port.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { receiverSettings } from "../../operator/config/receiver.ts";
import { resolveSettings } from "../../operator/config/settings.ts";
import { createLogger } from "../../operator/log.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { launchReceiver } from "../../operator/commands/receiver.ts";
import { waitFor } from "./wait.ts";

/**
 * For tests of the receiver alone, which send panics from loopback addresses no Node has: without it they would
 * be dropped as unknown_source (the default, exercised by the tests that create their nodes).
 */
export const NO_NODES = ["--node-sources-only", "false"];

/** Starts a receiver with the defaults plus `flags` (e.g. ["--context-lines", "10"]); udp at 127.0.0.1:<port>. */
export async function startTestReceiver(
  kc: KubeConfig,
  flags: string[] = [],
): Promise<{ receiver: Receiver; target: string }> {
  const { values } = resolveSettings(
    receiverSettings,
    ["--listen", "127.0.0.1:0", "--http-address", "127.0.0.1:0", "--log-level", "error", ...flags],
    {},
  );
  const receiver = await launchReceiver(values, kc, createLogger("silent", "receiver"));
  return { receiver, target: `127.0.0.1:${receiver.udpPorts[0]!}` };
}

/** Creates a KernelPanicEvent as the receiver would (for tests of the reconciler alone); resolves with its name. */
export async function createKernelPanicEvent(kc: KubeConfig, event: KernelPanicEvent): Promise<string> {
  await kc
    .makeApiClient(CustomObjectsApi)
    .createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: event });
  return event.metadata.name;
}

export async function listKernelPanicEvents(kc: KubeConfig): Promise<KernelPanicEvent[]> {
  const list = (await kc
    .makeApiClient(CustomObjectsApi)
    .listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: KernelPanicEvent[] };
  return list.items;
}

/** Waits for the KernelPanicEvent(s) of a host IP; resolves with them once `count` exist. */
export async function eventsFor(
  kc: KubeConfig,
  hostIP: string,
  count = 1,
  timeoutMs = 10_000,
): Promise<KernelPanicEvent[]> {
  return waitFor(
    async () => {
      const events = (await listKernelPanicEvents(kc)).filter((e) => e.spec.hostIP === hostIP);
      return events.length >= count ? events : undefined;
    },
    { what: `${count} KernelPanicEvent(s) for ${hostIP}`, timeoutMs },
  );
}
