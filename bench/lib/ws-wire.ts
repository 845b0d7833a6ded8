// A minimal RFC 6455 WebSocket client on node:net for the load generator: it
// does the upgrade, parses server frames in place (no copy, no string, no event
// object per frame), answers pings and close frames, and sends masked frames
// with an all-zero mask (legal, and no XOR pass over the payload). Nothing else:
// no extensions, no TLS, no fragmentation on send. Thousands of these fit in
// one process where the `ws` package would spend its time on per-message objects.
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const HEADER_END = Buffer.from("\r\n\r\n");
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export interface WireEvents {
  /** The upgrade succeeded (101). */
  open?(socket: WireSocket): void;
  /** A data frame (text or binary): the payload is `buffer[start..end)`, valid during the call only. */
  frame(socket: WireSocket, opcode: number, buffer: Buffer, start: number, end: number): void;
  /**
   * The connection ended: `code` is the close frame's code, 1006 without one, or the
   * HTTP status (401, 503, ...) when the upgrade was refused; `failure` says why when it never opened.
   */
  close?(socket: WireSocket, code: number, reason: string, failure?: string): void;
}

export interface WireConnectOptions {
  host: string;
  port: number;
  /** Request target, e.g. "/ws" or "/socket.io/?EIO=4&transport=websocket". */
  path: string;
  /** Sec-WebSocket-Protocol entries. */
  protocols?: string[];
  /** Give up on a connection that has not opened after this long (default 30 s). */
  timeoutMs?: number;
}

