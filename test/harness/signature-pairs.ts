// Crash signatures judged over every pair of labelled panics: the same bug should share a signature, different
// bugs should not. What test/unit/signature.test.ts asserts on the fixtures and hack/signature-corpus.ts prints for
// any corpus.

export interface Labelled {
  readonly name: string;
  /** The bug, as the corpus names it. */
  readonly bug: string;
  readonly signature: string;
  /** The signature's title, for saying what went wrong. */
  readonly title?: string;
}

export interface PairRates {
  readonly same: number;
  readonly sameShared: number;
  readonly different: number;
  readonly differentApart: number;
  /** Each pair that broke the rule, in words. */
  readonly failures: readonly string[];
}

export function pairRates(panics: readonly Labelled[]): PairRates {
  let same = 0;
  let sameShared = 0;
  let different = 0;
  let differentApart = 0;
  const failures: string[] = [];
  const shown = (p: Labelled) => (p.title === undefined ? p.name : `${p.name} "${p.title}"`);
  for (const [i, a] of panics.entries())
    for (const b of panics.slice(i + 1)) {
      if (a.bug === b.bug) {
        same++;
        if (a.signature === b.signature) sameShared++;
        else failures.push(`split  ${a.bug}: ${shown(a)} / ${shown(b)}`);
      } else {
        different++;
        if (a.signature !== b.signature) differentApart++;
        else failures.push(`merged ${a.name} (${a.bug}) / ${b.name} (${b.bug}): ${a.title ?? a.signature}`);
      }
    }
  return { same, sameShared, different, differentApart, failures };
}
