// Which Node panicked: the one whose status.addresses holds the event's host IP. Refuses (with a reason) when
// no node or several match, when the node was created after the panic (the IP was reused), when netconsole
// userdata names another node, and for excluded or control-plane nodes.
import type { V1Node } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { LABELS } from "../../api/keys.ts";
import { REASONS } from "../status/conditions.ts";

export interface ResolveOptions {
  readonly addressTypes: readonly string[];
  readonly remediateControlPlane: boolean;
}

export type Resolution =
  | { readonly ok: true; readonly node: V1Node }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export function resolveNode(event: KernelPanicEvent, nodes: readonly V1Node[], options: ResolveOptions): Resolution {
  const ip = event.spec.hostIP;
  const matches = nodes.filter(
    (n) => n.status?.addresses?.some((a) => options.addressTypes.includes(a.type) && a.address === ip) === true,
  );
  const types = options.addressTypes.join(", ");
  if (matches.length === 0) return refuse(REASONS.nodeNotFound, `No Node has ${ip} among its addresses (${types}).`);
  if (matches.length > 1) {
    return refuse(
      REASONS.ambiguousNode,
      `Several Nodes have ${ip} (${types}): ${matches.map((n) => n.metadata?.name).join(", ")}; refusing to guess.`,
    );
  }
  const node = matches[0]!;
  const refusal = refuseReusedAddress(event, node) ?? refuseOtherName(event, node) ?? refuseProtected(node, options);
  return refusal ?? { ok: true, node };
}

/** creationTimestamp has whole seconds: only a node created in a later second than the panic is newer. */
function refuseReusedAddress(event: KernelPanicEvent, node: V1Node): Resolution | undefined {
  const created = node.metadata?.creationTimestamp;
  if (created === undefined) return undefined;
  if (Math.floor(new Date(created).getTime() / 1000) <= Math.floor(Date.parse(event.spec.detectedTime) / 1000))
    return undefined;
  const name = node.metadata?.name ?? "";
  return refuse(
    REASONS.nodeCreatedAfterPanic,
    `Node ${name} was created at ${new Date(created).toISOString()}, after the panic at ${event.spec.detectedTime}: its IP was reused.`,
  );
}

/** netconsole userdata `node=<name>`, when the node agent set it, must agree with the address. */
function refuseOtherName(event: KernelPanicEvent, node: V1Node): Resolution | undefined {
  const claimed = event.spec.userdata?.node;
  const name = node.metadata?.name ?? "";
  if (claimed === undefined || claimed === name) return undefined;
  return refuse(
    REASONS.nodeNameMismatch,
    `The panic's netconsole userdata names node ${claimed}, but ${event.spec.hostIP} belongs to Node ${name}.`,
  );
}

function refuseProtected(node: V1Node, options: ResolveOptions): Resolution | undefined {
  const name = node.metadata?.name ?? "";
  const labels = node.metadata?.labels ?? {};
  if (labels[LABELS.exclude] === "true")
    return refuse(REASONS.nodeExcluded, `Node ${name} is labelled ${LABELS.exclude}=true.`);
  if (LABELS.controlPlane in labels && !options.remediateControlPlane) {
    return refuse(
      REASONS.controlPlaneNode,
      `Node ${name} is a control-plane node; set remediateControlPlane to act on it.`,
    );
  }
  return undefined;
}

function refuse(reason: string, message: string): Resolution {
  return { ok: false, reason, message };
}
