// A live kubelet whose clock is wrong: it renews its node's Lease on schedule (every quarter of the Lease's
// duration, as the kubelet does) but stamps renewTime with its own clock, `skewMs` off. The Lease updates are
// real API writes; only the clock is made up, because that is what the test is about.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { microTime } from "../../operator/kube/leases.ts";

const LEASE_DURATION_SECONDS = 40;
const RENEW_INTERVAL_MS = (LEASE_DURATION_SECONDS * 1000) / 4;

export class SkewedKubelet {
  private readonly api: CoordinationV1Api;
  private readonly nodeName: string;
  private readonly skewMs: number;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  renewals = 0;
  failures = 0;

  constructor(kc: KubeConfig, nodeName: string, skewMs: number) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.nodeName = nodeName;
    this.skewMs = skewMs;
  }

  /** Renews once now (creating the Lease if needed), then on schedule until stopped. */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => {
      this.renewing = this.renew().catch(() => {
        this.failures++;
      });
    }, RENEW_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private async renew(): Promise<void> {
    const renewTime = microTime(new Date(Date.now() + this.skewMs));
    const namespace = "kube-node-lease";
    const current = await this.api.readNamespacedLease({ namespace, name: this.nodeName }).catch(() => undefined);
    const spec = { holderIdentity: this.nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime };
    const metadata = { name: this.nodeName, namespace, resourceVersion: current?.metadata?.resourceVersion };
    const body: V1Lease = { metadata, spec };
    if (current === undefined) await this.api.createNamespacedLease({ namespace, body });
    else await this.api.replaceNamespacedLease({ namespace, name: this.nodeName, body });
    this.renewals++;
  }
}
