// The receiver's stream evidence, checked against the Node: a panic line that continued the netconsole stream
// anchored by the node agent's self-test, when that self-test named this Node and its current boot id. An
// off-path forger sees neither the stream (its sequence number and clock) nor the boot id; without this, a
// silent probe is only silence, which anyone who can drop packets for a moment can make (docs/security.md).
import type { V1Node } from "@kubernetes/client-node";
import {
  afterPanicStamp,
  isAnchoredBy,
  type KernelPanicEvent,
  type StreamEvidence,
} from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../api/keys.ts";

export type StreamVerdict =
  { readonly continuous: true; readonly summary: string } | { readonly continuous: false; readonly why: string };

const NOT_CONTINUOUS: Record<Exclude<StreamEvidence["continuity"], "Continuous">, (s: StreamEvidence) => string> = {
  Plain: () => "the panic came in plain mode, without the sequence numbers that tie it to the node's stream",
  Unanchored: () => "no self-test of the node agent had been heard from that address to anchor its stream",
  Broken: (s) => `the panic did not continue the node's netconsole stream (${s.message ?? "no reason given"})`,
};

export function streamVerdict(event: KernelPanicEvent, node: V1Node): StreamVerdict {
  const stream = event.spec.stream;
  if (stream === undefined)
    return { continuous: false, why: "the receiver recorded nothing about the node's netconsole stream" };
  if (stream.continuity !== "Continuous") return { continuous: false, why: NOT_CONTINUOUS[stream.continuity](stream) };
  const mismatch = anchorMismatch(stream, node);
  if (mismatch !== undefined) return { continuous: false, why: mismatch };
  return {
    continuous: true,
    summary: `The panic continued Node ${stream.node ?? ""}'s netconsole stream (boot id ${stream.bootID ?? ""}): its sequence number followed ${stream.previousSequence ?? "?"}, heard ${(stream.secondsSinceHeard ?? 0).toFixed(1)} s before, and its timestamp moved with the receiver's clock (${stream.driftMilliseconds ?? 0} ms apart).`,
  };
}

/**
 * Why this panic's node is known alive from its own stream, or undefined: the receiver stamped the Node
 * (lastgasp.dev/netconsole-after-panic) because a record continued the stream this panic continued, in the same
 * boot, well past it (receiver/main/after-panic.ts). A dead kernel's stream stops after its report.
 */
export function outlivedPanic(event: KernelPanicEvent, node: V1Node): string | undefined {
  const stamp = node.metadata?.annotations?.[ANNOTATIONS.netconsoleAfterPanic];
  const { stream, sequence } = event.spec;
  if (stamp === undefined || stream?.continuity !== "Continuous" || stream.bootID === undefined) return undefined;
  if (sequence === undefined || stamp !== afterPanicStamp(stream.bootID, sequence)) return undefined;
  return `Node ${node.metadata?.name ?? ""}'s kernel went on sending its netconsole stream (boot id ${stream.bootID}) well after this panic (sequence ${sequence}), as a dead kernel cannot: the node is alive.`;
}

/** Why the self-test that anchored the stream is not this Node's in its current boot, or undefined when it is. */
function anchorMismatch(stream: StreamEvidence, node: V1Node): string | undefined {
  const nodeName = node.metadata?.name ?? "";
  const bootID = node.status?.nodeInfo?.bootID ?? "";
  if (isAnchoredBy(stream, { name: nodeName, bootID })) return undefined;
  if (stream.node !== nodeName)
    return `the stream it continued was anchored by a self-test naming ${stream.node ?? "no node"}, not ${nodeName}`;
  return `the stream it continued was anchored with boot id ${stream.bootID ?? "none"}, and Node ${nodeName}'s is ${bootID === "" ? "unknown" : bootID}`;
}
