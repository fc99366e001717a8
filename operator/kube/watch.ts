// List, then watch from the list's resourceVersion, as client-go's reflector does, with every list and every
// watch connection sent through the rate-limited ApiCaller (so watches count in its accounting and honour 429s).
// A watch the server ends (its timeoutSeconds) or that goes quiet reconnects from the last resourceVersion; a
// 410 Gone re-lists; any other failure reconnects with backoff. `health()` says whether it is still watching,
// so a watch that stopped and did not come back makes liveness fail instead of leaving events unseen.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Cancel, Clock } from "../clock.ts";
import type { ApiCaller } from "./caller.ts";
import { classifyError, describe } from "./errors.ts";

export interface WatchedObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
}

export interface ListWatchOptions<T extends WatchedObject> {
  /** API path of the collection, e.g. /apis/lastgasp.dev/v1alpha1/kernelpanicevents. */
  readonly path: string;
  readonly list: () => Promise<{ items: T[]; resourceVersion: string }>;
  /** Called for every object listed, added or changed, and for every cached object at each resync. */
  readonly onObject: (object: T) => void;
  readonly resyncMs: number;
  /** Called when a watch fails (not when the server ends one normally); for metrics and logs. */
  readonly onRestart: (error: string, retryInMs: number) => void;
  /**
   * What the cache keeps of each watched object, as client-go's SetTransform: a cache of many large objects (Nodes)
   * keeps only the fields its reader needs (`list` gives them already kept so). Default: the object as it came.
   */
  readonly fromWatch?: (object: unknown) => T;
}

/**
 * The server ends each watch after this long (client-go picks 5-10 min) and it is re-opened from the last
 * resourceVersion: no watch lives on a connection a load balancer may have silently dropped.
 */
export const WATCH_TIMEOUT_SECONDS = 300;
/** Reconnect backoff after a failed watch or list: doubles from the first to the last. */
export const WATCH_BACKOFF_MS = { first: 500, max: 30_000 } as const;

export interface WatchHealth {
  /** A watch connection is open now. */
  readonly connected: boolean;
  /** When a watch was last open (monotonic ms; 0: never), for "not watching for longer than N s" checks. */
  readonly lastConnectedMs: number;
  /** Stopped (by stop(), or nothing will reconnect it). */
  readonly stopped: boolean;
}

export class ListWatch<T extends WatchedObject> {
  private readonly watch: Watch;
  private readonly cache = new Map<string, T>();
  private resourceVersion = "";
  private request: AbortController | undefined;
  private cancelRetry: Cancel | undefined;
  private cancelResync: Cancel | undefined;
  private backoffMs: number = WATCH_BACKOFF_MS.first;
  private connected = false;
  private lastConnectedMs = 0;
  private stopped = false;
  /** Bumped at each change of the cache: readers that derive from it know when to derive again. */
  private changes = 0;
  /** Bumped at each (re)connect, so that a late callback of an abandoned watch is ignored. */
  private generation = 0;

  private readonly caller: ApiCaller;
  private readonly options: ListWatchOptions<T>;

  constructor(kc: KubeConfig, caller: ApiCaller, options: ListWatchOptions<T>) {
    this.watch = new Watch(kc);
    this.caller = caller;
    this.options = options;
  }

  /** Lists and opens the first watch; rejects when that fails (the caller decides whether to try again). */
  async start(): Promise<void> {
    await this.listAndWatch();
    this.cancelResync = this.caller.clock.setInterval(() => {
      for (const object of this.cache.values()) this.options.onObject(object);
    }, this.options.resyncMs);
  }

  health(): WatchHealth {
    return {
      connected: this.connected,
      lastConnectedMs: this.connected ? this.caller.clock.monotonicMs() : this.lastConnectedMs,
      stopped: this.stopped,
    };
  }

  /**
   * The objects as last listed or watched, while a watch is open; undefined before the first list and while the
   * watch is down (then the cache may be stale, and the caller reads the API instead).
   */
  cached(): T[] | undefined {
    return this.connected ? [...this.cache.values()] : undefined;
  }

  /** How many times the cache has changed: equal counts, the same cache. */
  get version(): number {
    return this.changes;
  }

