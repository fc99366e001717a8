// The shapes Kubernetes gives names and identifiers, for input that claims to be one (a self-test line from the
// network, a pod named on the command line).

/** A DNS subdomain (RFC 1123): Node and Pod names. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A DNS label (RFC 1123): namespace names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A UUID as Kubernetes and the kernel print it: object UIDs, boot ids. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
