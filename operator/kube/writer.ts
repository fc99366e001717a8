// The adapter through which every write to the cluster goes. Each write is idempotent (deterministic names,
// AlreadyExists = done, 404 on delete = done, UID preconditions) and bounded in time; writes that remediate
// (pods, nodes) honour dry-run by asking the API server to validate without persisting (dryRun=All).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../api/kernelpanicevent.ts";
import { classifyError } from "./errors.ts";

export interface WriterOptions {
  /** Validate remediating writes on the server without persisting them. */
  readonly dryRun: boolean;
  /** Give up on one request after this long (it is then retried by the caller). */
  readonly requestTimeoutMs: number;
}

export type CreateResult = "created" | "exists";

export class ClusterWriter {
  private readonly objects: CustomObjectsApi;
  private readonly options: WriterOptions;

  constructor(kc: KubeConfig, options: WriterOptions) {
    this.objects = kc.makeApiClient(CustomObjectsApi);
    this.options = options;
  }

  /**
   * Records a panic. Always written, dry-run or not: the record is what dry-run reports on. Another receiver
   * having created the same (deterministically named) event already is success.
   */
  async createKernelPanicEvent(event: KernelPanicEvent): Promise<CreateResult> {
    try {
      await this.timed(
        this.objects.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: event }),
      );
      return "created";
    } catch (err) {
      if (classifyError(err).class === "AlreadyExists") return "exists";
      throw err;
    }
  }

  private async timed<T>(request: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`request timed out after ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
    });
    try {
      return await Promise.race([request, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
