// Detection patterns are data, not code (as in node-problem-detector): a YAML file with good defaults beside
// this module, replaceable with --patterns. Loading validates every expression up front.
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface DetectionPatterns {
  readonly panic: readonly RegExp[];
  readonly panicEnd: readonly RegExp[];
  readonly cause: readonly RegExp[];
}

export const defaultPatternsFile = new URL("./patterns.yaml", import.meta.url);

export function loadPatterns(file: string | URL = defaultPatternsFile): DetectionPatterns {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read detection patterns ${String(file)}: ${(err as Error).message}`, { cause: err });
  }
  return parsePatterns(text, String(file));
}

export function parsePatterns(yamlText: string, origin = "patterns"): DetectionPatterns {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch (err) {
    throw new Error(`${origin}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new Error(`${origin}: expected a mapping with keys panic, panicEnd, cause`);
  const known = new Set(["panic", "panicEnd", "cause"]);
  const unknown = Object.keys(doc).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new Error(`${origin}: unknown key(s) ${unknown.join(", ")} (expected panic, panicEnd, cause)`);
  const record = doc as Record<string, unknown>;
  const patterns = {
    panic: compileList(record.panic, `${origin}: panic`, true),
    panicEnd: compileList(record.panicEnd ?? [], `${origin}: panicEnd`, false),
    cause: compileList(record.cause ?? [], `${origin}: cause`, false),
  };
  if (patterns.panic.length === 0) throw new Error(`${origin}: panic needs at least one pattern`);
  return patterns;
}

function compileList(value: unknown, where: string, needsReason: boolean): RegExp[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
    throw new Error(`${where}: expected a list of strings`);
  return value.map((source, i) => {
    let regex: RegExp;
    try {
      regex = new RegExp(source);
    } catch (err) {
      throw new Error(
        `${where}[${i}]: invalid regular expression ${JSON.stringify(source)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (needsReason && !source.includes("(?<reason>"))
      throw new Error(`${where}[${i}]: needs a named group (?<reason>…)`);
    return regex;
  });
}
