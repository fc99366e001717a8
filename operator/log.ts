// Structured JSON logs (winston), one object per line on stdout, every level: the level is the `level` field, not
// the stream (a collector that takes stderr for errors would otherwise call every line an error). Messages are
// capitalised and past tense, naming the object; details go in fields, not in the message text. An Error given as
// the `err` field is written whole: its type, message, stack and its cause's, as `err`. Format `ecs` writes
// Elastic Common Schema instead (Elastic's own formatter: `@timestamp`, `log.level`, `error.*` from `err`).
import { ecsFormat } from "@elastic/ecs-winston-format";
import type { Writable } from "node:stream";
import winston from "winston";

export type Logger = winston.Logger;

/** An Error as a log field: plain, with its stack and the chain of causes (bounded: a cycle cannot loop). */
export interface ErrorFields {
  readonly type: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  readonly cause?: ErrorFields | string;
}

const MAX_CAUSES = 5;

export function errorFields(err: unknown, depth = 0): ErrorFields | string {
  if (!(err instanceof Error)) return String(err);
  const { code } = err as { code?: unknown };
  const cause = depth < MAX_CAUSES && err.cause !== undefined ? errorFields(err.cause, depth + 1) : undefined;
  return {
    type: err.name,
    message: err.message,
    ...(err.stack === undefined ? {} : { stack: err.stack }),
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(cause === undefined ? {} : { cause }),
  };
}

/** Turns the `err` field (an Error) into its plain fields. */
const errField = winston.format((info) => {
  if (info.err !== undefined) info.err = errorFields(info.err);
  return info;
});

export type LogFormat = "json" | "ecs";

export interface LogOptions {
  readonly format?: LogFormat;
  /** Where the lines go: stdout unless a test reads them itself. */
  readonly stream?: Writable;
}

const FORMATS: Record<LogFormat, () => winston.Logform.Format> = {
  json: () =>
    winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      errField(),
      winston.format.json(),
    ),
  ecs: () => ecsFormat({ convertErr: true, apmIntegration: false }),
};

/** `level` "silent" logs nothing (tests). */
export function createLogger(level: string, component: string, options: LogOptions = {}): Logger {
  const { format = "json", stream } = options;
  return winston.createLogger({
    level: level === "silent" ? "error" : level,
    silent: level === "silent",
    defaultMeta: { component },
    format: FORMATS[format](),
    transports: [stream === undefined ? new winston.transports.Console() : new winston.transports.Stream({ stream })],
  });
}
