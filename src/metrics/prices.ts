/**
 * The price table (AI_PRICES) and the cost arithmetic. Prices are the operator's, read from the
 * settings: Azure's prices differ by region, agreement and date, so none is written in code.
 *
 * Parsing is pure and returns every problem found, like the routing table's (src/routing/table.ts).
 */

/** Prices of one model, in the table's currency; a field left out means that part is not priced. */
export interface ModelPrices {
  /** Per 1M prompt (input) tokens that were not served from the prompt cache. */
  inputPer1M?: number;
  /** Per 1M cached prompt tokens; the input price when left out. */
  cachedInputPer1M?: number;
  /** Per 1M completion (output) tokens, reasoning tokens included (Azure bills them as output). */
  outputPer1M?: number;
  /** Per minute of audio transcribed or translated. */
  perAudioMinute?: number;
  /** Per image generated or edited. */
  perImage?: number;
  /** Per 1M characters of text spoken (text to speech billed by characters). */
  per1MCharacters?: number;
}

export interface PriceTable {
  /** ISO 4217 code the prices are in, e.g. `USD`; the unit of the `aoai.cost` metric. */
  currency: string;
  /** Model name (as callers send it, or the deployment name) -> its prices. */
  models: ReadonlyMap<string, ModelPrices>;
}

/** What one call used, as its answer reported it. */
export interface CallUsage {
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  /** Of the prompt tokens, those served from the prompt cache. */
  cachedTokens?: number | undefined;
  /** Of the completion tokens, those spent reasoning. */
  reasoningTokens?: number | undefined;
  audioSeconds?: number | undefined;
  images?: number | undefined;
  characters?: number | undefined;
}

export const EMPTY_PRICE_TABLE: PriceTable = { currency: "USD", models: new Map() };

const PRICE_FIELDS = ["inputPer1M", "cachedInputPer1M", "outputPer1M", "perAudioMinute", "perImage", "per1MCharacters"] as const;
const EXAMPLE = '{"currency": "USD", "models": {"gpt-4o-mini": {"inputPer1M": 0.15, "outputPer1M": 0.6}}}';

/**
 * Parses AI_PRICES' JSON.
 * @returns the table, and every problem as a phrase that follows the setting's name.
 */
export function parsePriceTable(json: string): { table: PriceTable; problems: string[] } {
  const problems: string[] = [];
  const models = new Map<string, ModelPrices>();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return { table: EMPTY_PRICE_TABLE, problems: [`is not valid JSON (${(error as Error).message}); e.g. ${EXAMPLE} (docs/metrics.md)`] };
  }
  if (!isPlainObject(value)) return { table: EMPTY_PRICE_TABLE, problems: [`must be a JSON object, e.g. ${EXAMPLE} (docs/metrics.md)`] };
  for (const key of Object.keys(value)) {
    if (key !== "currency" && key !== "models") problems.push(`has an unknown field "${key}"; only "currency" and "models" are read`);
  }
  let currency = "USD";
  if (value.currency !== undefined) {
    if (typeof value.currency === "string" && /^[A-Z]{3}$/.test(value.currency)) currency = value.currency;
    else problems.push(`"currency" must be a three-letter ISO 4217 code such as "USD" or "EUR" (got ${JSON.stringify(value.currency)})`);
  }
  if (!isPlainObject(value.models)) {
    problems.push(`must have "models": an object mapping each model name to its prices, e.g. ${EXAMPLE}`);
    return { table: { currency, models }, problems };
  }
  for (const [model, prices] of Object.entries(value.models)) {
    if (!isPlainObject(prices)) {
      problems.push(`"models"."${model}" must be an object of prices such as {"inputPer1M": 0.15, "outputPer1M": 0.6}`);
      continue;
    }
    const parsed: ModelPrices = {};
    for (const [field, price] of Object.entries(prices)) {
      if (!(PRICE_FIELDS as readonly string[]).includes(field)) {
        problems.push(`"models"."${model}" has an unknown price "${field}"; use ${PRICE_FIELDS.map((f) => `"${f}"`).join(", ")}`);
      } else if (typeof price !== "number" || !Number.isFinite(price) || price < 0) {
        problems.push(`"models"."${model}"."${field}" must be a number of at least 0 (got ${JSON.stringify(price)})`);
      } else {
        parsed[field as (typeof PRICE_FIELDS)[number]] = price;
      }
    }
    if (Object.keys(prices).length === 0)
      problems.push(`"models"."${model}" has no prices; give at least one of ${PRICE_FIELDS.join(", ")}`);
    models.set(model, parsed);
  }
  return { table: { currency, models }, problems };
}

/** The prices of a call's model: by the model name callers send, else by the deployment's name. */
export function pricesFor(table: PriceTable, model: string, deployment: string): ModelPrices | undefined {
  return table.models.get(model) ?? table.models.get(deployment);
}

/**
 * What a call cost by the table's prices, or undefined when nothing it used is priced (no entry
 * for its model, or only parts without a price): "unknown" is not "free".
 */
export function costOf(prices: ModelPrices | undefined, usage: CallUsage): number | undefined {
  if (!prices) return undefined;
  let cost = 0;
  let priced = false;
  const add = (amount: number | undefined, price: number | undefined, per: number) => {
    if (!amount || price === undefined) return;
    cost += (amount * price) / per;
    priced = true;
  };
  const cached = Math.min(usage.cachedTokens ?? 0, usage.promptTokens ?? 0);
  add((usage.promptTokens ?? 0) - cached, prices.inputPer1M, 1_000_000);
  add(cached, prices.cachedInputPer1M ?? prices.inputPer1M, 1_000_000);
  add(usage.completionTokens, prices.outputPer1M, 1_000_000);
  add(usage.audioSeconds, prices.perAudioMinute, 60);
  add(usage.images, prices.perImage, 1);
  add(usage.characters, prices.per1MCharacters, 1_000_000);
  return priced ? cost : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
