/**
 * Polls one storage queue with the storage extension's semantics: batches and the new-batch
 * threshold, an exponential backoff while the queue is empty, a lease renewed while a message
 * runs, delete on success, a visible retry on failure and poison at maxDequeueCount. Shared by the
 * queue triggers and the blob triggers' internal queue, so both retry and poison as on Azure.
 */
import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";
import { setTimeout as delay } from "node:timers/promises";

/** Thrown by a processor for a message that can never succeed: it goes to poison at once. */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

export interface QueueListenerOptions {
  queue: QueueClient;
  /** Messages received at once (host.json `batchSize`). */
  batchSize: number;
  /** Fetch the next batch when this many or fewer are still running (`newBatchThreshold`). */
  newBatchThreshold: number;
  /** Upper bound of the empty-poll backoff, which starts at 100 ms (`maxPollingInterval`). */
  maxPollingIntervalMs: number;
  /** How long a failed message stays invisible before its retry (`visibilityTimeout`). */
  retryVisibilityMs: number;
  /** Attempts before a message is poisoned (`maxDequeueCount`). */
  maxDequeueCount: number;
  /** Visibility taken on receipt and renewed at half-time while the message runs (10 min). */
  leaseSeconds: number;
  /** Runs one message; resolve = delete it, throw = retry later (or poison at the limit). */
  process(message: DequeuedMessageItem): Promise<void>;
  /** Writes the poison copy (the caller decides queue and payload). */
  poison(message: DequeuedMessageItem, reason: string): Promise<void>;
  log(message: string): void;
}

const MIN_POLLING_INTERVAL_MS = 100;

/**
 * Polls one queue with the storage extension's semantics: batches, new-batch threshold,
 * exponential empty-poll backoff, a renewed lease while running, delete on success, a visible
 * retry on failure and poison at maxDequeueCount.
 */
export class QueueListener {
  #options: QueueListenerOptions;
  #stopped = false;
  #running = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: QueueListenerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#pollLoop();
  }

  /** Stops fetching and waits (up to `graceMs`) for running messages; unfinished ones reappear later. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await Promise.race([Promise.allSettled([...this.#running]), delay(graceMs)]);
  }

  async #pollLoop(): Promise<void> {
    const options = this.#options;
    let backoff = MIN_POLLING_INTERVAL_MS;
    while (!this.#stopped) {
      if (this.#running.size > options.newBatchThreshold) {
        await Promise.race([...this.#running]);
        continue;
      }
      let messages: DequeuedMessageItem[];
      try {
        const received = await options.queue.receiveMessages({
          numberOfMessages: options.batchSize,
          visibilityTimeout: options.leaseSeconds,
        });
        messages = received.receivedMessageItems;
      } catch (error) {
        if (this.#stopped) break;
        options.log(`Polling queue "${options.queue.name}" failed (${(error as Error).message}); retrying.`);
        messages = [];
      }
      if (messages.length === 0) {
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, Math.max(options.maxPollingIntervalMs, MIN_POLLING_INTERVAL_MS));
        continue;
      }
      backoff = MIN_POLLING_INTERVAL_MS;
      for (const message of messages) {
        const task = this.#handle(message).finally(() => this.#running.delete(task));
        this.#running.add(task);
      }
    }
  }

  async #handle(message: DequeuedMessageItem): Promise<void> {
    const options = this.#options;
    let popReceipt = message.popReceipt;
    // Delivered more often than allowed (a host died during the last attempt): poison, no invocation.
    if (message.dequeueCount > options.maxDequeueCount) {
      try {
        await options.poison(message, `dequeue count ${message.dequeueCount} exceeds maxDequeueCount ${options.maxDequeueCount}`);
        await options.queue.deleteMessage(message.messageId, popReceipt);
        options.log(`Message ${message.messageId} moved to poison on arrival (dequeue count ${message.dequeueCount}).`);
      } catch (error) {
        options.log(`Poisoning message ${message.messageId} failed: ${(error as Error).message}`);
      }
      return;
    }
    const renewEveryMs = Math.max(500, (options.leaseSeconds * 1000) / 2);
    // One renewal at a time (each changes the popReceipt the next call needs); a tick that finds
    // one still out skips.
    let renewing: Promise<void> | undefined;
    const renewal = setInterval(() => {
      renewing ??= options.queue
        .updateMessage(message.messageId, popReceipt, undefined, options.leaseSeconds)
        .then((updated) => {
          if (updated.popReceipt) popReceipt = updated.popReceipt;
        })
        .catch((error: Error) => options.log(`Renewing message ${message.messageId} failed: ${error.message}`))
        .finally(() => (renewing = undefined));
    }, renewEveryMs);
    let failure: unknown;
    try {
      await options.process(message);
    } catch (error) {
      failure = error;
    } finally {
      clearInterval(renewal);
    }
    // A renewal still in flight would leave the settle below with a stale popReceipt. Waited for
    // up to a lease: one that hangs longer has lost the message anyway.
    if (renewing) await Promise.race([renewing, delay(options.leaseSeconds * 1000)]);
    try {
      if (failure === undefined) {
        await options.queue.deleteMessage(message.messageId, popReceipt);
      } else if (failure instanceof PoisonMessageError || message.dequeueCount >= options.maxDequeueCount) {
        const reason = failure instanceof Error ? failure.message : String(failure);
        await options.poison(message, reason);
        await options.queue.deleteMessage(message.messageId, popReceipt);
        options.log(`Message ${message.messageId} moved to poison after ${message.dequeueCount} attempt(s): ${reason}`);
      } else {
        await options.queue.updateMessage(message.messageId, popReceipt, undefined, Math.round(options.retryVisibilityMs / 1000));
      }
    } catch (error) {
      options.log(`Settling message ${message.messageId} in "${options.queue.name}" failed: ${(error as Error).message}`);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** Strict base64 as .NET's Convert.FromBase64String accepts it (whitespace ignored). */
export function isValidBase64(text: string): boolean {
  const compact = text.replace(/\s+/g, "");
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}
