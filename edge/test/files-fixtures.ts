// Files for the edge's tests (issue 19): real PNGs made here (no image library needed), and raw
// multipart requests for what fetch cannot do (a body cut off halfway, a Content-Length that lies).
import { request, type IncomingHttpHeaders } from "node:http";
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid RGB PNG of width x height, a colour gradient (so that it compresses like a picture, not like nothing). */
export function png(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = (x * 255) / Math.max(1, width - 1);
      rows[row + 2 + x * 3] = (y * 255) / Math.max(1, height - 1);
      rows[row + 3 + x * 3] = 128;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

export const BOUNDARY = "----parley-test-boundary";

/** The multipart body of one `file` part, in its three pieces. */
export function multipart(name: string, bytes: Buffer, field = "file"): { head: Buffer; bytes: Buffer; tail: Buffer; length: number } {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  return { head, bytes, tail, length: head.length + bytes.length + tail.length };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

/**
 * A POST to the edge written by hand: `write` decides what goes out, and may leave the request
 * unfinished (then the promise settles with the answer, or with the connection's end).
 */
export function rawPost(
  url: string,
  headers: Record<string, string>,
  write: (req: ReturnType<typeof request>) => void,
): Promise<RawAnswer | { closed: true }> {
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", headers });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? JSON.parse(text) : undefined });
      });
      res.on("error", () => resolve({ closed: true }));
    });
    // Writing into a connection the server has answered and closed fails; the answer is what counts.
    req.on("error", () => setImmediate(() => resolve({ closed: true })));
    write(req);
  });
}
