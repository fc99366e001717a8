// Every console line of every node is tested against every detection pattern, so the test is made cheap before
// any regular expression runs: a pattern anchored at a literal (`^Oops: `) can only match a line that starts
// with that literal's first character, and `^.+ invoked oom-killer: …` only one that contains the literal.
// The result is exactly the patterns' own: the prefilter only skips patterns that cannot match.
import type { DetectionPatterns } from "./patterns.ts";

interface Candidate {
  readonly regex: RegExp;
  /** The line must contain this for the pattern to match (checked before the pattern runs). */
  readonly mustInclude?: string;
}

export class LineMatcher {
  /** By a line's first character: the patterns that may match it, in their configured order. */
  private readonly byFirstChar = new Map<number, readonly Candidate[]>();
  /** For a line whose first character no anchored pattern starts with. */
  private readonly unanchored: readonly Candidate[];

  constructor(patterns: readonly RegExp[]) {
    const firsts = patterns.map((p) => anchoredLiteral(p)?.charCodeAt(0));
    const candidates = patterns.map(candidateOf);
    this.unanchored = candidates.filter((_, i) => firsts[i] === undefined);
    for (const first of new Set(firsts)) {
      if (first === undefined) continue;
      this.byFirstChar.set(
        first,
        candidates.filter((_, i) => firsts[i] === undefined || firsts[i] === first),
      );
    }
  }

  /** The first pattern's match on the line, as RegExp.exec gives it, or null. */
  exec(line: string): RegExpExecArray | null {
    for (const candidate of this.candidatesFor(line)) {
      if (candidate.mustInclude !== undefined && !line.includes(candidate.mustInclude)) continue;
      const match = candidate.regex.exec(line);
      if (match !== null) return match;
    }
    return null;
  }

  test(line: string): boolean {
    return this.exec(line) !== null;
  }

  private candidatesFor(line: string): readonly Candidate[] {
    return this.byFirstChar.get(line.charCodeAt(0)) ?? this.unanchored;
  }
}

export interface PatternMatchers {
  readonly panic: LineMatcher;
  readonly panicEnd: LineMatcher;
  readonly cause: LineMatcher;
}

// One set per loaded pattern file, shared by every source's detector.
const compiled = new WeakMap<DetectionPatterns, PatternMatchers>();

export function matchersFor(patterns: DetectionPatterns): PatternMatchers {
  let matchers = compiled.get(patterns);
  if (matchers === undefined) {
    matchers = {
      panic: new LineMatcher(patterns.panic),
      panicEnd: new LineMatcher(patterns.panicEnd),
      cause: new LineMatcher(patterns.cause),
    };
    compiled.set(patterns, matchers);
  }
  return matchers;
}

/** Flags that change what `^` or a literal means; a pattern with any of them is never prefiltered. */
const UNSAFE_FLAGS = /[imsuvy]/;
const METACHARACTER = /[\\.?*+()[\]{}^$|]/;

/**
 * The literal a pattern's every match starts the line with: `^` then plain characters, with no top-level
 * alternation (`^a|b` matches lines that do not start with a). Undefined when there is none.
 */
export function anchoredLiteral(pattern: RegExp): string | undefined {
  const source = pattern.source;
  if (!source.startsWith("^") || UNSAFE_FLAGS.test(pattern.flags) || hasTopLevelAlternation(source)) return undefined;
  return literalAt(source, 1);
}

/** `^.+LITERAL…` / `^.*LITERAL…`: every match contains LITERAL. */
function candidateOf(pattern: RegExp): Candidate {
  const source = pattern.source;
  const wildcard = /^\^\.[+*]\??/.exec(source);
  if (wildcard === null || UNSAFE_FLAGS.test(pattern.flags) || hasTopLevelAlternation(source))
    return { regex: pattern };
  const literal = literalAt(source, wildcard[0].length);
  return literal === undefined ? { regex: pattern } : { regex: pattern, mustInclude: literal };
}

/** The plain characters of `source` from `start` up to the first metacharacter; a quantified last one is dropped. */
export function literalAt(source: string, start: number): string | undefined {
  const rest = source.slice(start);
  const end = rest.search(METACHARACTER);
  let literal = end === -1 ? rest : rest.slice(0, end);
  if (end !== -1 && /[?*{]/.test(rest[end]!)) literal = literal.slice(0, -1);
  return literal.length > 0 ? literal : undefined;
}

/** A `|` outside any group or class, i.e. one that splits the whole pattern. */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}
