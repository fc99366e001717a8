// The body of an extended record: the escaped text up to the first newline, then ` KEY=VALUE` lines. Those are,
// in order, printk's dictionary (SUBSYSTEM=, DEVICE=), netconsole userdata (keys the admin chose) and netconsole
// sysdata (cpu=, taskname=, release=, msgid=).
import { LIMITS } from "../api/kernelpanicevent.ts";
import { decodeEscapes } from "./escapes.ts";

export interface ExtendedBody {
  readonly text: string;
  readonly userdata: Record<string, string>;
  readonly sysdata: Record<string, string>;
}

const NEWLINE = 0x0a;
const dictionaryKeys = new Set(["SUBSYSTEM", "DEVICE"]);
const sysdataKeys = new Set(["cpu", "taskname", "release", "msgid"]);

export function parseExtendedBody(body: Uint8Array): ExtendedBody {
  const firstNewline = body.indexOf(NEWLINE);
  const textEnd = firstNewline === -1 ? body.length : firstNewline;
  const result: ExtendedBody = { text: decodeEscapes(body.subarray(0, textEnd)), userdata: {}, sysdata: {} };
  if (firstNewline === -1) return result;
  for (const line of Buffer.from(body.subarray(firstNewline + 1))
    .toString("utf8")
    .split("\n")) {
    addField(result, line);
  }
  return result;
}

function addField(body: ExtendedBody, line: string): void {
  if (!line.startsWith(" ")) return;
  const eq = line.indexOf("=");
  if (eq <= 1) return;
  const key = line.slice(1, eq);
  const value = line.slice(eq + 1);
  if (dictionaryKeys.has(key)) return;
  if (sysdataKeys.has(key)) {
    body.sysdata[key] = value;
    return;
  }
  // Bounded as netconsole itself bounds userdata; anything beyond did not come from a kernel.
  if (Object.keys(body.userdata).length >= LIMITS.userdataEntries || key.length > LIMITS.userdataKey) return;
  body.userdata[key] = value.slice(0, LIMITS.userdataValue);
}
