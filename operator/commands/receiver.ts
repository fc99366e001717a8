// `lastgasp receiver`: hears netconsole traffic and records each kernel panic as a KernelPanicEvent. This is the
// receiver's composition root: settings → options → objects, each handed what it needs.
import { availableParallelism } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "./command.ts";
import { systemClock, type Clock } from "../clock.ts";
import { GROUP } from "../api/kernelpanicevent.ts";
import { receiverSettings } from "../config/receiver.ts";
import { describeSettings, resolveOptions, type SettingValues } from "../config/settings.ts";
import { AccessCheck, requireAccess, type Permission } from "../kube/access.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterReader } from "../kube/reader.ts";
import { ClusterWriter } from "../kube/writer.ts";
import { createLogger, type Logger } from "../log.ts";
import { defaultPatternsFile, loadPatterns } from "../panics/detector/patterns.ts";
import { AfterPanicRecorder, afterPanicCluster } from "../receiver/main/after-panic.ts";
import { CoverageRecorder, coverageCluster } from "../receiver/main/coverage-recorder.ts";
import { PanicGate } from "../receiver/main/gate.ts";
import { NodeAddresses } from "../receiver/main/node-addresses.ts";
import { IngestPool, type ThreadHeap } from "../receiver/main/ingest-pool.ts";
import { ReceiverMetrics } from "../receiver/metrics.ts";
import { Receiver, TICK_MS } from "../receiver/main/service.ts";
import { Recorder } from "../receiver/main/recorder.ts";
import { Spool, SpooledSink } from "../receiver/main/spool.ts";
import { readinessMonitor } from "./readiness.ts";
import { runUntilSignalled } from "./run.ts";
import {
  COVERAGE_API,
  COVERAGE_MAX_IN_FLIGHT,
  FRAGMENTS_IN_FLIGHT_PER_SOURCE,
  MAX_UNVERIFIED_PANICS,
  MIN_NODE_REFRESH_MS,
  RECEIVER_API,
  RECEIVER_WRITE_BACKOFF_MS,
  RECEIVER_WRITE_CONCURRENCY,
  RECEIVER_MEMORY_MIB,
  RECEIVE_THREAD_HEAP,
  RECEIVE_THREAD_HEARTBEAT_MS,
  WATCH_START_RETRY_MS,
} from "./tuning.ts";

export type ReceiverConfig = SettingValues<typeof receiverSettings>;

/** What recording a panic cannot do without: create the event, and list the Nodes it must come from. */
export const RECEIVER_PERMISSIONS: readonly Permission[] = [
  { verb: "create", resource: "kernelpanicevents", group: GROUP },
  { verb: "list", resource: "nodes" },
];

/**
 * The receive threads to start: as set, or one per CPU but only as many as the memory limit has room for with the
 * worst case of each (RECEIVER_MEMORY_MIB), and at least one.
 */
export function receiveThreads(
  config: Pick<ReceiverConfig, "receiveThreads" | "memoryLimitBytes">,
  cpus: number,
): number {
  if (config.receiveThreads > 0) return config.receiveThreads;
  if (config.memoryLimitBytes === 0) return cpus;
  const roomMib = config.memoryLimitBytes / 2 ** 20 - RECEIVER_MEMORY_MIB.base;
  return Math.max(1, Math.min(cpus, Math.floor(roomMib / RECEIVER_MEMORY_MIB.perThread)));
}

function threadHeap(config: ReceiverConfig, threads: number): ThreadHeap {
  const budgetMb = config.maxBufferedBytes / threads / (1024 * 1024);
  return {
    maxYoungGenerationSizeMb: RECEIVE_THREAD_HEAP.youngMb,
    maxOldGenerationSizeMb: Math.ceil(RECEIVE_THREAD_HEAP.oldBaseMb + RECEIVE_THREAD_HEAP.oldPerBudgetMb * budgetMb),
  };
}

export const receiverCommand: Command = {
  usage: `Usage: lastgasp receiver [options]\n\nEvery option can also be set with the environment variable shown.\n\n${describeSettings(receiverSettings)}`,
  run: async (args) =>
    runUntilSignalled("receiver", async () => {
      const config = resolveOptions(receiverSettings, args, process.env);
      const receiver = await launchReceiver(config, loadKubeConfig(config.kubeconfig));
      return async () => receiver.stop();
    }),
};

/**
 * The receiver as the commands run it (`receiver` and `all`); rejects at once when the credentials cannot work.
 * Coverage has an API caller of its own, so that it never delays a panic's record.
 */
