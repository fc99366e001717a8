// Deterministic KernelPanicEvent names: every receiver that hears the same panic derives the same name, so the
// second create gets AlreadyExists and the panic is recorded exactly once.
import { createHash } from "node:crypto";

/** What identifies one panic of one host, as far as the packets tell. */
export interface PanicIdentity {
  hostIP: string;
  firstLine: string;
  /** printk sequence number (extended mode): unique per panic within a boot. */
  sequence?: number;
  /** Console timestamp in microseconds since boot. */
  uptimeMicros?: number;
  release?: string;
  /**
   * Coarse wall-clock bucket, so that the same panic text from a later boot (a boot loop panicking at the same
   * sequence number) becomes a new event, while receivers a few milliseconds apart still agree.
   */
  epochBucket: number;
}

/** `127-0-0-7-3f2a9c0b1d4e`: the host IP made DNS-safe, then 12 hex digits of a hash of the identity. */
export function kernelPanicEventName(identity: PanicIdentity): string {
  const slug = identity.hostIP
    .toLowerCase()
    .replace(/[^0-9a-f]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const hash = createHash("sha256")
    .update(
      JSON.stringify([
        identity.hostIP,
        identity.firstLine,
        identity.sequence ?? null,
        identity.uptimeMicros ?? null,
        identity.release ?? null,
        identity.epochBucket,
      ]),
    )
    .digest("hex")
    .slice(0, 12);
  return `${slug}-${hash}`;
}
