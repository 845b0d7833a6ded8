// The notification worker end to end (issue 18), with real parts: the message service's events on
// the firehose, a real SMTP server (smtp-server + mailparser) and a real push service (a local HTTP
// endpoint that checks the VAPID JWT and decrypts with http_ece), on PGlite or PostgreSQL. The
// clock of due times is the test's: it moves past the email delay without sleeping.
import { asUser, topics } from "@parley/kit";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { Level } from "@parley/proto/notify/v1/notify_pb";
import { CHANNEL, REASON } from "@parley/proto/rules/notify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationId } from "../src/worker/dispatch.js";
import { PUBLIC_URL, startNotifyWorld, until, type NotifyWorld } from "./support/world.js";

const MINUTES = 60_000;

describe("notification worker", () => {
  let world: NotifyWorld;
  beforeAll(async () => {
    world = await startNotifyWorld();
  }, 120_000);
  afterAll(() => world?.stop());

  it("pushes a mention to the person's device: VAPID checked, payload decrypted, Topic from the notification id", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.room(alice, [bob], "Launch plans");
    const { device } = await world.subscribePush(bob);
    const message = await world.send(alice, roomId, `@${bob.username} can you look at this?`);
    const push = await until("the push", () => world.push.received.find((p) => p.subscriptionId === device.id));
    const payload = push!.json as Record<string, unknown>;
    expect(payload).toMatchObject({
      id: notificationId(bob.id, message.id),
      roomId,
      messageId: message.id,
      seq: Number(message.seq),
      reason: "mention",
      senderId: alice.id,
      senderName: `Person ${alice.username}`,
      roomName: "Launch plans",
      preview: `@${bob.username} can you look at this?`,
      url: `${PUBLIC_URL}/rooms/${roomId}?reply=${message.seq}`,
    });
    expect(push!.topic).toBe(notificationId(bob.id, message.id).replaceAll("-", ""));
    expect(push!.vapid.subject).toMatch(/^mailto:|^https:/);
    const rows = await world.settled(message.id);
    expect(rows.map((r) => [r.userId, r.channel, r.state, r.reason])).toEqual([
      [bob.id, CHANNEL.DESKTOP, "sent", REASON.MENTION],
      [bob.id, CHANNEL.PUSH, "sent", REASON.MENTION],
      [bob.id, CHANNEL.EMAIL, "pending", REASON.MENTION],
    ]);
  });
});
