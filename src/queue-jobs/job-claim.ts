/**
 * One delivery at a time per id: before calling Azure, a job takes a blob lease on `.claims/{id}`
 * in its container, renewed while it works. Two instances given the same message at once (a
 * redelivery racing a slow run, a duplicate message) cannot both render and interleave their
 * writes: the second finds the lease taken and hands its message back to be looked at again once
 * the first is done, when it finds the output and does nothing. A run that died (a killed host)
 * stops renewing and its lease ends within LEASE_SECONDS, so its redelivery can take over.
 * Outputs are still written whole (one Put Blob each) and the record last, so even a run that lost
 * its lease mid-way (paused past the lease) leaves outputs that a later run recognises as not its own.
 */
import type { BlobLeaseClient, ContainerClient } from "@azure/storage-blob";
import { AppError } from "../errors.js";

/** Shortest lease storage grants; renewed every third of it. */
const LEASE_SECONDS = 15;

/** How long a message that found its id claimed waits on the queue before looking again. */
export const CLAIMED_RETRY_IN_MS = LEASE_SECONDS * 1000;

export function claimBlobName(id: string): string {
  return `.claims/${id}`;
}

export interface JobClaim {
  /** Renews the lease now. @throws AppError `transient` (`claim_lost`) when this run no longer holds it. */
  confirm(): Promise<void>;
}

/** `code` of the hand-back of a message whose work another run is doing. */
export const JOB_IN_PROGRESS = "job_in_progress";

/**
 * Runs `work` holding the claim on `id`, and lets go of it afterwards (removing the claim blob).
 * @throws AppError `throttled` (code `job_in_progress`, Retry-After one lease) when another run
 *   holds the claim: the queue hands the message back instead of spending a delivery on it.
 */
export async function withJobClaim<T>(container: ContainerClient, id: string, work: (claim: JobClaim) => Promise<T>): Promise<T> {
  const blob = container.getBlockBlobClient(claimBlobName(id));
  const lease = await acquire(container, id);
  const heartbeat = setInterval(
    () => {
      // A renewal that fails (a storage blip) is not the end of the claim: confirm() renews once
      // more before anything is written, and only that answer decides (a lease taken by another run
      // can no longer be renewed). Giving up at the first blip would discard paid-for work.
      lease.renewLease().catch(() => undefined);
    },
    (LEASE_SECONDS * 1000) / 3,
  );
  heartbeat.unref?.();
  const claim: JobClaim = {
    async confirm() {
      try {
        await lease.renewLease();
      } catch (error) {
        throw new AppError(
          "transient",
          `This run of ${id} lost its claim (another run may have taken over); its outputs were not written`,
          {
            code: "claim_lost",
            cause: error,
          },
        );
      }
    },
  };
  try {
    return await work(claim);
  } finally {
    clearInterval(heartbeat);
    // Deleting with the lease releases it too; if that fails the lease simply runs out.
    await blob.delete({ conditions: { leaseId: lease.leaseId } }).catch(() => lease.releaseLease().catch(() => undefined));
  }
}

async function acquire(container: ContainerClient, id: string): Promise<BlobLeaseClient> {
  const blob = container.getBlockBlobClient(claimBlobName(id));
  for (let attempt = 0; ; attempt++) {
    // Created empty if missing; an existing one (leased or not) is left as it is.
    await blob.upload("", 0, { conditions: { ifNoneMatch: "*" } }).catch((error: unknown) => {
      if (![409, 412].includes(statusOf(error))) throw error;
    });
    const lease = blob.getBlobLeaseClient();
    try {
      await lease.acquireLease(LEASE_SECONDS);
      return lease;
    } catch (error) {
      const status = statusOf(error);
      // Removed by the run that just finished, between our create and acquire: create it again.
      if (status === 404 && attempt < 3) continue;
      if (status === 409) {
        throw new AppError("throttled", `Another delivery of ${id} is being processed right now; this one waits for it to finish`, {
          code: JOB_IN_PROGRESS,
          retryAfterInMs: CLAIMED_RETRY_IN_MS,
        });
      }
      throw error;
    }
  }
}

function statusOf(error: unknown): number {
  return (error as { statusCode?: number }).statusCode ?? 0;
}
