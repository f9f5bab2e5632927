import { randomUUID } from "node:crypto";
import { deflateSync } from "node:zlib";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { SAFE_FILTER, contentFilterError, invalidRequest } from "./errors.js";
import { Random, digest } from "./random.js";

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A valid RGB PNG: a smooth gradient with soft circles whose colours come from the seed. */
export function renderPng(width: number, height: number, seed: string): Buffer {
  const r = new Random(seed);
  const c1 = [r.int(0, 255), r.int(0, 255), r.int(0, 255)];
  const c2 = [r.int(0, 255), r.int(0, 255), r.int(0, 255)];
  const circles = Array.from({ length: 4 }, () => ({
    x: r.next() * width,
    y: r.next() * height,
    rad: (0.1 + r.next() * 0.25) * Math.min(width, height),
    col: [r.int(0, 255), r.int(0, 255), r.int(0, 255)],
  }));
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      let red = c1[0]! * (1 - t) + c2[0]! * t;
      let green = c1[1]! * (1 - t) + c2[1]! * t;
      let blue = c1[2]! * (1 - t) + c2[2]! * t;
      for (const c of circles) {
        const dx = x - c.x;
        const dy = y - c.y;
        const d2 = dx * dx + dy * dy;
        if (d2 < c.rad * c.rad) {
          const a = 1 - Math.sqrt(d2) / c.rad;
          red = red * (1 - a) + c.col[0]! * a;
          green = green * (1 - a) + c.col[1]! * a;
          blue = blue * (1 - a) + c.col[2]! * a;
        }
      }
      const o = y * stride + 1 + x * 3;
      raw[o] = red;
      raw[o + 1] = green;
      raw[o + 2] = blue;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 1 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const SIZES: Record<string, string[]> = {
  "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
  "dall-e-2": ["256x256", "512x512", "1024x1024"],
};

/** Generated images kept for their `url`s, oldest dropped first. */
export class ImageStore {
  private images = new Map<string, Buffer>();
  constructor(private readonly limit = 64) {}
  put(png: Buffer): string {
    const id = randomUUID();
    this.images.set(id, png);
    if (this.images.size > this.limit) this.images.delete(this.images.keys().next().value as string);
    return id;
  }
  get(id: string): Buffer | undefined {
    return this.images.get(id);
  }
  clear(): void {
    this.images.clear();
  }
}

/**
 * Validates an image generation request and answers PNGs as `b64_json` or as a `url` served by
 * the simulator under /_simulator/images/.
 * @throws SimulatorHttpError 400 in OpenAI's shape.
 */
export function prepareImages(
  body: Record<string, unknown>,
  deployment: DeploymentConfig,
  seed: number,
  store: ImageStore,
  faults: { contentFilter: boolean },
): Prepared {
  const prompt = body.prompt;
  if (typeof prompt !== "string" || !prompt)
    throw invalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  if (prompt.length > 4000)
    throw invalidRequest(
      "Invalid 'prompt': string too long. Expected a string with maximum length 4000.",
      "prompt",
      "string_above_max_length",
    );
  const family = deployment.model.startsWith("dall-e-2") ? "dall-e-2" : "dall-e-3";
  const n = body.n ?? 1;
  const maxN = family === "dall-e-3" ? 1 : 10;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > maxN)
    throw invalidRequest(`Invalid 'n': ${family} supports 1 to ${maxN} images per request.`, "n", "invalid_value");
  const size = (body.size ?? "1024x1024") as string;
  if (!SIZES[family]!.includes(size))
    throw invalidRequest(
      `Invalid value: '${size}'. Supported values are: ${SIZES[family]!.map((s) => `'${s}'`).join(", ")}.`,
      "size",
      "invalid_value",
    );
  const format = body.response_format ?? "url";
  if (format !== "url" && format !== "b64_json")
    throw invalidRequest(
      `Invalid value: '${String(format)}'. Supported values are: 'url' and 'b64_json'.`,
      "response_format",
      "invalid_value",
    );
  if (body.quality !== undefined && !["standard", "hd"].includes(body.quality as string))
    throw invalidRequest(
      `Invalid value: '${String(body.quality)}'. Supported values are: 'standard' and 'hd'.`,
      "quality",
      "invalid_value",
    );
  if (body.style !== undefined && !["vivid", "natural"].includes(body.style as string))
    throw invalidRequest(`Invalid value: '${String(body.style)}'. Supported values are: 'vivid' and 'natural'.`, "style", "invalid_value");
  if (faults.contentFilter) throw contentFilterError();
  const [w, h] = size.split("x").map(Number) as [number, number];

  return {
    chargeTokens: 0,
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.requestMs) + ctx.faults.delayMs))) return;
      const data = Array.from({ length: n }, (_, i) => {
        const png = renderPng(w, h, digest(seed, prompt, size, i, ctx.random.nextUint32()));
        const image =
          format === "b64_json" ? { b64_json: png.toString("base64") } : { url: `${ctx.baseUrl}/_simulator/images/${store.put(png)}.png` };
        return {
          ...image,
          ...(family === "dall-e-3" ? { revised_prompt: prompt } : {}),
          content_filter_results: { hate: SAFE_FILTER, self_harm: SAFE_FILTER, sexual: SAFE_FILTER, violence: SAFE_FILTER },
          prompt_filter_results: {
            hate: SAFE_FILTER,
            jailbreak: { filtered: false, detected: false },
            self_harm: SAFE_FILTER,
            sexual: SAFE_FILTER,
            violence: SAFE_FILTER,
          },
        };
      });
      ctx.recordUsage(0, 0);
      ctx.sendJson(200, { created: Math.floor(Date.now() / 1000), data });
    },
  };
}
