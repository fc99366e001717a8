// lastgasp_build_info: which version of lastgasp (and of Node) each component runs, the value always 1, so that
// dashboards and alerts can join on it and a fleet half-way through an upgrade shows.
import { Gauge, type Registry } from "prom-client";
import { VERSION } from "./version.ts";

export function registerBuildInfo(registry: Registry, component: string): void {
  new Gauge({
    name: "lastgasp_build_info",
    help: "The running lastgasp: version, component and Node.js version (always 1).",
    labelNames: ["version", "component", "node_version"],
    registers: [registry],
  }).set({ version: VERSION, component, node_version: process.versions.node }, 1);
}