  /** Stops watching; also how a test (or a fault) leaves it stopped for good. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    this.connected = false;
    this.cancelRetry?.();
    this.cancelResync?.();
    this.request?.abort();
    this.request = undefined;
  }

  private async listAndWatch(): Promise<void> {
    if (this.resourceVersion === "") {
      const { items, resourceVersion } = await this.options.list();
      this.replaceCache(items);
      this.resourceVersion = resourceVersion;
    }
    await this.openWatch();
  }

  private replaceCache(items: readonly T[]): void {
    this.cache.clear();
    for (const item of items) {
      this.cache.set(item.metadata.name, item);
      this.options.onObject(item);
    }
    this.changes++;
  }

  private async openWatch(): Promise<void> {
    this.request?.abort();
    const generation = ++this.generation;
    let settled = false;
    try {
      await this.caller.call(async () => {
        let failed: unknown;
        let open = false;
        const params = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
        const request = await this.watch.watch(
          this.options.path,
          { ...params, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
          (type: string, object: unknown) => {
            if (generation === this.generation) this.onWatchEvent(type, object);
          },
          (err: unknown) => {
            if (!open) failed = err ?? new Error("watch closed as it opened");
            else if (generation === this.generation) this.onWatchEnded(err);
          },
        );
        // Connected after the caller gave up (its timeout), after stop(), or after another (re)connect: drop it.
        if (failed !== undefined || settled || generation !== this.generation) {
          request.abort();
          if (failed !== undefined) throw asApiError(failed);
          return;
        }
        open = true;
        this.request = request;
        this.connected = true;
        this.lastConnectedMs = this.caller.clock.monotonicMs();
      });
    } finally {
      settled = true;
    }
    if (!this.connected && !this.stopped) throw new Error("watch did not open");
  }

  private onWatchEvent(type: string, object: unknown): void {
    const item = object as T & { code?: number };
    if (type === "ERROR") {
      if (item.code === 410) this.resourceVersion = ""; // the watch ends next; re-list then
      return;
    }
    if (type === "ADDED" || type === "MODIFIED") {
      const cached = this.cache.get(item.metadata.name);
      const kept = this.options.fromWatch === undefined ? item : this.options.fromWatch(item);
      this.cache.set(item.metadata.name, kept);
      this.changes++;
      if (cached?.metadata.resourceVersion !== item.metadata.resourceVersion) this.options.onObject(kept);
    } else if (type === "DELETED") {
      this.cache.delete(item.metadata.name);
      this.changes++;
    }
    this.resourceVersion = item.metadata.resourceVersion ?? this.resourceVersion;
    this.backoffMs = WATCH_BACKOFF_MS.first;
  }

  /** The server's timeout and a quiet connection's client-side timeout are routine: reconnect at once. */
  private onWatchEnded(err: unknown): void {
    this.connected = false;
    this.lastConnectedMs = this.caller.clock.monotonicMs();
    this.request = undefined;
    if (this.stopped) return;
    const routine = err === null || err === undefined || (err as Error).name === "TimeoutError";
    if (routine) this.reconnect(0);
    else this.failed(err);
  }

  private failed(err: unknown): void {
    if (classifyError(asApiError(err)).class === "Gone") this.resourceVersion = "";
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(WATCH_BACKOFF_MS.max, this.backoffMs * 2);
    this.options.onRestart(describe(err), delayMs);
    this.reconnect(delayMs);
  }

  private reconnect(delayMs: number): void {
    this.cancelRetry?.();
    this.cancelRetry = this.caller.clock.setTimeout(() => {
      if (this.stopped) return;
      this.listAndWatch().catch((err: unknown) => {
        if (!this.stopped) this.failed(err);
      });
    }, delayMs);
  }
}

/** client-node's Watch reports HTTP errors as `statusCode`; the ApiCaller and classifyError read `code`. */
function asApiError(err: unknown): unknown {
  const e = err as { statusCode?: unknown; code?: unknown } | null | undefined;
  if (e !== null && e !== undefined && typeof e.statusCode === "number" && e.code === undefined)
    return Object.assign(e, { code: e.statusCode });
  return err ?? new Error("watch ended");
}

/**
 * Starts a watch in the background, trying again `retryMs` after each failed start (its first list, or its first
 * watch) until it starts or is stopped. Returns the stop.
 */
export function keepWatching(
  watch: { start(): Promise<void>; stop(): void },
  options: { clock: Clock; retryMs: number; onStartFailed: (error: string, retryInMs: number) => void },
): () => void {
  let stopped = false;
  let cancelRetry: Cancel | undefined;
  const attempt = (): void => {
    watch.start().catch((err: unknown) => {
      if (stopped) return;
      options.onStartFailed(describe(err), options.retryMs);
      cancelRetry = options.clock.setTimeout(attempt, options.retryMs);
    });
  };
  attempt();
  return () => {
    stopped = true;
    cancelRetry?.();
    watch.stop();
  };
}