export async function launchReceiver(
  config: ReceiverConfig,
  kc: KubeConfig,
  log: Logger = createLogger(config.logLevel, "receiver", { format: config.logFormat }),
  clock: Clock = systemClock,
): Promise<Receiver> {
  const patterns = loadPatterns(config.patternsFile === "" ? defaultPatternsFile : config.patternsFile);
  const caller = new ApiCaller(RECEIVER_API, clock);
  const access = new AccessCheck(kc, caller);
  await requireAccess(access, RECEIVER_PERMISSIONS);
  const metrics = new ReceiverMetrics();
  const reader = new ClusterReader(kc, caller);
  const writer = new ClusterWriter(kc, caller, { dryRun: false, component: "lastgasp-receiver" });
  const coverageCaller = new ApiCaller(COVERAGE_API, clock);
  const coverageWriter = new ClusterWriter(kc, coverageCaller, { dryRun: false, component: "lastgasp-receiver" });
  const coverage = new CoverageRecorder(
    coverageCluster(new ClusterReader(kc, coverageCaller), coverageWriter),
    {
      intervalMs: config.coverageIntervalSeconds * 1000,
      maxNodes: config.maxSources,
      maxInFlight: COVERAGE_MAX_IN_FLIGHT,
    },
    metrics,
    log,
  );
  const spool =
    config.spoolDirectory === "" ? undefined : new Spool(config.spoolDirectory, config.maxPendingWrites, log);
  const recorder = new Recorder(
    spool === undefined ? writer : new SpooledSink(writer, spool),
    {
      receivedBy: config.receivedBy,
      maxPending: config.maxPendingWrites,
      concurrency: RECEIVER_WRITE_CONCURRENCY,
      initialBackoffMs: RECEIVER_WRITE_BACKOFF_MS.initial,
      maxBackoffMs: RECEIVER_WRITE_BACKOFF_MS.max,
    },
    metrics,
    log,
    clock,
  );
  const nodeAddresses = config.nodeSourcesOnly
    ? new NodeAddresses({ source: reader, log, clock, retryMs: WATCH_START_RETRY_MS })
    : undefined;
  const gate = new PanicGate(
    {
      nodeSourcesOnly: config.nodeSourcesOnly,
      refreshMs: config.nodeAddressRefreshSeconds * 1000,
      minRefreshMs: MIN_NODE_REFRESH_MS,
      maxUnverified: MAX_UNVERIFIED_PANICS,
      budget: {
        perWindow: config.sourceEventBudget,
        windowMs: config.sourceEventWindowSeconds * 1000,
        maxSources: config.maxSources,
      },
    },
    {
      nodes: reader,
      ...(nodeAddresses === undefined ? {} : { watched: nodeAddresses }),
      recorder,
      metrics,
      log,
      clock,
    },
  );
  const afterPanic = new AfterPanicRecorder(afterPanicCluster(gate, coverageWriter), metrics, log);
  const threads = receiveThreads(config, availableParallelism());
  if (config.receiveThreads === 0 && threads < availableParallelism())
    log.info("Started fewer receive threads than CPUs: the memory limit has room for no more", {
      receiveThreads: threads,
      cpus: availableParallelism(),
      memoryLimitBytes: config.memoryLimitBytes,
    });
  const pool = await IngestPool.start(
    {
      ingest: {
        patterns,
        detector: {
          contextLines: config.contextLines,
          quietMs: config.contextQuietMs,
          deadlineMs: config.contextDeadlineMs,
          duplicateWindowMs: config.duplicateWindowSeconds * 1000,
        },
        stream: {
          maxLineLength: config.maxLineLength,
          maxRecordBytes: config.maxFragmentedRecordBytes,
          maxInFlight: FRAGMENTS_IN_FLIGHT_PER_SOURCE,
          timeoutMs: config.fragmentTimeoutMs,
        },
        // Each thread holds the sources the kernel hashes to it: the bounds are shared out between them.
        maxSources: Math.ceil(config.maxSources / threads),
        maxBufferedBytes: Math.ceil(config.maxBufferedBytes / threads),
        sourceIdleMs: config.sourceIdleSeconds * 1000,
        ratePerSecond: config.sourceRatePerSecond,
        rateBurst: config.sourceRateBurst,
        allowedSourceCidrs: config.allowedSourceCidrs,
      },
      listen: config.listen,
      socketReceiveBufferBytes: config.socketReceiveBufferBytes,
      receivePath: config.receivePath,
      tickMs: TICK_MS,
      heartbeatMs: RECEIVE_THREAD_HEARTBEAT_MS,
      logLevel: log.silent ? "silent" : log.level,
      logFormat: config.logFormat,
    },
    threads,
    threadHeap(config, threads),
    { panics: gate, selfTests: coverage, afterPanic },
    { log, clock },
  );
  // What the last receiver on this spool could not write is recorded first.
  for (const event of (await spool?.load()) ?? []) recorder.enqueue(event, Date.parse(event.spec.detectedTime));
  return Receiver.start({
    metrics,
    pool,
    gate,
    nodeAddresses,
    recorder,
    spool,
    coverage,
    afterPanic,
    access: readinessMonitor(access, RECEIVER_PERMISSIONS, log, clock),
    options: {
      listen: config.listen,
      httpAddress: config.httpAddress,
      shutdownGraceMs: config.shutdownGraceSeconds * 1000,
    },
    log,
    clock,
  });
}
