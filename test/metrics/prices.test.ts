import { describe, expect, it } from "vitest";
import { costOf, parsePriceTable, pricesFor } from "../../src/metrics/prices.js";

describe("parsePriceTable", () => {
  it("reads a currency and each model's prices", () => {
    const { table, problems } = parsePriceTable(
      JSON.stringify({
        currency: "EUR",
        models: { "gpt-4o": { inputPer1M: 2.5, cachedInputPer1M: 1.25, outputPer1M: 10 }, whisper: { perAudioMinute: 0.006 } },
      }),
    );
    expect(problems).toEqual([]);
    expect(table.currency).toBe("EUR");
    expect(table.models.get("gpt-4o")).toEqual({ inputPer1M: 2.5, cachedInputPer1M: 1.25, outputPer1M: 10 });
    expect(table.models.get("whisper")).toEqual({ perAudioMinute: 0.006 });
  });

  it("defaults the currency to USD", () => {
    expect(parsePriceTable('{"models": {}}').table.currency).toBe("USD");
  });

  it("names every problem at once, with how to fix it", () => {
    const { problems } = parsePriceTable(
      JSON.stringify({
        currency: "dollars",
        extra: 1,
        models: { a: { inputPer1M: -1, outputPer1M: "0.6", perToken: 1 }, b: [], c: {} },
      }),
    );
    expect(problems).toEqual([
      'has an unknown field "extra"; only "currency" and "models" are read',
      '"currency" must be a three-letter ISO 4217 code such as "USD" or "EUR" (got "dollars")',
      '"models"."a"."inputPer1M" must be a number of at least 0 (got -1)',
      '"models"."a"."outputPer1M" must be a number of at least 0 (got "0.6")',
      '"models"."a" has an unknown price "perToken"; use "inputPer1M", "cachedInputPer1M", "outputPer1M", "perAudioMinute", "perImage", "per1MCharacters"',
      '"models"."b" must be an object of prices such as {"inputPer1M": 0.15, "outputPer1M": 0.6}',
      '"models"."c" has no prices; give at least one of inputPer1M, cachedInputPer1M, outputPer1M, perAudioMinute, perImage, per1MCharacters',
    ]);
  });

  it("refuses what is not JSON or has no models", () => {
    expect(parsePriceTable("{currency: USD}").problems[0]).toMatch(/^is not valid JSON \(.*\); e\.g\. \{"currency": "USD"/);
    expect(parsePriceTable('{"currency": "USD"}').problems).toEqual([
      'must have "models": an object mapping each model name to its prices, e.g. {"currency": "USD", "models": {"gpt-4o-mini": {"inputPer1M": 0.15, "outputPer1M": 0.6}}}',
    ]);
  });
});

describe("costOf", () => {
  const prices = { inputPer1M: 2, cachedInputPer1M: 0.5, outputPer1M: 8, perAudioMinute: 0.006, perImage: 0.04, per1MCharacters: 15 };

  it("prices uncached prompt tokens, cached ones at the cached price, and completion tokens (reasoning within them)", () => {
    // 1,000 prompt tokens of which 400 cached; 500 completion tokens of which 200 reasoning.
    const cost = costOf(prices, { promptTokens: 1000, cachedTokens: 400, completionTokens: 500, reasoningTokens: 200 });
    expect(cost).toBeCloseTo((600 * 2 + 400 * 0.5 + 500 * 8) / 1_000_000, 12);
  });

  it("prices cached tokens at the input price when the table gives no cached price", () => {
    expect(costOf({ inputPer1M: 2 }, { promptTokens: 1000, cachedTokens: 400 })).toBeCloseTo((1000 * 2) / 1_000_000, 12);
  });

  it("prices audio by the minute, images by the piece and speech by the character", () => {
    expect(costOf(prices, { audioSeconds: 90 })).toBeCloseTo(1.5 * 0.006, 12);
    expect(costOf(prices, { images: 3, promptTokens: 100 })).toBeCloseTo(3 * 0.04 + (100 * 2) / 1_000_000, 12);
    expect(costOf(prices, { characters: 2000 })).toBeCloseTo((2000 * 15) / 1_000_000, 12);
  });

  it("is unknown (not 0) for a model without prices or usage no price covers", () => {
    expect(costOf(undefined, { promptTokens: 10 })).toBeUndefined();
    expect(costOf({ perImage: 0.04 }, { promptTokens: 10 })).toBeUndefined();
  });

  it("finds a model's prices by the model name callers send, else by the deployment", () => {
    const { table } = parsePriceTable('{"models": {"gpt-4o": {"inputPer1M": 1}, "prod-4o": {"inputPer1M": 2}}}');
    expect(pricesFor(table, "gpt-4o", "prod-4o")).toEqual({ inputPer1M: 1 });
    expect(pricesFor(table, "alias", "prod-4o")).toEqual({ inputPer1M: 2 });
    expect(pricesFor(table, "alias", "other")).toBeUndefined();
  });
});
