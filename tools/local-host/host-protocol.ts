/**
 * The contract between startHost() (parent, index.ts) and main.ts (the host process): the options
 * passed as JSON in argv[2], and the lines the host prints when it is ready or cannot start.
 */

/** Options the parent passes (JSON in argv[2]); see StartHostOptions in index.ts. */
export interface HostProcessOptions {
  entry: string;
  hostJson?: string;
  port: number;
  leaseSeconds: number;
  blobScanIntervalMs: number;
  maxRequestBodyBytes?: number;
  hostId: string;
  verbose: boolean;
  /**
   * The parent holds the other end of the host's stdin: the host shuts down when it closes (the
   * parent was killed or crashed), instead of holding its port and polling storage as an orphan.
   */
  exitWithParent?: boolean;
}

/** The host prints this, then JSON `{ url, port, functions, streaming }`, once it serves requests. */
export const READY_PREFIX = "LOCAL_HOST_READY ";
/** The host prints this, then JSON `{ message }`, when it cannot start. */
export const FAILED_PREFIX = "LOCAL_HOST_FAILED ";
