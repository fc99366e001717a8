// A node agent's settings for tests that run NetconsoleAgent in-process: the host files in `dir` (kmsg, printk,
// boot_id), module loading off, the defaults' intervals. `overrides` for what a test is about.
import { join } from "node:path";
import type { AgentConfig } from "../../operator/agent/netconsole-agent.ts";

export function testAgentConfig(dir: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    receivers: [],
    nodeName: "node-a",
    sourceIp: "",
    localPort: 6665,
    configfsRoot: "unused",
    kmsgPath: join(dir, "kmsg"),
    printkPath: join(dir, "printk"),
    bootIdPath: join(dir, "boot_id"),
    loadModule: false,
    checkIntervalSeconds: 30,
    selfTest: true,
    selfTestIntervalSeconds: 300,
    neighbourTimeoutMs: 100,
    lastWords: false,
    pstoreDir: join(dir, "pstore"),
    pstoreArchiveDir: join(dir, "pstore-archive"),
    kdumpDir: join(dir, "crash"),
    reportedFile: join(dir, "reported-panics.json"),
    sysRoot: join(dir, "sys"),
    erasePstore: false,
    patternsFile: "",
    contextLines: 20,
    kubeconfig: "",
    logFormat: "json",
    logLevel: "error",
    ...overrides,
  };
}
