// Notifications on the socket tier (issue 18): the node forwards each notification_created event of
// `user.<id>` as ServerFrame.notification to every socket of that person, in both encodings, and to
// nobody else; @parley/client's LiveClient emits it as `notification`. The events come from the
// broker as the notification worker publishes them.
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LiveClient, Reason, type Notification } from "@parley/client";
import { newEvent, topics } from "@parley/kit";
import { ServerFrameSchema, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";
import { ok, roomWithMembers, type Account, useEdgeWithSocket } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

const stack = useEdgeWithSocket();

/** A socket speaking parley.v1.proto: every binary frame decoded. */
async function openProto(url: string, token: string): Promise<{ ws: WebSocket; frames: ServerFrame[] }> {
  const ws = new WebSocket(url, ["parley.v1.proto", `parley.auth.${token}`]);
  const frames: ServerFrame[] = [];
  ws.on("message", (data, isBinary) => {
    if (isBinary) frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data as Buffer)));
  });
  await once(ws, "open");
  await waitFor(() => frames.some((f) => f.frame.case === "hello"));
  return { ws, frames };
}

/**
 * Proof that the node hears the person's topic on every socket given: a read marker moved over
 * HTTP comes on `user.<id>` like a notification, so once each socket has it, so would they.
 */
async function userTopicLive(who: Account, roomId: string, seq: number, sockets: { json: RawSocket[]; proto: { frames: ServerFrame[] }[] }) {
  await ok(stack.edge.api("POST", `/api/v1/rooms/${roomId}/read`, { token: who.accessToken, body: { seq } }));
  for (const ws of sockets.json) await ws.next((f) => f.readMarker?.roomId === roomId && Number(f.readMarker.lastReadSeq) === seq);
  for (const ws of sockets.proto) await waitFor(() => ws.frames.some((f) => f.frame.case === "readMarker" && f.frame.value.roomId === roomId && f.frame.value.lastReadSeq === BigInt(seq)));
}

function publishNotification(userId: string, fields: { roomId: string; messageId: string; senderId: string; id: string }) {
  const notification = {
    ...fields,
    seq: 7n,
    reason: Reason.MENTION,
    senderName: "Ada <script>",
    roomName: "general",
    preview: "@bob look at this",
    createTime: timestampFromDate(new Date("2026-12-04T03:00:00Z")),
    sound: true,
  };
  stack.edge.parley.broker.publish(topics.user(userId), newEvent("", { case: "notificationCreated", value: { userId, notification } }));
  return notification;
}

async function twoPeopleInARoom() {
  const alice = await stack.edge.signUp("na");
  const bob = await stack.edge.signUp("nb");
  const roomId = await roomWithMembers(stack.edge, alice, [bob]);
  const first = await ok(stack.edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "hello" } }), 201);
  await ok(stack.edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "again" } }), 201);
  return { alice, bob, roomId, first };
}

