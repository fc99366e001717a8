// One TCP connect to a node's kubelet port, and what it says about the node's kernel. A SYN-ACK (connected) or a
// reset (refused: nothing listens) comes from a running TCP stack at that address, or from someone on the path who
// saw our SYN: off the path, the answer cannot be forged (it must carry our random initial sequence number).
// Silence is what a dead kernel gives, and also what a lost packet or a firewall gives: it is only evidence next
// to a baseline and other nodes that answer (reconciler/corroboration/node-probes.ts). An ICMP error or a local failure is about the path, not
// the node: inconclusive.
import { connect, isIP } from "node:net";
import type { Clock } from "../clock.ts";

export type ProbeOutcome = "connected" | "refused" | "silent" | "failed";
export const PROBE_OUTCOMES: readonly ProbeOutcome[] = ["connected", "refused", "silent", "failed"];

export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  /** The socket error's code when it failed (EHOSTUNREACH, ENETUNREACH, EMFILE…). */
  readonly code?: string;
}

/** A probe of one address and port: resolves, never rejects. */
export type Probe = (address: string, port: number, timeoutMs: number) => Promise<ProbeResult>;

export function isAnswer(outcome: ProbeOutcome): boolean {
  return outcome === "connected" || outcome === "refused";
}

/** Connects once; closes the connection with a reset at once, so neither side keeps any state for it. */
export const tcpProbe =
  (clock: Clock): Probe =>
  (address, port, timeoutMs) => {
    if (isIP(address) === 0) return Promise.resolve({ outcome: "failed", code: "ENOTIP" });
    return new Promise((resolve) => {
      const socket = connect({ host: address, port, noDelay: true });
      const finish = (result: ProbeResult) => {
        cancelTimer();
        socket.removeAllListeners();
        socket.on("error", () => undefined);
        if (result.outcome === "connected") socket.resetAndDestroy();
        else socket.destroy();
        resolve(result);
      };
      // A deadline is checked after the event loop's next poll for I/O: an answer that came in time but waits to be
      // read (a loop busy for a moment) is an answer, not silence. Late answers only ever make a node look alive.
      const cancelTimer = clock.setTimeout(() => {
        setImmediate(() => {
          if (!socket.destroyed) finish({ outcome: "silent" });
        });
      }, timeoutMs);
      socket.once("connect", () => {
        finish({ outcome: "connected" });
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        finish(err.code === "ECONNREFUSED" ? { outcome: "refused" } : { outcome: "failed", code: err.code ?? "?" });
      });
    });
  };
