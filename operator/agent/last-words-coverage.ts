// What this node keeps of a panic besides netconsole, read from sysfs: the pstore backend the kernel registered
// (/sys/module/pstore/parameters/backend; "(null)" when none), ramoops's record size when ramoops is it, and
// whether a kdump capture kernel is loaded (/sys/kernel/kexec_crash_loaded). A file that is not there means the
// kernel has no such thing (no pstore, no kexec): that is an answer, not an error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ANNOTATIONS } from "../api/keys.ts";
import { formatLastWords, type LastWordsCoverage } from "../api/last-words.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import type { Logger } from "../log.ts";

export function readLastWordsCoverage(sysRoot: string): LastWordsCoverage {
  const backend = read(join(sysRoot, "module/pstore/parameters/backend"));
  const pstore =
    backend === undefined || backend === "" || backend === "(null)"
      ? undefined
      : { backend, ...recordSize(sysRoot, backend) };
  return {
    ...(pstore === undefined ? {} : { pstore }),
    kdump: read(join(sysRoot, "kernel/kexec_crash_loaded")) === "1",
  };
}

function recordSize(sysRoot: string, backend: string): { recordBytes?: number } {
  if (backend !== "ramoops") return {};
  const bytes = Number(read(join(sysRoot, "module/ramoops/parameters/record_size")));
  return Number.isInteger(bytes) && bytes > 0 ? { recordBytes: bytes } : {};
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export interface CoverageReporterDeps {
  readonly sysRoot: string;
  readonly nodeName: string;
  readonly writer: Pick<ClusterWriter, "annotateNode">;
  readonly log: Logger;
}

/**
 * Keeps the agent's Node annotated with what it keeps (lastgasp.dev/last-words): written when it changes (a kdump
 * service loads its capture kernel some time into the boot), checked at every pass.
 */
export class CoverageReporter {
  private readonly deps: CoverageReporterDeps;
  private written: string | undefined;

  constructor(deps: CoverageReporterDeps) {
    this.deps = deps;
  }

  async report(): Promise<string> {
    const value = formatLastWords(readLastWordsCoverage(this.deps.sysRoot));
    if (value === this.written) return value;
    await this.deps.writer.annotateNode(this.deps.nodeName, { [ANNOTATIONS.lastWords]: value });
    this.written = value;
    this.deps.log.info("Annotated the Node with the last words it keeps", {
      node: this.deps.nodeName,
      lastWords: value,
    });
    return value;
  }
}
