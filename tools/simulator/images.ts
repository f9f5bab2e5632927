/**
 * The image generation operation (dall-e-2 and dall-e-3): checks the request as OpenAI does and
 * answers real PNGs, seeded gradients with soft circles, as `b64_json` or as a `url` that the
 * simulator serves under /_simulator/images/ (the latest 64 are kept). Valid images, so that code
 * which downloads, decodes or stores them runs as it would against Azure.
 */
import { randomUUID } from "node:crypto";
import { deflateSync } from "node:zlib";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { SAFE_FILTER, contentFilterError, invalidRequest } from "./errors.js";
import { Random, digest } from "./random.js";

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    table[byte] = crc;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let crc = -1;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
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
  const random = new Random(seed);
  const fromColour = [random.int(0, 255), random.int(0, 255), random.int(0, 255)];
  const toColour = [random.int(0, 255), random.int(0, 255), random.int(0, 255)];
  const circles = Array.from({ length: 4 }, () => ({
    x: random.next() * width,
    y: random.next() * height,
    radius: (0.1 + random.next() * 0.25) * Math.min(width, height),
    colour: [random.int(0, 255), random.int(0, 255), random.int(0, 255)],
  }));
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const along = (x + y) / (width + height);
      let red = fromColour[0]! * (1 - along) + toColour[0]! * along;
      let green = fromColour[1]! * (1 - along) + toColour[1]! * along;
      let blue = fromColour[2]! * (1 - along) + toColour[2]! * along;
      for (const circle of circles) {
        const dx = x - circle.x;
        const dy = y - circle.y;
        const distanceSquared = dx * dx + dy * dy;
        if (distanceSquared < circle.radius * circle.radius) {
          const alpha = 1 - Math.sqrt(distanceSquared) / circle.radius;
          red = red * (1 - alpha) + circle.colour[0]! * alpha;
          green = green * (1 - alpha) + circle.colour[1]! * alpha;
          blue = blue * (1 - alpha) + circle.colour[2]! * alpha;
        }
      }
      const offset = y * stride + 1 + x * 3;
      raw[offset] = red;
      raw[offset + 1] = green;
      raw[offset + 2] = blue;
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
  const imageCount = body.n ?? 1;
  const maxImages = family === "dall-e-3" ? 1 : 10;
  if (typeof imageCount !== "number" || !Number.isInteger(imageCount) || imageCount < 1 || imageCount > maxImages)
    throw invalidRequest(`Invalid 'n': ${family} supports 1 to ${maxImages} images per request.`, "n", "invalid_value");
  const size = (body.size ?? "1024x1024") as string;
  if (!SIZES[family]!.includes(size))
    throw invalidRequest(
      `Invalid value: '${size}'. Supported values are: ${SIZES[family]!.map((supported) => `'${supported}'`).join(", ")}.`,
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
  const [width, height] = size.split("x").map(Number) as [number, number];

  return {
    chargeTokens: 0,
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.requestMs) + ctx.faults.delayMs))) return;
      const data = Array.from({ length: imageCount }, (_, i) => {
        const png = renderPng(width, height, digest(seed, prompt, size, i, ctx.random.nextUint32()));
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
