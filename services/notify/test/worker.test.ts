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
    const rows = await world.settled(message);
    expect(rows.map((r) => [r.userId, r.channel, r.state, r.reason])).toEqual([
      [bob.id, CHANNEL.DESKTOP, "sent", REASON.MENTION],
      [bob.id, CHANNEL.PUSH, "sent", REASON.MENTION],
      [bob.id, CHANNEL.EMAIL, "pending", REASON.MENTION],
    ]);
  });

  it("sends the desktop notification as notification_created on the person's topic, once per (user, message)", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.dm(alice, bob);
    const events: Event[] = [];
    const unsubscribe = await world.parley.broker.subscribe(topics.user(bob.id), (event) => events.push(event));
    try {
      const message = await world.send(alice, roomId, "are you there?");
      const created = await until("notification_created", () => events.find((e) => e.payload.case === "notificationCreated"));
      const value = created.payload.case === "notificationCreated" ? created.payload.value : undefined;
      expect(value?.userId).toBe(bob.id);
      expect(value?.notification).toMatchObject({
        id: notificationId(bob.id, message.id),
        roomId,
        messageId: message.id,
        reason: REASON.DIRECT,
        senderId: alice.id,
        roomName: "",
        preview: "are you there?",
        sound: true,
      });
      await world.settled(message);
      expect(events.filter((e) => e.payload.case === "notificationCreated")).toHaveLength(1);
    } finally {
      await unsubscribe();
    }
  });

  it("emails one batch per person for several missed direct messages and mentions: links, escaped HTML, List-Unsubscribe that works", async () => {
    const [alice, bob, carol] = [await world.person(), await world.person(), await world.person()];
    const direct = await world.dm(alice, bob);
    const roomId = await world.room(alice, [bob, carol], "Ops <team>");
    const first = await world.send(alice, direct, "first DM");
    const second = await world.send(alice, direct, "second DM with <script>alert(1)</script> & more");
    const mention = await world.send(carol, roomId, `@${bob.username} deploy is <b>done</b>`);
    for (const message of [first, second, mention]) await world.takenIn(message);
    expect(world.smtp.received.filter((m) => m.to.includes(bob.email))).toHaveLength(0);
    world.advance(16 * MINUTES);
    const mail = await until("bob's email", () => world.smtp.received.find((m) => m.to.includes(bob.email)));
    for (const message of [first, second, mention]) await world.settled(message, [CHANNEL.EMAIL]);
    const rows = (await Promise.all([first, second, mention].map((m) => world.deliveries(m.id)))).flat().filter((r) => r.channel === CHANNEL.EMAIL);
    expect(rows.map((r) => r.state)).toEqual(["sent", "sent", "sent"]);
    expect(new Set(rows.map((r) => r.batchId)).size).toBe(1);
    expect(world.smtp.received.filter((m) => m.to.includes(bob.email))).toHaveLength(1);
    // Links to each message, the text plain, the HTML escaped.
    for (const [room, message] of [[direct, first], [direct, second], [roomId, mention]] as const) {
      const link = `${PUBLIC_URL}/rooms/${room}?reply=${message.seq}`;
      expect(mail.text).toContain(link);
      expect(mail.html).toContain(link.replaceAll("&", "&amp;"));
    }
    expect(mail.text).toContain("second DM with <script>alert(1)</script> & more");
    expect(mail.html).not.toContain("<script>alert(1)</script>");
    expect(mail.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(mail.html).not.toContain("<b>done</b>");
    expect(mail.messageId).toMatch(new RegExp(`${rows[0]!.batchId}`.replaceAll("-", "-?")));
    // RFC 8058 one-click unsubscribe, through the edge's call.
    const header = mail.rawHeader("list-unsubscribe")!;
    expect(header).toMatch(new RegExp(`^<${PUBLIC_URL.replaceAll(".", "\\.")}/api/v1/notifications/unsubscribe\\?token=[^>]+>$`));
    expect(mail.rawHeader("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    const token = decodeURIComponent(new URL(header.slice(1, -1)).searchParams.get("token")!);
    await world.asEdge.unsubscribe({ token });
    await world.asEdge.unsubscribe({ token }); // twice is not an error
    expect((await world.notifications.getPreferences({}, asUser(bob.id))).preferences?.email).toBe(false);
  });

  it("removes a subscription the push service says is gone (410)", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.room(alice, [bob]);
    const { device } = await world.subscribePush(bob);
    world.push.expire(device);
    const message = await world.send(alice, roomId, `@${bob.username} ping`);
    const rows = await world.settled(message);
    expect(rows.find((r) => r.channel === CHANNEL.PUSH)?.state).toBe("skipped");
    expect(world.push.refused.some((r) => r.subscriptionId === device.id && r.status === 410)).toBe(true);
    expect((await world.notifications.listPushSubscriptions({}, asUser(bob.id))).subscriptions).toEqual([]);
  });

  it("honours a muted room and the level NOTHING: nothing is claimed for that person", async () => {
    const [alice, bob, carol, dave] = [await world.person(), await world.person(), await world.person(), await world.person()];
    const roomId = await world.room(alice, [bob, carol, dave]);
    await world.notifications.setRoomPreference({ roomId, mutedUntil: { seconds: 253_402_300_799n, nanos: 0 } }, asUser(bob.id));
    await world.prefer(carol, { defaultLevel: Level.NOTHING }, "default_level");
    const message = await world.send(alice, roomId, `@${bob.username} @${carol.username} @${dave.username} standup?`);
    await world.takenIn(message);
    const rows = await world.deliveries(message.id);
    expect(new Set(rows.map((r) => r.userId))).toEqual(new Set([dave.id]));
  });

  it("holds desktop and push during do-not-disturb hours in the person's time zone, and emails once they end", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.dm(alice, bob);
    const now = world.clock.now();
    // Quiet from now for two hours, on Tokyo's clock.
    const tokyo = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
    const minute = Number(tokyo.find((p) => p.type === "hour")!.value) * 60 + Number(tokyo.find((p) => p.type === "minute")!.value);
    await world.prefer(bob, { dnd: { enabled: true, startMinute: minute, endMinute: (minute + 120) % 1440, timeZone: "Asia/Tokyo" } }, "dnd");
    const message = await world.send(alice, roomId, "late night question");
    await world.takenIn(message);
    const rows = await world.deliveries(message.id);
    expect(rows.map((r) => r.channel)).toEqual([CHANNEL.EMAIL]);
    expect(rows[0]!.dueAt.getTime()).toBeGreaterThan(now.getTime() + 100 * MINUTES);
    // Past the email delay but still quiet: not due.
    world.advance(30 * MINUTES);
    await world.worker.dispatchers.round(CHANNEL.EMAIL);
    expect((await world.deliveries(message.id))[0]!.state).toBe("pending");
    world.advance(100 * MINUTES);
    await until("bob's email after quiet hours", () => world.smtp.received.find((m) => m.to.includes(bob.email)));
  });

  it("does not email what was read on another device before the email delay", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.dm(alice, bob);
    const message = await world.send(alice, roomId, "read me soon");
    await world.takenIn(message);
    await world.parley.messages.markRead({ roomId, seq: message.seq }, asUser(bob.id));
    world.advance(16 * MINUTES);
    const rows = await world.settled(message, [CHANNEL.EMAIL]);
    const email = rows.find((r) => r.channel === CHANNEL.EMAIL)!;
    expect(email.state).toBe("skipped");
    expect(world.smtp.received.filter((m) => m.to.includes(bob.email))).toHaveLength(0);
  });

  it("catches up an event lost on the broker with the sweep, and a hole in a room's seqs from the next event", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.room(alice, [bob]);
    const { device } = await world.subscribePush(bob);
    world.broker.dropping = true;
    const lost = await world.send(alice, roomId, `@${bob.username} lost one`);
    await until("the event to be dropped", () => world.broker.dropped.some((e) => e.payload.case === "messageCreated" && e.payload.value.message?.id === lost.id));
    world.broker.dropping = false;
    expect(await world.deliveries(lost.id)).toEqual([]);
    await world.worker.intake.sweep();
    await world.settled(lost);
    // A hole: the next event's seq is beyond cursor + 1, so the room is read from its stream.
    world.broker.dropping = true;
    const hole = await world.send(alice, roomId, `@${bob.username} second lost one`);
    await until("the event to be dropped", () => world.broker.dropped.some((e) => e.payload.case === "messageCreated" && e.payload.value.message?.id === hole.id));
    world.broker.dropping = false;
    const next = await world.send(alice, roomId, `@${bob.username} this one arrives`);
    await world.settled(next);
    await world.settled(hole);
    const pushes = world.push.received.filter((p) => p.subscriptionId === device.id).map((p) => (p.json as { messageId: string }).messageId);
    expect(pushes.sort()).toEqual([lost.id, hole.id, next.id].sort());
  });

  it("replayed events and a lost cursor claim nothing twice: each (user, message, channel) once in the sinks", async () => {
    const [alice, bob] = [await world.person(), await world.person()];
    const roomId = await world.room(alice, [bob]);
    const { device } = await world.subscribePush(bob);
    const seen: Event[] = [];
    const unsubscribe = await world.parley.broker.subscribe(topics.messages, (event) => {
      if (event.roomId === roomId) seen.push(event);
    });
    const sent = [];
    for (let i = 1; i <= 4; i++) sent.push(await world.send(alice, roomId, `@${bob.username} number ${i}`));
    for (const message of sent) await world.settled(message);
    await until("the events", () => seen.length >= 4);
    // The broker delivers them all again, twice.
    for (const event of [...seen, ...seen]) world.parley.broker.publish(topics.messages, event);
    const marker = await world.send(alice, roomId, "marker (no mention)");
    await world.takenIn(marker);
    await world.worker.intake.idle();
    // The worker forgets where it was: it reads the room from its start again.
    await world.worker.options.db.fork().em.execute(`update room_cursors set last_seq = 0 where room_id = ?`, [roomId]);
    world.worker.intake.take(roomId);
    await world.worker.intake.idle();
    await unsubscribe();
    for (const message of sent) await world.settled(message);
    const pushes = world.push.received.filter((p) => p.subscriptionId === device.id);
    expect(pushes.map((p) => (p.json as { messageId: string }).messageId).sort()).toEqual(sent.map((m) => m.id).sort());
    for (const message of sent) expect((await world.deliveries(message.id)).filter((r) => r.userId === bob.id)).toHaveLength(3);
  });

  it("two workers at once (two replicas) send each (user, message, channel) once", async () => {
    const second = await world.startSecondWorker();
    try {
      const [alice, bob, carol] = [await world.person(), await world.person(), await world.person()];
      const roomId = await world.room(alice, [bob, carol]);
      const direct = await world.dm(alice, bob);
      const devices = [(await world.subscribePush(bob)).device, (await world.subscribePush(carol)).device];
      const sent = [];
      for (let i = 1; i <= 5; i++) {
        sent.push(await world.send(alice, roomId, `@room round ${i}`));
        sent.push(await world.send(alice, direct, `direct ${i}`));
      }
      for (const message of sent) await world.settled(message);
      world.advance(16 * MINUTES);
      for (const message of sent) await world.settled(message, [CHANNEL.EMAIL]);
      const pushes = world.push.received.filter((p) => devices.some((d) => d.id === p.subscriptionId));
      const keys = pushes.map((p) => `${p.subscriptionId}:${(p.json as { messageId: string }).messageId}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toHaveLength(5 + 10); // carol: the 5 @room; bob: the 5 @room and the 5 direct
      const bobsMail = world.smtp.received.filter((m) => m.to.includes(bob.email));
      expect(bobsMail).toHaveLength(1);
      for (const message of sent.filter((m) => m.roomId === direct)) expect(bobsMail[0]!.text).toContain(`?reply=${message.seq}`);
    } finally {
      await second.stop();
    }
  });
});
