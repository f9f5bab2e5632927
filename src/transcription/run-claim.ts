/**
 * Claiming one version of an audio blob before transcribing it, so that two deliveries of the same
 * version (two instances, a duplicate event, a redelivery racing a slow run) bill Whisper once. The
 * claim lives in the status record, written conditionally on the record's ETag: of two runs
 * writing at once, one wins and the other reads the winner's claim. A claim expires unless its run
 * keeps pushing it forward (a heartbeat), so a run that died frees its version for a redelivery.
 */
import type { ContainerClient } from "@azure/storage-blob";
import { AppError } from "../errors.js";
import { isConditionFailed, readJsonBlobWithEtag } from "./blob-io.js";
import { sleep } from "./run-limited.js";
import { StatusReporter, SupersededError, statusBlobName, writeStatusRecord, type TranscriptionStatus } from "./status.js";

export interface ClaimDeps {
  container: ContainerClient;
  now: () => Date;
  /** Whether the run's version is still the audio blob's current one. */
  isCurrent: () => Promise<boolean>;
  /** How long a claim holds without a heartbeat. */
  ttlInMs: number;
  /** Longest wait for another run's claim on the same version to end before handing back to the host. */
  waitInMs: number;
  /** How often a waiting delivery looks at the record again. */
  pollInMs: number;
}

export interface ClaimRequest {
  name: string;
  etag: string;
  runId: string;
  /** Whether a record for this version says the work is done (outputs present), so nothing is left to do. */
  isDone: (status: TranscriptionStatus) => Promise<boolean>;
  /** The status this run starts with, given the record for this version if there is one. */
  initial: (previous: TranscriptionStatus | undefined) => TranscriptionStatus;
}

export type ClaimResult =
  { claimed: true; reporter: StatusReporter; previous: TranscriptionStatus | undefined } | { claimed: false; reason: string };

/**
 * Claims the version for this run, waiting while another live run holds it.
 * @throws AppError `transient` (code `claimed_elsewhere`) when another run still holds it after
 *   `waitInMs`, or let go of it only after half of that (this delivery would start late in its
 *   function timeout), so the host delivers again later; storage errors as they come.
 */
export async function claimVersion(deps: ClaimDeps, request: ClaimRequest): Promise<ClaimResult> {
  const blob = deps.container.getBlockBlobClient(statusBlobName(request.name));
  const waitStarted = deps.now().getTime();
  const waitUntil = waitStarted + deps.waitInMs;
  let waited = false;
  for (;;) {
    const found = await readJsonBlobWithEtag<TranscriptionStatus>(blob);
    const previous = found.value?.source.etag === request.etag ? found.value : undefined;
    if (previous && (await request.isDone(previous)))
      return { claimed: false, reason: `version ${request.etag} is already done (state ${previous.state})` };
    const holder = previous?.claim;
    const live = holder && holder.runId !== request.runId && Date.parse(holder.expiresAt) > deps.now().getTime();
    // Taking over after a long wait would start the work with little of the function's time left
    // (host.json functionTimeout): hand the delivery back instead, to start afresh.
    if (!live && waited && deps.now().getTime() - waitStarted > deps.waitInMs / 2) {
      throw new AppError(
        "transient",
        `Waited ${Math.round((deps.now().getTime() - waitStarted) / 1000)} s for another run of version ${request.etag}; the host will deliver the blob again for a fresh start`,
        {
          code: "claimed_elsewhere",
        },
      );
    }
    if (live && holder) {
      waited = true;
      if (deps.now().getTime() >= waitUntil) {
        throw new AppError(
          "transient",
          `Run ${holder.runId} is still transcribing version ${request.etag} after ${Math.round(deps.waitInMs / 1000)} s; the host will deliver the blob again`,
          {
            code: "claimed_elsewhere",
          },
        );
      }
      await sleep(deps.pollInMs);
      continue;
    }
    // Asked after the record was read, so a newer version's record written since fails the write below.
    if (!(await deps.isCurrent()))
      return {
        claimed: false,
        reason: `the audio blob was overwritten since version ${request.etag} was delivered; the newer version is transcribed on its own`,
      };
    const status: TranscriptionStatus = {
      ...request.initial(previous),
      claim: { runId: request.runId, expiresAt: expiry(deps) },
      updatedAt: deps.now().toISOString(),
    };
    try {
      const conditions = found.etag ? { ifMatch: found.etag } : { ifNoneMatch: "*" };
      const written = await writeStatusRecord(deps.container, status, conditions);
      const reporter = new StatusReporter(
        { container: deps.container, now: deps.now, isCurrent: deps.isCurrent, runId: request.runId },
        status,
        written.etag,
      );
      return { claimed: true, reporter, previous };
    } catch (error) {
      // Someone wrote the record since it was read: decide again on what they wrote.
      if (!isConditionFailed(error)) throw error;
    }
  }
}

/** The claim pushed forward from now. */
export function renewedClaim(deps: Pick<ClaimDeps, "now" | "ttlInMs">, runId: string): TranscriptionStatus["claim"] {
  return { runId, expiresAt: expiry(deps) };
}

/**
 * Pushes the claim forward every third of its lifetime until stopped. `onLost` is called (and the
 * run should stop its Whisper calls) when a renewal finds the record taken over (SupersededError),
 * or when no renewal has succeeded for 60% of the lifetime (AppError `claim_lost`, transient): past
 * that, a waiting delivery may take the version over any moment, so going on risks paying twice.
 * Other renewal failures are only logged.
 * @returns a function that stops the heartbeat.
 */
export function startHeartbeat(
  deps: Pick<ClaimDeps, "now" | "ttlInMs">,
  reporter: StatusReporter,
  runId: string,
  onLost: (error: unknown) => void,
  log: (line: string) => void,
): () => void {
  let lastRenewed = deps.now().getTime();
  const timer = setInterval(
    () => {
      if (!reporter.current.claim) return;
      const silentFor = deps.now().getTime() - lastRenewed;
      if (silentFor > deps.ttlInMs * 0.6) {
        onLost(
          new AppError(
            "transient",
            `The run could not renew its claim on this version for ${Math.round(silentFor / 1000)} s (storage unreachable?); it stops so a redelivery can take over`,
            { code: "claim_lost" },
          ),
        );
        return;
      }
      reporter
        .update((s) => ({ ...s, claim: renewedClaim(deps, runId) }))
        .then(
          () => {
            lastRenewed = deps.now().getTime();
          },
          (error: unknown) => {
            if (error instanceof SupersededError) onLost(error);
            else log(`Could not renew the claim of run ${runId}: ${String(error)}`);
          },
        );
    },
    Math.max(50, Math.floor(deps.ttlInMs / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

function expiry(deps: Pick<ClaimDeps, "now" | "ttlInMs">): string {
  return new Date(deps.now().getTime() + deps.ttlInMs).toISOString();
}
