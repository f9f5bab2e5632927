/**
 * What the simulator keeps between requests: the deployments (each with its quota window, fault
 * counts and counters), the counters of requests no deployment took, the journal, the generated
 * images and the token authority. The data plane records into it, the control API reads and
 * changes it, and a reset empties it; keeping it in one place is what lets both see the same run.
 */
import type { TokenAuthority } from "./auth.js";
import { emptyCounters, type DeploymentCounters, type JournalEntry } from "./context.js";
import type { DeploymentConfig, LatencyConfig } from "./deployments.js";
import { FaultSelector } from "./faults.js";
import { ImageStore } from "./images.js";
import { SlidingWindowQuota } from "./quota.js";
import { ResponseStore } from "./responses-store.js";
import { digest } from "./random.js";

export interface ServerSettings {
  /** The resource's name when it is one of several (`resources` option); the primary resource has none. */
  resourceName?: string;
  /** The `x-ms-region` header of its answers. */
  region: string;
  port: number;
  deployments: DeploymentConfig[];
  apiKey: string;
  disableKeyAuth: boolean;
  seed: number;
  latency: Partial<LatencyConfig>;
  /** The identity endpoint's secret, on the resource that serves it (the primary); the others serve none. */
  identityHeader?: string;
  journalLimit: number;
  journalBodies: boolean;
}

/** Settings that can change at runtime, beside the deployments. */
export interface RuntimeSettings {
  disableKeyAuth: boolean;
  tokenLifetimeSeconds: number;
  /** Keep request bodies in the journal (benchmarks turn it off to save memory). */
  journalBodies: boolean;
}

/** A deployment as it runs: its configuration, quota window, fault selection and counters. */
export class DeploymentRuntime {
  quota: SlidingWindowQuota;
  faultSelector: FaultSelector;
  counters: DeploymentCounters = emptyCounters();

  /** `faultSeed`: the seed of this deployment's fault decisions (see SimulatorState.putDeployment). */
  constructor(
    public config: DeploymentConfig,
    faultSeed: string,
  ) {
    this.quota = new SlidingWindowQuota(config.tpm, config.rpm, config.quotaWindowMs ?? 60_000);
    this.faultSelector = new FaultSelector(faultSeed);
  }

  applyQuotaSettings(): void {
    this.quota.tpm = this.config.tpm;
    this.quota.rpm = this.config.rpm;
    this.quota.windowMs = this.config.quotaWindowMs ?? 60_000;
  }
}

export class SimulatorState {
  readonly deployments = new Map<string, DeploymentRuntime>();
  /** Requests refused before reaching a deployment (auth, unknown deployment, bad route). */
  unrouted: DeploymentCounters = emptyCounters();
  journal: JournalEntry[] = [];
  nextRequestId = 1;
  readonly images = new ImageStore();
  /** Responses created with `store` (the default), for previous_response_id, GET and DELETE. */
  readonly responses = new ResponseStore();
  /**
   * @param authority The simulator's one token authority, shared by all its resources: a token
   * from the one identity endpoint works on each, as an Entra token for cognitiveservices does on
   * every Azure OpenAI resource its identity has a role on.
   */
  constructor(
    readonly settings: ServerSettings,
    readonly authority: TokenAuthority,
  ) {
    this.loadDeployments(settings.deployments);
  }

  private loadDeployments(list: readonly DeploymentConfig[]): void {
    this.deployments.clear();
    for (const config of list) this.putDeployment(structuredClone(config));
  }

  /**
   * Adds or replaces a deployment, with a fresh quota window, fault selection and counters. The
   * resource's name enters the fault seed, so that same-named deployments of two resources with
   * `rate` faults fail independently, as two Azure resources do; the primary's seed is unchanged.
   */
  putDeployment(config: DeploymentConfig): void {
    const { seed, resourceName } = this.settings;
    const faultSeed = resourceName === undefined ? digest(seed, "faults", config.name) : digest(seed, "faults", resourceName, config.name);
    this.deployments.set(config.name, new DeploymentRuntime(config, faultSeed));
  }

  /** Appends a finished request to the journal, dropping the oldest entries over the limit. */
  record(entry: JournalEntry): void {
    this.journal.push(entry);
    if (this.journal.length > this.settings.journalLimit) this.journal.splice(0, this.journal.length - this.settings.journalLimit);
  }

  counters(): {
    total: DeploymentCounters;
    deployments: Record<string, DeploymentCounters>;
    unrouted: DeploymentCounters;
    identity: { tokensIssued: number };
  } {
    const deployments: Record<string, DeploymentCounters> = {};
    const total = emptyCounters();
    const addToTotal = (counters: DeploymentCounters) => {
      for (const key of Object.keys(counters) as (keyof DeploymentCounters)[]) {
        if (key === "statuses")
          for (const [status, count] of Object.entries(counters.statuses)) total.statuses[status] = (total.statuses[status] ?? 0) + count;
        else total[key] += counters[key];
      }
    };
    for (const [name, runtime] of this.deployments) {
      deployments[name] = runtime.counters;
      addToTotal(runtime.counters);
    }
    addToTotal(this.unrouted);
    return { total, deployments, unrouted: this.unrouted, identity: { tokensIssued: this.authority.tokensIssued } };
  }

  runtimeSettings(): RuntimeSettings {
    return {
      disableKeyAuth: this.settings.disableKeyAuth,
      // The identity's: shared by every resource of the simulator.
      tokenLifetimeSeconds: this.authority.tokenLifetimeSeconds,
      journalBodies: this.settings.journalBodies,
    };
  }

  /** Clears journal, counters, quota windows, fault counts, images and stored responses; restores the start deployments unless kept. */
  reset(keepDeployments: boolean): void {
    this.journal = [];
    this.unrouted = emptyCounters();
    this.images.clear();
    this.responses.clear();
    if (!keepDeployments) {
      this.loadDeployments(this.settings.deployments);
      return;
    }
    for (const runtime of this.deployments.values()) {
      runtime.counters = emptyCounters();
      runtime.quota.reset();
      runtime.faultSelector.reset();
    }
  }
}
