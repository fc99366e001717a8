// Structured JSON logs (winston). Messages are capitalised and past tense, naming the object; details go in
// fields, not in the message text.
import winston from "winston";

export type Logger = winston.Logger;

/** `level` "silent" logs nothing (tests). */
export function createLogger(level: string, component: string): Logger {
  return winston.createLogger({
    level: level === "silent" ? "error" : level,
    silent: level === "silent",
    defaultMeta: { component },
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] })],
  });
}
