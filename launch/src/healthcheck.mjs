// Health checks without dependencies (plain JavaScript, node: modules only), so that
// they run in the image without tsx and start fast. Used by docker-compose.yml
// healthchecks and by start:cluster.
//
//   node launch/src/healthcheck.mjs grpc 127.0.0.1:3001 [service]   grpc.health.v1.Health/Check is SERVING
//   node launch/src/healthcheck.mjs http http://127.0.0.1:8080/healthz   answers 200
//   node launch/src/healthcheck.mjs tcp 127.0.0.1:3007               accepts a connection
// Exit code 0 when healthy, 1 otherwise (the reason on stderr).
import http2 from "node:http2";
import net from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/**
 * Calls grpc.health.v1.Health/Check over h2c (gRPC without TLS, as Parley's services speak it).
 * Resolves to the ServingStatus name; rejects when the call itself fails.
 */
export function checkGrpcHealth(address, { service = "", timeoutMs = 2000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const client = http2.connect(`http://${address}`);
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function finish(error, status) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.close();
      client.destroy();
      if (error) reject(error);
      else resolvePromise(status);
    }
    client.on("error", (error) => finish(error));
    // HealthCheckRequest { string service = 1; }: field 1, wire type 2 (0x0a), length, bytes.
    const name = Buffer.from(service, "utf8");
    const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt8(0, 0); // not compressed
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const request = client.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${timeoutMs}m`,
    });
    const chunks = [];
    let grpcStatus;
    let grpcMessage;
    request.on("response", (headers) => {
      // A trailers-only answer (an error) carries grpc-status in the headers.
      if (headers["grpc-status"] !== undefined) {
        grpcStatus = String(headers["grpc-status"]);
        grpcMessage = headers["grpc-message"];
      }
    });
    request.on("trailers", (trailers) => {
      grpcStatus = String(trailers["grpc-status"]);
      grpcMessage = trailers["grpc-message"];
    });
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("error", (error) => finish(error));
    request.on("end", () => {
      if (grpcStatus !== "0") {
        return finish(new Error(`grpc-status ${grpcStatus ?? "missing"}${grpcMessage ? `: ${decodeURIComponent(String(grpcMessage))}` : ""}`));
      }
      const body = Buffer.concat(chunks);
      // HealthCheckResponse { ServingStatus status = 1; }: 0x08 then a varint; absent means 0 (UNKNOWN).
      let status = 0;
      if (body.length > 5) {
        const payload = body.subarray(5, 5 + body.readUInt32BE(1));
        if (payload[0] === 0x08) status = readVarint(payload, 1);
      }
      finish(undefined, SERVING_STATUS[status] ?? `STATUS_${status}`);
    });
    request.end(frame);
  });
}

/** GET `url`; resolves to the status code. */
export async function checkHttp(url, { timeoutMs = 2000 } = {}) {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  await response.body?.cancel();
  return response.status;
}

/** Resolves when host:port accepts a TCP connection. */
export function checkTcp(address, { timeoutMs = 2000 } = {}) {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  return new Promise((resolvePromise, reject) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise();
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    });
    socket.once("error", reject);
  });
}

function varint(value) {
  const bytes = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

function readVarint(buffer, offset) {
  let result = 0;
  let shift = 0;
  for (let i = offset; i < buffer.length && shift < 35; i++) {
    result |= (buffer[i] & 0x7f) << shift;
    if ((buffer[i] & 0x80) === 0) break;
    shift += 7;
  }
  return result;
}

async function cli(argv) {
  const [kind, target, service] = argv;
  try {
    if (kind === "grpc" && target) {
      const status = await checkGrpcHealth(target, { service: service ?? "" });
      if (status !== "SERVING") throw new Error(status);
    } else if (kind === "http" && target) {
      const status = await checkHttp(target);
      if (status !== 200) throw new Error(`HTTP ${status}`);
    } else if (kind === "tcp" && target) {
      await checkTcp(target);
    } else {
      process.stderr.write("usage: healthcheck.mjs grpc <host:port> [service] | http <url> | tcp <host:port>\n");
      return 64;
    }
    return 0;
  } catch (error) {
    process.stderr.write(`unhealthy: ${kind} ${target}: ${error instanceof Error ? error.message : error}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await cli(process.argv.slice(2));
}
