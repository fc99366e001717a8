// The one place where API errors are classified. Callers decide on retry, give-up and condition reasons from
// the class, never from raw status codes scattered through the code.

export type ApiErrorClass =
  | "NotFound" // 404
  | "Conflict" // 409 (UID precondition failed, resourceVersion changed)
  | "AlreadyExists" // 409 with reason AlreadyExists
  | "Gone" // 410 (watch resourceVersion too old)
  | "Invalid" // 400, 422
  | "Forbidden" // 403
  | "Unauthorized" // 401
  | "Throttled" // 429
  | "Unavailable" // 5xx, connection refused/reset, timeouts
  | "Unknown";

export interface ClassifiedError {
  readonly class: ApiErrorClass;
  readonly code?: number;
  readonly message: string;
  /** From Retry-After, when the server sent one. */
  readonly retryAfterMs?: number;
  /** Worth trying again later (the same request may succeed). */
  readonly retryable: boolean;
}

interface MaybeApiException {
  code?: unknown;
  body?: unknown;
  headers?: Record<string, string>;
  message?: unknown;
  cause?: unknown;
}

export function classifyError(err: unknown): ClassifiedError {
  const e = (err ?? {}) as MaybeApiException;
  const message = describe(err);
  if (typeof e.code === "number") return classifyStatus(e.code, e, message);
  return { class: "Unavailable", message, retryable: true };
}

function classifyStatus(code: number, e: MaybeApiException, message: string): ClassifiedError {
  const base = { code, message };
  if (code === 404) return { ...base, class: "NotFound", retryable: false };
  if (code === 409)
    return { ...base, class: statusReason(e) === "AlreadyExists" ? "AlreadyExists" : "Conflict", retryable: false };
  if (code === 410) return { ...base, class: "Gone", retryable: false };
  if (code === 400 || code === 422) return { ...base, class: "Invalid", retryable: false };
  if (code === 401) return { ...base, class: "Unauthorized", retryable: true };
  if (code === 403) return { ...base, class: "Forbidden", retryable: true };
  const retryAfterMs = retryAfter(e.headers);
  const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (code === 429) return { ...base, ...extra, class: "Throttled", retryable: true };
  if (code >= 500) return { ...base, ...extra, class: "Unavailable", retryable: true };
  return { ...base, class: "Unknown", retryable: false };
}

function statusReason(e: MaybeApiException): string | undefined {
  const body: unknown = typeof e.body === "string" ? safeJson(e.body) : e.body;
  return typeof body === "object" && body !== null && "reason" in body && typeof body.reason === "string"
    ? body.reason
    : undefined;
}

function retryAfter(headers: Record<string, string> | undefined): number | undefined {
  const value = headers?.["retry-after"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A one-line description: the API's message when there is one, the network cause otherwise. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & MaybeApiException;
  const body = typeof e.body === "string" ? safeJson(e.body) : e.body;
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string")
    return `${e.code as number}: ${body.message}`;
  const cause = e.cause instanceof Error ? `: ${describe(e.cause)}` : "";
  return `${e.message.split("\n")[0] ?? ""}${cause}`;
}
