// Ordinary kernel lines, as a busy node prints them: what S4 and S5's generator sends between panics, and what
// the ingest CPU probe feeds the receiver's core.
export const CHATTER: readonly string[] = [
  "eth0: Link is Up - 25Gbps Full Duplex, Flow Control: None",
  "EXT4-fs (nvme1n1): mounted filesystem with ordered data mode. Quota mode: none.",
  "IPv6: ADDRCONF(NETDEV_CHANGE): cali7d1c9a3b2f4: link becomes ready",
  'audit: type=1400 audit(1732300000.123:4567): apparmor="STATUS" operation="profile_replace"',
  'kubelet[2314]: I1122 10:00:00.000000 2314 kubelet.go:2000] "SyncLoop UPDATE" source="api"',
];
