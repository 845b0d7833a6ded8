// Socket lifetimes: token expiry and reauth, presence, typing, and shutdown.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
beforeAll(async () => {
  // Access tokens live 10 seconds here, so expiry can be watched.
  edge = await startTestEdge({ ACCESS_TOKEN_TTL_SECONDS: "10" });
  socket = await startTestSocket(edge.parley);
});
afterAll(async () => {
  await socket?.stop();
  await edge?.stop();
});

const PASSWORD = "correct horse battery staple";

async function freshToken(username: string): Promise<string> {
  const res = await edge.api("POST", "/api/v1/auth/login", { body: { login: username, password: PASSWORD } });
  return res.json.accessToken;
}

describe("access token lifetime", () => {
  it("closes a socket whose token expires with 4001, and keeps one that sent a fresh token in time", async () => {
    const alice = await edge.signUp("exp");
    const expiring = await RawSocket.open(socket.url, alice.accessToken);
    const renewed = await RawSocket.open(socket.url, alice.accessToken);
    const expiresAt = Number(expiring.frames.find((f) => f.hello)!.hello.tokenExpiresAtMs);
    expect(expiresAt).toBeGreaterThan(Date.now());
    // Token times are whole seconds: wait two so the fresh token outlives the first one.
    await new Promise((r) => setTimeout(r, 2000));
    const ack = await renewed.request({ ref: "re", reauth: { token: await freshToken(alice.username) } });
    expect(ack.ack).toBeDefined();
    expect((await expiring.waitClosed(20_000)).code).toBe(4001);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 50);
    // The renewed socket outlives the first token: it still answers.
    await renewed.roundTrip();
    expect(renewed.closed).toBeUndefined();
    renewed.close();
  }, 60_000);

  it("refuses a reauth with another user's token", async () => {
    const alice = await edge.signUp("ra");
    const bob = await edge.signUp("rb");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const answer = await ws.request({ ref: "x", reauth: { token: bob.accessToken } });
    expect(answer.error.code).toBe("PERMISSION_DENIED");
    ws.close();
  });
});

describe("presence and typing", () => {
  it("shows a member coming online and going offline, and relays typing to the others", async () => {
    const alice = await edge.signUp("pa");
    const bob = await edge.signUp("pb");
    const room = await edge.api("POST", "/api/v1/rooms", { token: alice.accessToken, body: { name: "presence", visibility: "public" } });
    await edge.api("POST", `/api/v1/rooms/${room.json.id}/join`, { token: bob.accessToken });
    const wa = await RawSocket.open(socket.url, alice.accessToken);
    await wa.request({ ref: "s", subscribe: { roomId: room.json.id } });
    const wb = await RawSocket.open(socket.url, await freshToken(bob.username));
    await wb.request({ ref: "s", subscribe: { roomId: room.json.id } });
    await wa.next((f) => f.presence?.userId === bob.user.id && f.presence.state === "PRESENCE_STATE_ONLINE");
    // Bob sees Alice online in the snapshot he gets on subscribing.
    await wb.next((f) => f.presence?.userId === alice.user.id && f.presence.state === "PRESENCE_STATE_ONLINE");

    wb.send({ typing: { roomId: room.json.id } });
    const typing = await wa.next((f) => f.typing);
    expect(typing.typing).toEqual({ roomId: room.json.id, userId: bob.user.id });

    const mark = wa.frames.length;
    wb.close();
    await wa.next((f) => f.presence?.userId === bob.user.id && f.presence.state === "PRESENCE_STATE_OFFLINE", 10_000, mark);
    wa.close();
  });
});

describe("shutdown", () => {
  it("closes every socket with 1012 (reconnect elsewhere) and refuses new upgrades", async () => {
    const node = await startTestSocket(edge.parley);
    const alice = await edge.signUp("sd");
    const ws = await RawSocket.open(node.url, alice.accessToken);
    const stopping = node.stop();
    expect((await ws.waitClosed()).code).toBe(1012);
    await stopping;
    const refused = await RawSocket.open(node.url, alice.accessToken).then(
      () => "accepted",
      () => "refused",
    );
    expect(refused).toBe("refused");
  });
});
