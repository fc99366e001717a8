// The receiver's Prometheus metrics. Every drop has a reason label (not_allowed, rate_limited, parse_error,
// fragment_timeout, fragment_evicted, memory, event_budget, unknown_source, queue_full,
// rejected, shed_overload), so nothing is lost silently.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { registerBuildInfo } from "../build-info.ts";

/** Label pairs of the signature counter: every pair costs a series, and a forger can make up new ones. */
export const MAX_SIGNATURE_SERIES = 200;

/** Every reason a datagram or detection is dropped for: each has a series from the start, at 0. */
export const DROP_REASONS = [
  "not_allowed",
  "rate_limited",
  "parse_error",
  "fragment_timeout",
  "fragment_evicted",
  "memory",
  "event_budget",
  "unknown_source",
  "queue_full",
  "rejected",
  "shed_overload",
] as const;

/** What became of a node agent's self-test line. */
export const SELF_TEST_RESULTS = [
  "recorded",
  "unavailable",
  "throttled",
  "busy",
  "unknown_node",
  "address_mismatch",
  "error",
] as const;
export type SelfTestResult = (typeof SELF_TEST_RESULTS)[number];

/** What became of a record that showed a node's kernel alive after its panic (after-panic.ts). */
export const AFTER_PANIC_RESULTS = ["written", "unverified", "busy", "error"] as const;
export type AfterPanicResult = (typeof AFTER_PANIC_RESULTS)[number];

export class ReceiverMetrics {
  readonly registry = new Registry();
  readonly packets = this.counter("lastgasp_receiver_packets_total", "Datagrams received.");
  readonly bytes = this.counter("lastgasp_receiver_bytes_total", "Bytes received.");
  readonly drops = this.counter("lastgasp_receiver_drops_total", "Datagrams or detections dropped, by reason.", [
    "reason",
  ]);
  readonly parseErrors = this.counter(
    "lastgasp_receiver_parse_errors_total",
    "Datagrams that could not be parsed, by kind.",
    ["kind"],
  );
  readonly rateLimitBypassed = this.counter(
    "lastgasp_receiver_rate_limit_bypassed_total",
    "Datagrams over their source's rate limit that were kept because they carry a panic line.",
  );
  readonly truncatedLines = this.counter(
    "lastgasp_receiver_truncated_lines_total",
    "Console lines cut at the line length limit.",
  );
  readonly panicsDetected = this.counter("lastgasp_receiver_panics_detected_total", "Kernel panics detected.");
  readonly duplicatePanics = this.counter(
    "lastgasp_receiver_duplicate_panic_lines_total",
    "Panic lines recognised as repeats of an already detected panic.",
  );
  readonly userspacePanics = this.counter(
    "lastgasp_receiver_userspace_panic_lines_total",
    "Panic lines from a non-kernel facility (written to /dev/kmsg), ignored.",
  );
  readonly selfTests = this.counter(
    "lastgasp_receiver_self_tests_total",
    "Node agent self-test lines (and unavailable reports) heard, by result (recorded, unavailable, throttled, busy, unknown_node, address_mismatch, error).",
    ["result"],
  );
  readonly streamAfterPanic = this.counter(
    "lastgasp_receiver_stream_after_panic_total",
    "Records that continued a node's stream well after a panic it carried (the kernel is alive), by result (written: the Node stamped; unverified: not that Node's boot; busy; error).",
    ["result"],
  );
  readonly eventsCreated = this.counter(
    "lastgasp_receiver_events_created_total",
    "KernelPanicEvents created (or found already created by another receiver).",
    ["result"],
  );
  /** By crash signature and kernel release; label pairs bounded (signatures come from untrusted text). */
  readonly signatures = this.counter(
    "lastgasp_receiver_panic_signatures_total",
    `KernelPanicEvents created, by crash signature id and kernel release (at most ${MAX_SIGNATURE_SERIES} pairs; the rest count as "other").`,
    ["signature", "release"],
  );
  private readonly signatureSeries = new Set<string>();
  readonly writeRetries = this.counter(
    "lastgasp_receiver_write_retries_total",
    "Retried writes of KernelPanicEvents, by cause.",
    ["cause"],
  );
  readonly pendingWrites = this.gauge("lastgasp_receiver_pending_writes", "KernelPanicEvents waiting to be written.");
  readonly nodeAddresses = this.gauge(
    "lastgasp_receiver_node_addresses",
    "Node addresses known to the receiver (panics from other addresses are dropped as unknown_source).",
  );
  readonly deferredPanics = this.gauge(
    "lastgasp_receiver_deferred_panics",
    "Panics waiting because their source is over its event budget.",
  );
  readonly shedding = this.gauge(
    "lastgasp_receiver_shedding",
    "Receive threads shedding chatter because they cannot keep up (drops reason shed_overload); panics are kept.",
  );
  readonly receiveThreads = new Gauge({
    name: "lastgasp_receiver_receive_threads",
    help: "Receive threads by how they read their sockets: recvmmsg (batches, through the bundled addon) or dgram (Node's sockets: the addon could not load, or receivePath is dgram).",
    labelNames: ["path"],
    registers: [this.registry],
  });
  readonly socketDrops = this.counter(
    "lastgasp_receiver_socket_drops_total",
    "Datagrams the kernel dropped at a full receive socket, before lastgasp could read them (recvmmsg path only: SO_MEMINFO).",
  );
  readonly sources = this.gauge("lastgasp_receiver_sources", "Sources (node addresses) currently tracked.");
  readonly bufferedBytes = this.gauge(
    "lastgasp_receiver_buffered_bytes",
    "Bytes of per-source state charged to the byte budget (maxBufferedBytes): fixed cost, partial lines, fragments, recent lines, pending context.",
  );
  readonly detectionToRecord = new Histogram({
    name: "lastgasp_receiver_detection_to_record_seconds",
    help: "Time from the panic line to the KernelPanicEvent existing.",
    buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /**
   * `processMetrics`: off in receive threads, whose process (CPU, memory) the main thread already reports, and
   * whose counters are merged into the main thread's series.
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (!(options.processMetrics ?? true)) return;
    collectDefaultMetrics({ register: this.registry, prefix: "lastgasp_receiver_" });
    this.initialiseSeries();
  }

  countSignature(signature: string, release: string): void {
    const key = `${signature}/${release}`;
    if (!this.signatureSeries.has(key) && this.signatureSeries.size >= MAX_SIGNATURE_SERIES) {
      this.signatures.inc({ signature: "other", release: "other" });
      return;
    }
    this.signatureSeries.add(key);
    this.signatures.inc({ signature, release });
  }

  /**
   * Labelled counters whose label values are known get every series at 0 from the start: a rate() or an alert
   * on a series that does not exist yet sees nothing, not zero.
   */
  private initialiseSeries(): void {
    for (const reason of DROP_REASONS) this.drops.inc({ reason }, 0);
    for (const result of SELF_TEST_RESULTS) this.selfTests.inc({ result }, 0);
    for (const result of AFTER_PANIC_RESULTS) this.streamAfterPanic.inc({ result }, 0);
    for (const result of ["created", "exists"]) this.eventsCreated.inc({ result }, 0);
    registerBuildInfo(this.registry, "receiver");
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}
