// The kernel's side of netconsole, for tests on one machine: follows the kernel log file the agent writes its
// self-test to (standing in for /dev/kmsg), and sends each new line to every enabled target of the stand-in
// configfs directory, as netconsole would: extended records with the release prepended and the target's userdata,
// from the target's local_ip to its remote_ip:remote_port. A userspace line gets facility LOG_USER, as from
// /dev/kmsg. Nothing here is Kubernetes.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { NetconsoleConfigfs } from "../../operator/agent/configfs.ts";
import type { ObservedTarget } from "../../operator/agent/target.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";

const LOG_USER = 1;

export class NetconsoleEmulator {
  /** The agent's own configfs reader (the network-namespace test checks what it writes against the files). */
  private readonly configfs: NetconsoleConfigfs;
  private readonly kmsgPath: string;
  private offset = 0;
  private sequence = 1;
  private readonly timer: NodeJS.Timeout;
  private busy: Promise<void> = Promise.resolve();
  sent = 0;

  constructor(configfsRoot: string, kmsgPath: string) {
    this.configfs = new NetconsoleConfigfs(configfsRoot);
    this.kmsgPath = kmsgPath;
    this.timer = setInterval(() => {
      this.busy = this.busy.then(() => this.pump()).catch(() => undefined);
    }, 50);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }

  private async pump(): Promise<void> {
    if (!existsSync(this.kmsgPath)) return;
    const text = (await readFile(this.kmsgPath)).subarray(this.offset).toString("utf8");
    const end = text.lastIndexOf("\n") + 1;
    if (end === 0) return;
    this.offset += Buffer.byteLength(text.slice(0, end));
    for (const line of text
      .slice(0, end)
      .split("\n")
      .filter((l) => l !== ""))
      await this.print(line);
  }

  /** `<N>text` as written to /dev/kmsg: the level from N, facility LOG_USER unless N names one. */
  private async print(line: string): Promise<void> {
    const match = /^<(\d+)>(.*)$/.exec(line);
    const prefix = Number(match?.[1] ?? 4);
    const prio = prefix >= 8 ? prefix : LOG_USER * 8 + prefix;
    const text = match?.[2] ?? line;
    const seq = this.sequence++;
    for (const { attributes: target, userdata } of await this.enabledTargets()) {
      const { local_ip: localIp = "", remote_ip: remoteIp = "", remote_port: remotePort = "" } = target;
      const datagrams =
        target.extended === "1"
          ? encodeExtended([`<${prio}>${text}`], {
              extended: true,
              ...(target.release === "1" ? { release: "6.1.0-emulated" } : {}),
              userdata,
              firstSequence: seq,
            })
          : encodePlain([text]);
      const host = remoteIp.includes(":") ? `[${remoteIp}]` : remoteIp;
      await sendDatagrams(datagrams, { to: `${host}:${remotePort}`, from: localIp });
      this.sent += datagrams.length;
    }
  }

  private async enabledTargets(): Promise<ObservedTarget[]> {
    if (!existsSync(this.configfs.dir)) return [];
    const targets = await Promise.all((await this.configfs.targets()).map(async (name) => this.configfs.read(name)));
    return targets.filter((t) => t.enabled);
  }
}
