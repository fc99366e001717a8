// The netconsole self-test line: written by the node agent to /dev/kmsg after it (re)configures netconsole and
// then periodically, recognised by the receiver, which records the node as covered. Both sides use this file,
// so the format has one definition. Its twin, the unavailable report, is what an agent on a node whose kernel
// cannot run netconsole sends instead, itself, over UDP: the receiver shows the reason on the Node.
import { DNS_SUBDOMAIN, UUID } from "./kube-names.ts";

/** Marks the line; nothing the kernel prints starts with it. */
export const SELF_TEST_MARKER = "lastgasp netconsole self-test";

export interface SelfTest {
  /** The Kubernetes Node name the agent runs on. */
  readonly node: string;
  /** /proc/sys/kernel/random/boot_id of that node: tells a reboot apart from a gap. */
  readonly bootId: string;
}

/** A Node name is a DNS subdomain; a boot id is a UUID. Anything else in a self-test line is not ours. */
const NODE_NAME = DNS_SUBDOMAIN;
const BOOT_ID = UUID;
const LINE = /^lastgasp netconsole self-test node=(\S+) boot_id=(\S+)$/;

export function formatSelfTest(test: SelfTest): string {
  if (!NODE_NAME.test(test.node)) throw new Error(`node name ${JSON.stringify(test.node)} is not a DNS subdomain`);
  if (!BOOT_ID.test(test.bootId)) throw new Error(`boot id ${JSON.stringify(test.bootId)} is not a UUID`);
  return `${SELF_TEST_MARKER} node=${test.node} boot_id=${test.bootId}`;
}

/** The self-test in a console line's text, or undefined when the line is not one. */
export function parseSelfTest(text: string): SelfTest | undefined {
  if (!text.startsWith(SELF_TEST_MARKER)) return undefined;
  const match = LINE.exec(text.trimEnd());
  if (match === null) return undefined;
  const [, node = "", bootId = ""] = match;
  return NODE_NAME.test(node) && BOOT_ID.test(bootId) ? { node, bootId } : undefined;
}

/** Marks the unavailable report. */
export const UNAVAILABLE_MARKER = "lastgasp netconsole unavailable";

export interface UnavailableReport extends SelfTest {
  /** Why the node cannot send its last gasp, as the agent found it (printable ASCII, at most REASON_MAX). */
  readonly reason: string;
}

/** A reason longer than this is cut: it ends up in a Node annotation and an Event. */
export const REASON_MAX = 300;
const UNAVAILABLE_LINE = /^lastgasp netconsole unavailable node=(\S+) boot_id=(\S+) reason=([ -~]{1,300})$/;

export function formatUnavailable(report: UnavailableReport): string {
  const line = formatSelfTest(report).replace(SELF_TEST_MARKER, UNAVAILABLE_MARKER);
  const reason =
    report.reason
      .replace(/[^ -~]+/g, " ")
      .trim()
      .slice(0, REASON_MAX) || "unknown";
  return `${line} reason=${reason}`;
}

/** The unavailable report in a line's text, or undefined when the line is not one. */
export function parseUnavailable(text: string): UnavailableReport | undefined {
  if (!text.startsWith(UNAVAILABLE_MARKER)) return undefined;
  const match = UNAVAILABLE_LINE.exec(text.trimEnd());
  if (match === null) return undefined;
  const [, node = "", bootId = "", reason = ""] = match;
  return NODE_NAME.test(node) && BOOT_ID.test(bootId) ? { node, bootId, reason } : undefined;
}