export class WireSocket {
  /** 0 connecting, 1 open, 2 closing (close frame sent), 3 closed. */
  state = 0;
  /** The subprotocol the server chose. */
  protocol = "";
  /** Anything the owner wants to keep with the socket. */
  data: unknown;
  private pending: Buffer | undefined;
  private fragments: Buffer[] | undefined;
  private fragmentOpcode = 0;
  private closeCode = 1006;
  private closeReason = "";
  private failure: string | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly tcp: net.Socket,
    private readonly events: WireEvents,
    private readonly key: string,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.fail(`not open after ${timeoutMs} ms`), timeoutMs);
    this.timer.unref();
    // Data arrives through onRead (wireConnect's `onread`): no stream machinery per read.
    tcp.on("error", (error: Error) => {
      this.failure ??= this.state === 0 ? error.message : undefined;
    });
    tcp.on("close", () => this.onClosed());
  }

  get isOpen(): boolean {
    return this.state === 1;
  }

  sendText(text: string): void {
    this.sendFrame(OPCODE.text, Buffer.from(text));
  }

  sendBinary(payload: Uint8Array): void {
    this.sendFrame(OPCODE.binary, payload);
  }

  /** One frame, one write; cork the TCP socket around several sends to batch them. */
  sendFrame(opcode: number, payload: Uint8Array): void {
    if (this.state !== 1 && opcode !== OPCODE.close && opcode !== OPCODE.pong) return;
    if (this.tcp.destroyed) return;
    const n = payload.length;
    const header = n < 126 ? 6 : n < 65536 ? 8 : 14;
    const out = Buffer.allocUnsafe(header + n);
    out[0] = 0x80 | opcode;
    if (n < 126) out[1] = 0x80 | n;
    else if (n < 65536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(n, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
      out.writeUInt32BE(n >>> 0, 6);
    }
    out.writeUInt32BE(0, header - 4); // the mask: zero, so the payload goes as is
    out.set(payload, header);
    this.tcp.write(out);
  }

  /** Sends a close frame and ends the connection. */
  close(code = 1000, reason = ""): void {
    if (this.state >= 2) return;
    if (this.state === 0) {
      this.tcp.destroy();
      return;
    }
    this.state = 2;
    const text = Buffer.from(reason);
    const body = Buffer.allocUnsafe(2 + text.length);
    body.writeUInt16BE(code, 0);
    text.copy(body, 2);
    this.sendFrame(OPCODE.close, body);
    this.tcp.end();
    setTimeout(() => this.tcp.destroy(), 2_000).unref();
  }

  /** Drops the TCP connection without a close frame (a crashed client). */
  destroy(): void {
    this.tcp.destroy();
  }

  private fail(why: string): void {
    if (this.state !== 0) return;
    this.failure = why;
    this.tcp.destroy();
  }

  private onClosed(): void {
    if (this.state === 3) return;
    const opened = this.state !== 0;
    this.state = 3;
    clearTimeout(this.timer);
    this.pending = undefined;
    this.events.close?.(this, this.closeCode, this.closeReason, opened ? undefined : (this.failure ?? "closed before the upgrade"));
  }

  /** `chunk` is the shared read buffer: valid during this call only (leftovers are copied). */
  onRead(chunk: Buffer): void {
    let buffer = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    if (this.state === 0) {
      const end = buffer.indexOf(HEADER_END);
      if (end === -1) {
        if (buffer.length > 16_384) this.fail("upgrade response too long");
        else this.pending = Buffer.from(buffer);
        return;
      }
      const head = buffer.toString("latin1", 0, end);
      buffer = buffer.subarray(end + 4);
      if (!this.upgraded(head, buffer)) return;
    }
    this.parse(buffer);
  }

  /** Checks the 101 answer; anything else ends the connection with the HTTP status as the code. */
  private upgraded(head: string, rest: Buffer): boolean {
    const lines = head.split("\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
    if (status !== 101) {
      this.closeCode = status || 1002;
      this.closeReason = rest.toString("utf8", 0, Math.min(rest.length, 200));
      this.fail(`HTTP ${status}: ${lines[0]} ${this.closeReason}`.trim());
      return false;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const expected = createHash("sha1").update(this.key + GUID).digest("base64");
    if (headers.get("sec-websocket-accept") !== expected) {
      this.fail("bad Sec-WebSocket-Accept");
      return false;
    }
    this.protocol = headers.get("sec-websocket-protocol") ?? "";
    this.state = 1;
    clearTimeout(this.timer);
    this.events.open?.(this);
    return true;
  }

  private parse(buffer: Buffer): void {
    const length = buffer.length;
    let offset = 0;
    while (length - offset >= 2 && this.state !== 3) {
      const b0 = buffer[offset]!;
      const b1 = buffer[offset + 1]!;
      let size = b1 & 0x7f;
      let header = 2;
      if (size === 126) {
        if (length - offset < 4) break;
        size = buffer.readUInt16BE(offset + 2);
        header = 4;
      } else if (size === 127) {
        if (length - offset < 10) break;
        size = buffer.readUInt32BE(offset + 2) * 2 ** 32 + buffer.readUInt32BE(offset + 6);
        header = 10;
      }
      if (b1 & 0x80) header += 4; // servers do not mask; skip a mask all the same
      if (length - offset < header + size) break;
      const start = offset + header;
      const end = start + size;
      offset = end;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode >= 8) this.control(opcode, buffer, start, end);
      else if (opcode === OPCODE.continuation || !fin || this.fragments) this.fragment(opcode, fin, buffer, start, end);
      else this.events.frame(this, opcode, buffer, start, end);
    }
    if (offset < length && this.state !== 3) this.pending = Buffer.from(buffer.subarray(offset));
  }

  private fragment(opcode: number, fin: boolean, buffer: Buffer, start: number, end: number): void {
    if (opcode !== OPCODE.continuation) {
      this.fragments = [];
      this.fragmentOpcode = opcode;
    }
    this.fragments?.push(Buffer.from(buffer.subarray(start, end)));
    if (fin && this.fragments) {
      const whole = Buffer.concat(this.fragments);
      this.fragments = undefined;
      this.events.frame(this, this.fragmentOpcode, whole, 0, whole.length);
    }
  }

  private control(opcode: number, buffer: Buffer, start: number, end: number): void {
    if (opcode === OPCODE.ping) this.sendFrame(OPCODE.pong, buffer.subarray(start, end));
    else if (opcode === OPCODE.close) {
      this.closeCode = end - start >= 2 ? buffer.readUInt16BE(start) : 1005;
      this.closeReason = buffer.toString("utf8", Math.min(start + 2, end), end);
      if (this.state === 1) {
        this.state = 2;
        this.sendFrame(OPCODE.close, buffer.subarray(start, Math.min(start + 2, end)));
      }
      this.tcp.end();
      setTimeout(() => this.tcp.destroy(), 2_000).unref();
    }
  }
}

/** Opens a TCP connection and asks for the upgrade; events say how it goes. */
export function wireConnect(options: WireConnectOptions, events: WireEvents): WireSocket {
  const key = randomBytes(16).toString("base64");
  let socket: WireSocket | undefined;
  const tcp = net.connect({
    host: options.host,
    port: options.port,
    noDelay: true,
    // Every socket of the process reads into one buffer (reads and their callbacks never
    // interleave on the event loop), so a read costs no allocation and no stream events.
    onread: {
      buffer: READ_BUFFER,
      callback: (size: number, buffer: Uint8Array) => {
        socket?.onRead((buffer as Buffer).subarray(0, size));
        return true;
      },
    },
  });
  socket = new WireSocket(tcp, events, key, options.timeoutMs ?? 30_000);
  const lines = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}:${options.port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (options.protocols?.length) lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(", ")}`);
  tcp.write(`${lines.join("\r\n")}\r\n\r\n`);
  return socket;
}
