// One rule table drives validation everywhere: a value gets the same answer (accepted, or the
// same field and rule message) at the edge over REST and tRPC, on the socket (a send frame) and in
// the service over gRPC. Lengths count code points, so emoji count as one character each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCClientError } from "@trpc/client";
import { ConnectError, Code } from "@connectrpc/connect";
import { asUser } from "@parley/kit";
import { FIELDS } from "@parley/proto/rules";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

/** What a layer answered: accepted, or the field and the rule (the message after "<field>: "). */
type Answer = { accepted: true } | { accepted: false; field: string; rule: string };

let edge: TestEdge;
let socketTier: Awaited<ReturnType<typeof startTestSocket>>;
let alice: Awaited<ReturnType<TestEdge["signUp"]>>;
let roomId: string;
let ws: RawSocket;

beforeAll(async () => {
  edge = await startTestEdge({ RATE_SEND_PER_10S_USER: "1000", RATE_SEND_PER_10S_ADDRESS: "1000" });
  socketTier = await startTestSocket(edge.parley, { RATE_SEND_PER_10S_USER: "1000" });
  alice = await edge.signUp("rules");
  const room = await edge.api("POST", "/api/v1/rooms", { token: alice.accessToken, body: { name: "rules", visibility: "public" } });
  expect(room.status).toBe(201);
  roomId = room.json.id;
  ws = await RawSocket.open(socketTier.url, alice.accessToken);
});
afterAll(async () => {
  ws?.close();
  await socketTier?.stop();
  await edge?.stop();
});

const camel = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** An edge answer's field and message ("<field>: <rule>"). */
function ruleOf(field: string | undefined, message: string): Answer {
  expect(field, message).toBeTruthy();
  expect(message.startsWith(`${field}: `), message).toBe(true);
  return { accepted: false, field: field!, rule: message.slice(field!.length + 2) };
}

async function rest(method: string, path: string, body: unknown): Promise<Answer> {
  const res = await edge.api(method, path, { token: alice.accessToken, body });
  if (res.status < 300) return { accepted: true };
  expect(res.status, JSON.stringify(res.json)).toBe(400);
  expect(res.json.error.code).toBe("BAD_REQUEST");
  return ruleOf(res.json.error.field, res.json.error.message);
}

async function trpc(run: () => Promise<unknown>): Promise<Answer> {
  try {
    await run();
    return { accepted: true };
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    expect(error.data?.code, error.message).toBe("BAD_REQUEST");
    return ruleOf(error.data?.field, error.message);
  }
}

async function grpc(run: () => Promise<unknown>): Promise<Answer> {
  try {
    await run();
    return { accepted: true };
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    expect(error.code, error.rawMessage).toBe(Code.InvalidArgument);
    // The service names fields as the proto does (client_msg_id); the public API in camelCase.
    const field = error.metadata.get("parley-field") ?? "";
    expect(error.rawMessage.startsWith(`${field}: `), error.rawMessage).toBe(true);
    return { accepted: false, field: camel(field), rule: error.rawMessage.slice(field.length + 2) };
  }
}

let refs = 0;
async function socketSend(send: { body: string; clientMsgId: string }): Promise<Answer> {
  const answer = await ws.request({ ref: `r${refs++}`, send: { roomId, ...send } });
  if (answer.ack) return { accepted: true };
  expect(answer.error?.code, JSON.stringify(answer)).toBe("INVALID_ARGUMENT");
  return ruleOf(answer.error.field, answer.error.message);
}

let ids = 0;
const freshId = () => `rules-${process.pid}-${Date.now().toString(36)}-${ids++}`;

/** A send's answer in all four places (each with its own clientMsgId unless the case sets one). */
async function sendEverywhere(body: string, clientMsgId?: string) {
  const id = () => clientMsgId ?? freshId();
  return {
    rest: await rest("POST", "/api/v1/messages", { roomId, body, clientMsgId: id() }),
    trpc: await trpc(() => edge.trpc(alice.accessToken).messages.send.mutate({ roomId, body, clientMsgId: id() })),
    socket: await socketSend({ body, clientMsgId: id() }),
    grpc: await grpc(() => edge.parley.messages.sendMessage({ roomId, body, clientMsgId: id() }, asUser(alice.user.id))),
  };
}

function expectOneAnswer(answers: Record<string, Answer>, expected: Answer) {
  for (const [layer, answer] of Object.entries(answers)) expect(answer, layer).toEqual(expected);
}

const EMOJI = "😀";
const BODY_REFUSED: Answer = { accepted: false, field: "body", rule: FIELDS.body.long };
const CLIENT_MSG_ID_REFUSED: Answer = { accepted: false, field: "clientMsgId", rule: FIELDS.clientMsgId.long };

describe("one answer for a room name, in code points, everywhere it is checked", () => {
  async function createEverywhere(name: string) {
    return {
      rest: await rest("POST", "/api/v1/rooms", { name, visibility: "public" }),
      trpc: await trpc(() => edge.trpc(alice.accessToken).rooms.create.mutate({ name, visibility: "public" })),
      grpc: await grpc(() => edge.parley.rooms.createRoom({ name, kind: RoomKind.PUBLIC }, asUser(alice.user.id))),
    };
  }

  it("takes a name of 60 emoji (120 UTF-16 units)", async () => {
    expectOneAnswer(await createEverywhere(EMOJI.repeat(60)), { accepted: true });
  });

  it("refuses a name of 81 emoji with the name's rule", async () => {
    expectOneAnswer(await createEverywhere(EMOJI.repeat(81)), { accepted: false, field: "name", rule: "at most 80 characters" });
  });
});

describe("one answer for a message body and a clientMsgId over REST, tRPC, the socket and gRPC", () => {
  it("takes 4,000 characters, ASCII or emoji", async () => {
    expectOneAnswer(await sendEverywhere("x".repeat(4000)), { accepted: true });
    expectOneAnswer(await sendEverywhere(EMOJI.repeat(4000)), { accepted: true });
  });

  it("refuses 4,001 characters, ASCII or emoji, with the body's rule", async () => {
    expectOneAnswer(await sendEverywhere("x".repeat(4001)), BODY_REFUSED);
    expectOneAnswer(await sendEverywhere(EMOJI.repeat(4001)), BODY_REFUSED);
  });

  it("takes an empty clientMsgId (the server picks one)", async () => {
    expectOneAnswer(await sendEverywhere("hello", ""), { accepted: true });
  });

  it("refuses a clientMsgId of 65 characters with its rule", async () => {
    expectOneAnswer(await sendEverywhere("hello", "c".repeat(65)), CLIENT_MSG_ID_REFUSED);
  });
});