describe("notification frames", () => {
  it("forwards a notification_created event to every socket of the person, as JSON and as protobuf, and to no one else", async () => {
    const { alice, bob, roomId, first } = await twoPeopleInARoom();
    const bobJson = await RawSocket.open(stack.socket.url, bob.accessToken);
    const bobJson2 = await RawSocket.open(stack.socket.url, bob.accessToken);
    const bobProto = await openProto(stack.socket.url, bob.accessToken);
    const aliceJson = await RawSocket.open(stack.socket.url, alice.accessToken);
    // One of bob's sockets subscribed to the room, the others not: all get it.
    await bobJson2.request({ ref: "s", subscribe: { roomId } });
    await userTopicLive(bob, roomId, 1, { json: [bobJson, bobJson2], proto: [bobProto] });
    await userTopicLive(alice, roomId, 2, { json: [aliceJson], proto: [] });

    const id = "01900000-0000-7000-8000-0000000000aa";
    const sent = publishNotification(bob.user.id, { id, roomId, messageId: first.id, senderId: alice.user.id });

    for (const ws of [bobJson, bobJson2]) {
      const frame = await ws.next((f) => f.notification);
      expect(frame.notification).toEqual({
        id,
        roomId,
        messageId: first.id,
        seq: "7",
        reason: "REASON_MENTION",
        senderId: alice.user.id,
        senderName: "Ada <script>",
        roomName: "general",
        preview: "@bob look at this",
        createTime: "2026-12-04T03:00:00Z",
        sound: true,
      });
    }
    await waitFor(() => bobProto.frames.some((f) => f.frame.case === "notification"));
    const proto = bobProto.frames.find((f) => f.frame.case === "notification")!.frame.value as Notification;
    expect({ id: proto.id, reason: proto.reason, seq: proto.seq, senderName: proto.senderName, messageId: proto.messageId }).toEqual({
      id,
      reason: Reason.MENTION,
      seq: sent.seq,
      senderName: "Ada <script>",
      messageId: first.id,
    });

    // Alice's socket heard every frame the node queued for it before the pong: no notification.
    await aliceJson.roundTrip();
    expect(aliceJson.frames.filter((f) => f.notification)).toEqual([]);
    // Each of bob's sockets got it once.
    for (const ws of [bobJson, bobJson2]) {
      await ws.roundTrip();
      expect(ws.frames.filter((f) => f.notification)).toHaveLength(1);
    }
    expect(bobProto.frames.filter((f) => f.frame.case === "notification")).toHaveLength(1);
    for (const ws of [bobJson, bobJson2, aliceJson]) ws.close();
    bobProto.ws.close();
  });

  it("brings a mention from another person to the mentioned person's sockets as a notification (the worker's desktop channel); the sender gets none", async () => {
    const { alice, bob, roomId } = await twoPeopleInARoom();
    const bobJson = await RawSocket.open(stack.socket.url, bob.accessToken);
    const bobProto = await openProto(stack.socket.url, bob.accessToken);
    const aliceJson = await RawSocket.open(stack.socket.url, alice.accessToken);
    await userTopicLive(bob, roomId, 1, { json: [bobJson], proto: [bobProto] });
    await userTopicLive(alice, roomId, 2, { json: [aliceJson], proto: [] });
    const send = (who: Account, body: string) => ok(stack.edge.api("POST", "/api/v1/messages", { token: who.accessToken, body: { roomId, body } }), 201);

    const mention = await send(alice, `@${bob.username} can you look at this?`);
    const frame = await bobJson.next((f) => f.notification?.messageId === mention.id, 30_000);
    expect(frame.notification).toMatchObject({
      roomId,
      messageId: mention.id,
      seq: String(mention.seq),
      reason: "REASON_MENTION",
      senderId: alice.user.id,
      senderName: alice.username,
      preview: `@${bob.username} can you look at this?`,
    });
    expect(frame.notification.id).toBeTruthy();
    await waitFor(() => bobProto.frames.some((f) => f.frame.case === "notification" && f.frame.value.messageId === mention.id), 30_000);
    const proto = bobProto.frames.find((f) => f.frame.case === "notification")!.frame.value as Notification;
    expect([proto.id, proto.reason, proto.seq]).toEqual([frame.notification.id, Reason.MENTION, BigInt(mention.seq)]);

    // Bob answers, mentioning alice: she is notified of his message, never of her own; then another
    // mention of bob: once it is there, the worker is past bob's answer (it goes through a room in order).
    const answer = await send(bob, `@${alice.username} sure`);
    await aliceJson.next((f) => f.notification?.messageId === answer.id, 30_000);
    const again = await send(alice, `@${bob.username} thanks`);
    await bobJson.next((f) => f.notification?.messageId === again.id, 30_000);
    await aliceJson.roundTrip();
    await bobJson.roundTrip();
    expect(aliceJson.frames.filter((f) => f.notification).map((f) => f.notification.messageId)).toEqual([answer.id]);
    expect(bobJson.frames.filter((f) => f.notification).map((f) => f.notification.messageId)).toEqual([mention.id, again.id]);
    for (const ws of [bobJson, aliceJson]) ws.close();
    bobProto.ws.close();
  });

  it("brings a LiveClient's `notification` event the Notification, in both encodings", async () => {
    const { alice, bob, roomId, first } = await twoPeopleInARoom();
    for (const [i, encoding] of (["json", "proto"] as const).entries()) {
      const client = new LiveClient({ url: stack.socket.url, getToken: async () => bob.accessToken, WebSocket: WebSocket as never, encoding, backoff: { baseMs: 50, maxMs: 200 } });
      const got: Notification[] = [];
      const markers: bigint[] = [];
      client.on("notification", (n) => got.push(n));
      client.on("readMarker", (m) => markers.push(m.lastReadSeq));
      client.connect();
      await waitFor(() => client.connectionState === "live");
      // The read marker proves the node hears bob's topic for this client.
      const seq = i + 1;
      await ok(stack.edge.api("POST", `/api/v1/rooms/${roomId}/read`, { token: bob.accessToken, body: { seq } }));
      await waitFor(() => markers.includes(BigInt(seq)));
      const id = `01900000-0000-7000-8000-00000000000${i}`;
      publishNotification(bob.user.id, { id, roomId, messageId: first.id, senderId: alice.user.id });
      await waitFor(() => got.length === 1);
      const [n] = got;
      expect(n!.id).toBe(id);
      expect(n!.reason).toBe(Reason.MENTION);
      expect(n!.roomId).toBe(roomId);
      expect(n!.senderId).toBe(alice.user.id);
      expect(n!.seq).toBe(7n);
      expect(n!.createTime?.seconds).toBe(BigInt(Date.parse("2026-12-04T03:00:00Z") / 1000));
      expect(n!.sound).toBe(true);
      client.close();
    }
  });
});
