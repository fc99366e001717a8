// Which last words a node keeps besides netconsole, as its agent found them: a pstore backend (and its record
// size where the backend says) and a kdump capture kernel loaded. The agent writes it on its own Node (the
// annotation lastgasp.dev/last-words), the reconciler counts it, `lastgasp coverage` shows it:
//   pstore=ramoops/131072 kdump=loaded      pstore=efi_pstore kdump=none      pstore=none kdump=none

export interface LastWordsCoverage {
  /** The pstore backend registered (ramoops, efi_pstore, erst, pstore_blk…), and its record size in bytes. */
  readonly pstore?: { readonly backend: string; readonly recordBytes?: number };
  /** A kdump capture kernel is loaded (/sys/kernel/kexec_crash_loaded). */
  readonly kdump: boolean;
}

const BACKEND = /^[a-z0-9_-]{1,32}$/;
const VALUE = /^pstore=(none|([a-z0-9_-]{1,32})(?:\/([0-9]{1,10}))?) kdump=(loaded|none)$/;

export function formatLastWords(coverage: LastWordsCoverage): string {
  const { pstore } = coverage;
  const backend =
    pstore === undefined || !BACKEND.test(pstore.backend)
      ? "none"
      : `${pstore.backend}${pstore.recordBytes === undefined ? "" : `/${pstore.recordBytes}`}`;
  return `pstore=${backend} kdump=${coverage.kdump ? "loaded" : "none"}`;
}

/** The annotation's value read back; undefined when absent or not this format. */
export function parseLastWords(value: string | undefined): LastWordsCoverage | undefined {
  const match = VALUE.exec(value ?? "");
  if (match === null) return undefined;
  const [, , backend, record, kdump] = match;
  return {
    ...(backend === undefined
      ? {}
      : { pstore: { backend, ...(record === undefined ? {} : { recordBytes: Number(record) }) } }),
    kdump: kdump === "loaded",
  };
}
