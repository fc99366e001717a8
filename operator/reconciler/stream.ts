// The receiver's stream evidence, checked against the Node: a panic line that continued the netconsole stream
// anchored by the node agent's self-test, when that self-test named this Node and its current boot id. An
// off-path forger sees neither the stream (its sequence number and clock) nor the boot id; without this, a
// silent probe is only silence, which anyone who can drop packets for a moment can make (docs/security.md).
import type { V1Node } from "@kubernetes/client-node";
import { isAnchoredBy, type KernelPanicEvent, type StreamEvidence } from "../api/kernelpanicevent.ts";

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

/** Why the self-test that anchored the stream is not this Node's in its current boot, or undefined when it is. */
function anchorMismatch(stream: StreamEvidence, node: V1Node): string | undefined {
  const nodeName = node.metadata?.name ?? "";
  const bootID = node.status?.nodeInfo?.bootID ?? "";
  if (isAnchoredBy(stream, { name: nodeName, bootID })) return undefined;
  if (stream.node !== nodeName)
    return `the stream it continued was anchored by a self-test naming ${stream.node ?? "no node"}, not ${nodeName}`;
  return `the stream it continued was anchored with boot id ${stream.bootID ?? "none"}, and Node ${nodeName}'s is ${bootID === "" ? "unknown" : bootID}`;
}
