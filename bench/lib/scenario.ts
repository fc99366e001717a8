// What a benchmark scenario is: a run against its own control plane that returns figures (for the JSON) and
// rows (for the table), each row with its goal when the issue sets one. A benchmark reports; it never fails on
// a missed goal.
import { ControlPlane, type ControlPlaneOptions } from "../../test/harness/controlplane.ts";

export interface Row {
  readonly figure: string;
  readonly value: string;
  readonly goal?: string;
  readonly met?: boolean;
}

export interface ScenarioResult {
  readonly figures: Record<string, unknown>;
  readonly rows: Row[];
}

export interface ScenarioContext {
  /** Smaller sizes, so that every scenario together finishes in under two minutes. */
  readonly quick: boolean;
  /** Progress for the person watching (stderr). */
  readonly log: (message: string) => void;
  /** Meta's netconsd binary (--netconsd): S4 runs it beside lastgasp on the same load. */
  readonly netconsd?: string;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** Each scenario gets a fresh control plane, so that one scenario's objects never slow another down. */
export async function withControlPlane<T>(
  options: ControlPlaneOptions,
  fn: (plane: ControlPlane) => Promise<T>,
): Promise<T> {
  const plane = await ControlPlane.start(options);
  try {
    return await fn(plane);
  } finally {
    await plane.stop();
  }
}

export function ms(value: number): string {
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`;
}

export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(valueMs >= 100_000 ? 0 : 1)} s`;
}
