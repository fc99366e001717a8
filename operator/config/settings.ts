// Declarative settings: each has one name (the Helm value), one flag and one LASTGASP_* variable, a parser that
// validates, and a default. Precedence: flag, then environment, then default. All problems are reported at
// once, at start-up, before anything listens or writes.

export interface Setting<T> {
  /** camelCase; the Helm value of the same name maps to it one-to-one. */
  readonly name: string;
  readonly description: string;
  readonly default: T;
  readonly parse: (raw: string) => T;
  /** Shown in --help instead of the default's string form. */
  readonly defaultText?: string;
  /** The flag may be given several times: each occurrence is parsed, and the lists are joined (T is a list). */
  readonly repeatable?: boolean;
}

export type SettingValues<S extends Record<string, Setting<unknown>>> = {
  -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function envOf(name: string): string {
  return `LASTGASP_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Parses `--flag value` / `--flag=value` arguments and the environment against the settings. */
export function resolveSettings<S extends Record<string, Setting<unknown>>>(
  settings: S,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { values: SettingValues<S>; positionals: string[] } {
  const problems: string[] = [];
  const booleanFlags = new Set(
    Object.values(settings)
      .filter((s) => typeof s.default === "boolean")
      .map((s) => flagOf(s.name)),
  );
  const { flags, positionals } = splitArgs(args, problems, booleanFlags);
  const byFlag = new Map(Object.entries(settings).map(([key, s]) => [flagOf(s.name), key]));
  for (const flag of flags.keys()) if (!byFlag.has(flag)) problems.push(`unknown option ${flag}`);
  const values: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const given = flags.get(flagOf(setting.name));
    const fromVariable = fromEnv(env, envOf(setting.name));
    const raws = given ?? (fromVariable === undefined ? [] : [fromVariable]);
    if (given !== undefined && !setting.repeatable) raws.splice(0, raws.length - 1);
    if (raws.length === 0) {
      values[key] = setting.default;
      continue;
    }
    try {
      const parsed = raws.map((raw) => parseOne(setting, raw));
      values[key] = setting.repeatable ? parsed.flat() : parsed[0];
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { values: values as SettingValues<S>, positionals };
}

/** One raw value through its setting's parser; the error names where the value came from. */
function parseOne(setting: Setting<unknown>, raw: { value: string; from: string }): unknown {
  try {
    return setting.parse(raw.value);
  } catch (err) {
    throw new Error(`${raw.from}: ${(err as Error).message}`, { cause: err });
  }
}

/** For commands that take options only: `resolveSettings` that refuses any positional argument. */
export function resolveOptions<S extends Record<string, Setting<unknown>>>(
  settings: S,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): SettingValues<S> {
  const { values, positionals } = resolveSettings(settings, args, env);
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]!}`);
  return values;
}

/** An empty variable counts as unset (Helm renders unset values as ""). */
function fromEnv(env: NodeJS.ProcessEnv, name: string): { value: string; from: string } | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : { value, from: name };
}

/** A boolean flag takes the next argument only when it is a boolean word: `--extended FILE` means true. */
const BOOLEAN_WORDS = /^(true|false|1|0|yes|no)$/i;

function splitArgs(
  args: readonly string[],
  problems: string[],
  booleanFlags: ReadonlySet<string>,
): { flags: Map<string, { value: string; from: string }[]>; positionals: string[] } {
  const flags = new Map<string, { value: string; from: string }[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      positionals.push(...(arg === "--" ? args.slice(i + 1) : [arg]));
      if (arg === "--") break;
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    let value = eq === -1 ? args[i + 1] : arg.slice(eq + 1);
    if (eq === -1 && booleanFlags.has(flag) && !BOOLEAN_WORDS.test(value ?? "")) value = "true";
    else if (eq === -1) i++;
    if (value === undefined) problems.push(`${flag} needs a value`);
    else flags.set(flag, [...(flags.get(flag) ?? []), { value, from: flag }]);
  }
  return { flags, positionals };
}

/** --help text: one line per setting with its flag, variable and default. */
export function describeSettings(settings: Record<string, Setting<unknown>>): string {
  return Object.values(settings)
    .map(
      (s) =>
        `  ${flagOf(s.name)} (${envOf(s.name)})\n      ${s.description} Default: ${s.defaultText ?? JSON.stringify(s.default)}.`,
    )
    .join("\n");
}

// Parsers shared by the settings of every component.

export function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value))
      throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
    if (value < min || value > max) throw new Error(`expected a number from ${min} to ${max}, got ${value}`);
    return value;
  };
}

export function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
}

export function text(raw: string): string {
  return raw;
}

export function list(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function oneOf<T extends string>(...choices: T[]): (raw: string) => T {
  return (raw) => {
    if (!(choices as string[]).includes(raw))
      throw new Error(`expected one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
    return raw as T;
  };
}
