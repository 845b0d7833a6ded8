// A started Parley plus its edge on a free port, with small HTTP helpers.
import { afterAll, beforeAll, expect } from "vitest";
import { createTRPCClient, httpLink } from "@trpc/client";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import type { AppRouter } from "../src/index.js";
import { launch } from "../src/launch.js";
import { launch as launchSocket } from "../src/socket/launch.js";

/** Starts Parley and an edge; with `shared`, only a second edge (other settings) in front of the same services. */
export async function startTestEdge(env: Record<string, string> = {}, shared?: { parley: TestParley }) {
  const parley = shared?.parley ?? (await startTestParley({ env }));
  const edge = await launch({
    env: { ...parley.env, WEB_ROOT: "/nonexistent", ...env },
    port: 0,
    host: "127.0.0.1",
    addresses: parley.addresses,
    limiter: parley.limiter,
  });
  const base = `http://${edge.address}`;

  async function api(method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(options.body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
  }

  function trpc(token?: string) {
    return createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${base}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
    });
  }

  let counter = 0;
  /** Registers a fresh account through REST and returns its tokens and user. */
  async function signUp(prefix = "u") {
    const username = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
    const res = await api("POST", "/api/v1/auth/register", {
      body: { email: `${username}@example.com`, username, password: "correct horse battery staple" },
    });
    if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.json)}`);
    return { ...(res.json as { user: { id: string; username: string }; accessToken: string; refreshToken: string }), username };
  }

  return {
    parley,
    base,
    api,
    trpc,
    signUp,
    async stop() {
      await edge.stop();
      if (!shared) await parley.stop();
    },
  };
}

export type TestEdge = Awaited<ReturnType<typeof startTestEdge>>;
export type Account = Awaited<ReturnType<TestEdge["signUp"]>>;

/** The JSON of an answer that must come with `status`. */
export async function ok<T = any>(res: Promise<{ status: number; json: any }>, status = 200): Promise<T> {
  const { status: got, json } = await res;
  expect(got, JSON.stringify(json)).toBe(status);
  return json as T;
}

/** A new room of `owner` (private unless told) with `members` added: its id. */
export async function roomWithMembers(edge: TestEdge, owner: Account, members: Account[], visibility: "private" | "public" = "private"): Promise<string> {
  const room = await ok(edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: `room ${Date.now()}`, visibility } }), 201);
  for (const member of members) await ok(edge.api("POST", `/api/v1/rooms/${room.id}/members`, { token: owner.accessToken, body: { userId: member.user.id } }), 201);
  return room.id as string;
}

/** Starts a socket node in front of a test Parley (sharing its broker unless it gets its own). */
export async function startTestSocket(parley: TestParley, env: Record<string, string> = {}, broker = parley.broker) {
  const node = await launchSocket({ env: { ...parley.env, ...env }, port: 0, host: "127.0.0.1", addresses: parley.addresses, broker, limiter: parley.limiter });
  return { url: `ws://${node.address}/ws`, address: node.address, stop: () => node.stop() };
}

export type TestSocket = Awaited<ReturnType<typeof startTestSocket>>;

/**
 * An edge and one socket node in front of it for the tests of one file: started before them,
 * stopped after. Read `stack.edge` and `stack.socket` inside tests (they exist once started).
 */
export function useEdgeWithSocket(env: { edge?: Record<string, string>; socket?: Record<string, string> } = {}) {
  let edge: TestEdge | undefined;
  let socket: TestSocket | undefined;
  beforeAll(async () => {
    edge = await startTestEdge(env.edge);
    socket = await startTestSocket(edge.parley, { LOG_LEVEL: "silent", ...env.socket });
  }, 120_000);
  afterAll(async () => {
    await socket?.stop();
    await edge?.stop();
  });
  return {
    get edge(): TestEdge {
      if (!edge) throw new Error("the test edge is not started yet (use it inside a test)");
      return edge;
    },
    get socket(): TestSocket {
      if (!socket) throw new Error("the test socket node is not started yet (use it inside a test)");
      return socket;
    },
  };
}
