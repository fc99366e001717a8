// S2 beside S6: how much sooner a dead node's pods are gone with lastgasp than with stock Kubernetes. When S6
// hit its cap, the ratio is a lower bound ("≥").
import type { Row } from "./scenario.ts";

interface S2Like {
  defaults?: { panicToRemediatedMs?: { p50?: number } };
  leaseCheckOff?: { panicToRemediatedMs?: { p50?: number } };
  leaseCheckOn?: { panicToRemediatedMs?: { p50?: number } };
}
interface S6Like {
  capMs?: number;
  podsGoneMs?: number | null;
}

const GOAL_RATIO = 100;

/** S6 ended at its cap with pods left: its time, and so the ratio, is a lower bound. */
function lowerBound(s6: S6Like | undefined): string {
  return s6?.podsGoneMs === null || s6?.podsGoneMs === undefined ? "≥ " : "";
}

export function compareWithStock(s2: unknown, s6: unknown): { rows: Row[]; figures: Record<string, unknown> } {
  const a = s2 as S2Like | undefined;
  const b = s6 as S6Like | undefined;
  const stockMs = b?.podsGoneMs ?? b?.capMs;
  if (a === undefined || stockMs === undefined) return { rows: [], figures: {} };
  const bound = lowerBound(b);
  const rows: Row[] = [];
  const figures: Record<string, unknown> = {};
  for (const [label, key, v] of [
    ["defaults", "speedupDefaults", a.defaults],
    ["lease check off", "speedupLeaseCheckOff", a.leaseCheckOff],
    ["lease check alone", "speedupLeaseCheckOn", a.leaseCheckOn],
  ] as const) {
    const p50 = v?.panicToRemediatedMs?.p50;
    if (p50 === undefined || p50 <= 0) continue;
    const ratio = Math.floor(stockMs / p50);
    figures[key] = `${bound}${ratio}`;
    rows.push({
      figure: `S2 (${label}, p50) vs stock: pods gone sooner by`,
      value: `${bound}${ratio}×`,
      goal: `≥ ${GOAL_RATIO}×`,
      met: ratio >= GOAL_RATIO,
    });
  }
  return { rows, figures };
}
