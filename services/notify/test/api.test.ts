// NotificationService's API through the all-in-one test harness (room, message and user services
// next to it), embedded or on PARLEY_TEST_DATABASE_URL: preferences, room and thread settings with
// membership checked as the caller, Web Push subscriptions, VAPID rotation and the unsubscribe.
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { asUser, createServiceClient, InternalAuth, toTimestamp } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { Level, NotificationService } from "@parley/proto/notify/v1/notify_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));
const tag = () => randomBytes(4).toString("hex");
const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

/** A browser's subscription keys (as PushSubscription.toJSON() gives them). */
function deviceKeys() {
  const keys = webpush.generateVAPIDKeys(); // any P-256 point will do for p256dh
  return { p256dh: keys.publicKey, auth: randomBytes(16).toString("base64url") };
}

describe("NotificationService API", () => {
  let parley: TestParley<"notify">;
  let asEdge: ReturnType<typeof createServiceClient<typeof NotificationService>>;

  beforeAll(async () => {
    parley = await startTestParley({ services: ["notify"], env: { NOTIFY_PUSH_ALLOWED_HOSTS: "127.0.0.1,push.test:8443" } });
    asEdge = createServiceClient(NotificationService, parley.addresses.notify, {
      internalAuth: new InternalAuth(parley.env.INTERNAL_AUTH_SECRET!, "edge"),
    });
  }, 120_000);
  afterAll(() => parley?.stop());

  async function newUser() {
    const username = `n_${tag()}`;
    const { user } = await parley.users.createUser({ id: uuidv7(), username, email: `${username}@example.com`, displayName: username });
    return user!.id;
  }

  async function newRoom(ownerId: string) {
    const { room } = await parley.rooms.createRoom({ name: `room ${tag()}`, kind: RoomKind.PRIVATE }, asUser(ownerId));
    return room!.id;
  }

  it("gives the defaults to someone who never set anything", async () => {
    const me = await newUser();
    const { preferences, rooms, threads } = await parley.notifications.getPreferences({}, asUser(me));
    expect(preferences).toMatchObject({
      defaultLevel: Level.MENTIONS,
      desktop: true,
      push: true,
      email: true,
      emailDelaySeconds: 900,
      hidePreviews: false,
      sound: true,
      dnd: { enabled: false, startMinute: 0, endMinute: 0, timeZone: "UTC" },
    });
    expect(preferences?.pausedUntil).toBeUndefined();
    expect(rooms).toEqual([]);
    expect(threads).toEqual([]);
  });

  it("needs a signed-in user", async () => {
    expect((await failure(parley.notifications.getPreferences({})))?.code).toBe(Code.Unauthenticated);
  });

  it("changes only the fields named in update_mask and keeps them", async () => {
    const me = await newUser();
    const paused = Date.now() + 3_600_000;
    const { preferences } = await parley.notifications.updatePreferences(
      {
        preferences: {
          defaultLevel: Level.ALL,
          email: false,
          push: false, // not in the mask: stays on
          emailDelaySeconds: 120,
          dnd: { enabled: true, startMinute: 22 * 60, endMinute: 7 * 60, timeZone: "Europe/Berlin" },
          pausedUntil: toTimestamp(paused),
        },
        updateMask: mask("default_level", "email", "email_delay_seconds", "dnd", "paused_until"),
      },
      asUser(me),
    );
    expect(preferences).toMatchObject({ defaultLevel: Level.ALL, email: false, push: true, emailDelaySeconds: 120 });
    expect(preferences?.dnd).toMatchObject({ enabled: true, startMinute: 1320, endMinute: 420, timeZone: "Europe/Berlin" });
    const again = await parley.notifications.getPreferences({}, asUser(me));
    expect(again.preferences).toMatchObject({ defaultLevel: Level.ALL, email: false, push: true, emailDelaySeconds: 120 });
    expect(Number(again.preferences?.pausedUntil?.seconds)).toBe(Math.floor(paused / 1000));
    // One nested path, and clearing paused_until (named, unset).
    const { preferences: later } = await parley.notifications.updatePreferences(
      { preferences: { dnd: { timeZone: "Asia/Tokyo" } }, updateMask: mask("dnd.time_zone", "paused_until") },
      asUser(me),
    );
    expect(later?.dnd).toMatchObject({ enabled: true, startMinute: 1320, timeZone: "Asia/Tokyo" });
    expect(later?.pausedUntil).toBeUndefined();
  });

  it("refuses an empty or unknown mask and bad values, naming the field", async () => {
    const me = await newUser();
    const cases: [Parameters<typeof parley.notifications.updatePreferences>[0], string][] = [
      [{ preferences: {}, updateMask: mask() }, "update_mask"],
      [{ preferences: {}, updateMask: mask("colour") }, "update_mask"],
      [{ preferences: { defaultLevel: Level.UNSPECIFIED }, updateMask: mask("default_level") }, "preferences.default_level"],
      [{ preferences: { emailDelaySeconds: 59 }, updateMask: mask("email_delay_seconds") }, "preferences.email_delay_seconds"],
      [{ preferences: { emailDelaySeconds: 86_401 }, updateMask: mask("email_delay_seconds") }, "preferences.email_delay_seconds"],
      [{ preferences: { dnd: { startMinute: 1440 } }, updateMask: mask("dnd.start_minute") }, "preferences.dnd.start_minute"],
      [{ preferences: { dnd: { timeZone: "Mars/Olympus" } }, updateMask: mask("dnd") }, "preferences.dnd.time_zone"],
    ];
    for (const [request, field] of cases) {
      const error = await failure(parley.notifications.updatePreferences(request, asUser(me)));
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.rawMessage, field).toMatch(new RegExp(`^${field.replace(/\./g, "\\.")}: `));
    }
    // Nothing was changed by the refused calls.
    expect((await parley.notifications.getPreferences({}, asUser(me))).preferences?.emailDelaySeconds).toBe(900);
  });

  it("sets a room's level and mute for a member, lists it, and puts it back on the defaults", async () => {
    const me = await newUser();
    const roomId = await newRoom(me);
    const until = Date.now() + 86_400_000;
    const { room } = await parley.notifications.setRoomPreference({ roomId, level: Level.ALL, mutedUntil: toTimestamp(until) }, asUser(me));
    expect(room).toMatchObject({ roomId, level: Level.ALL });
    expect((await parley.notifications.getPreferences({}, asUser(me))).rooms).toMatchObject([{ roomId, level: Level.ALL }]);
    await parley.notifications.setRoomPreference({ roomId, level: Level.UNSPECIFIED }, asUser(me));
    expect((await parley.notifications.getPreferences({}, asUser(me))).rooms).toEqual([]);
  });

  it("answers NOT_FOUND alike for a room the caller is not in and for one that does not exist", async () => {
    const owner = await newUser();
    const stranger = await newUser();
    const roomId = await newRoom(owner);
    const notMine = await failure(parley.notifications.setRoomPreference({ roomId, level: Level.ALL }, asUser(stranger)));
    const missing = await failure(parley.notifications.setRoomPreference({ roomId: uuidv7(), level: Level.ALL }, asUser(stranger)));
    expect(notMine?.code).toBe(Code.NotFound);
    expect(missing?.code).toBe(Code.NotFound);
    expect(notMine?.rawMessage).toBe(missing?.rawMessage);
    const thread = await failure(parley.notifications.setThreadPreference({ roomId, threadRootId: uuidv7(), mutedUntil: toTimestamp(Date.now() + 1000) }, asUser(stranger)));
    expect(thread?.code).toBe(Code.NotFound);
    const badId = await failure(parley.notifications.setRoomPreference({ roomId: "nope", level: Level.ALL }, asUser(owner)));
    expect(badId?.code).toBe(Code.InvalidArgument);
    expect(badId?.rawMessage).toMatch(/^roomId: |^room_id: /);
    const badLevel = await failure(parley.notifications.setRoomPreference({ roomId, level: 9 as Level }, asUser(owner)));
    expect(badLevel?.rawMessage).toMatch(/^level: /);
  });

  it("mutes a thread of the caller's room, and refuses a root of another room", async () => {
    const me = await newUser();
    const roomId = await newRoom(me);
    const otherRoom = await newRoom(me);
    const { message: root } = await parley.messages.sendMessage({ roomId, body: "a thread" }, asUser(me));
    const until = toTimestamp(Date.now() + 3_600_000);
    const { thread } = await parley.notifications.setThreadPreference({ roomId, threadRootId: root!.id, mutedUntil: until }, asUser(me));
    expect(thread).toMatchObject({ roomId, threadRootId: root!.id });
    expect((await parley.notifications.getPreferences({}, asUser(me))).threads).toMatchObject([{ roomId, threadRootId: root!.id }]);
    const elsewhere = await failure(parley.notifications.setThreadPreference({ roomId: otherRoom, threadRootId: root!.id, mutedUntil: until }, asUser(me)));
    expect(elsewhere?.code).toBe(Code.NotFound);
    await parley.notifications.setThreadPreference({ roomId, threadRootId: root!.id }, asUser(me));
    expect((await parley.notifications.getPreferences({}, asUser(me))).threads).toEqual([]);
  });

  it("records push subscriptions per device, lists them newest first without the endpoint, moves a renewed one, removes by id or endpoint", async () => {
    const me = await newUser();
    const other = await newUser();
    const { vapidPublicKey } = await parley.notifications.getPushConfig({}, asUser(me));
    expect(Buffer.from(vapidPublicKey, "base64url")).toHaveLength(65);
    const first = `https://push.example.com/send/${tag()}`;
    const second = `http://127.0.0.1:9/push/${tag()}`;
    const a = await parley.notifications.addPushSubscription({ endpoint: first, ...deviceKeys(), vapidPublicKey, deviceLabel: "Firefox on Linux" }, asUser(me));
    const b = await parley.notifications.addPushSubscription({ endpoint: second, ...deviceKeys() }, asUser(me));
    expect(a.subscription).toMatchObject({ endpointOrigin: "https://push.example.com", deviceLabel: "Firefox on Linux" });
    const listed = await parley.notifications.listPushSubscriptions({}, asUser(me));
    expect(listed.subscriptions.map((s) => s.id)).toEqual([b.subscription!.id, a.subscription!.id]);
    expect(JSON.stringify(listed, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("/send/");
    // The same endpoint again (the browser renewed it, someone else signed in): it moves.
    await parley.notifications.addPushSubscription({ endpoint: first, ...deviceKeys() }, asUser(other));
    expect((await parley.notifications.listPushSubscriptions({}, asUser(me))).subscriptions.map((s) => s.id)).toEqual([b.subscription!.id]);
    expect((await parley.notifications.listPushSubscriptions({}, asUser(other))).subscriptions).toHaveLength(1);
    // Not mine: NOT_FOUND.
    expect((await failure(parley.notifications.removePushSubscription({ id: b.subscription!.id }, asUser(other))))?.code).toBe(Code.NotFound);
    await parley.notifications.removePushSubscription({ endpoint: second }, asUser(me));
    expect((await parley.notifications.listPushSubscriptions({}, asUser(me))).subscriptions).toEqual([]);
    const neither = await failure(parley.notifications.removePushSubscription({}, asUser(me)));
    expect(neither?.code).toBe(Code.InvalidArgument);
  });

  it("refuses endpoints the server must not POST to, and bad keys, naming the field", async () => {
    const me = await newUser();
    const keys = deviceKeys();
    const refused: [Record<string, string>, string][] = [
      [{ endpoint: "http://push.example.com/x", ...keys }, "endpoint"],
      [{ endpoint: "https://10.0.0.1/x", ...keys }, "endpoint"],
      [{ endpoint: "https://localhost/x", ...keys }, "endpoint"],
      [{ endpoint: "https://user:pw@push.example.com/x", ...keys }, "endpoint"],
      [{ endpoint: "not a url", ...keys }, "endpoint"],
      [{ endpoint: `https://push.example.com/${"x".repeat(2048)}`, ...keys }, "endpoint"],
      [{ endpoint: "https://push.example.com/x", p256dh: "AAAA", auth: keys.auth }, "p256dh"],
      [{ endpoint: "https://push.example.com/x", p256dh: keys.p256dh, auth: "short" }, "auth"],
      [{ endpoint: "https://push.example.com/x", ...keys, deviceLabel: "d".repeat(101) }, "device_label"],
    ];
    for (const [request, field] of refused) {
      const error = await failure(parley.notifications.addPushSubscription(request, asUser(me)));
      expect(error?.code, JSON.stringify(request).slice(0, 80)).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(new RegExp(`^${field}: `));
    }
    const unknownKey = await failure(
      parley.notifications.addPushSubscription({ endpoint: "https://push.example.com/x", ...keys, vapidPublicKey: webpush.generateVAPIDKeys().publicKey }, asUser(me)),
    );
    expect(unknownKey?.code).toBe(Code.FailedPrecondition);
  });

  it("rotates the VAPID keys for an admin only, keeping a retired key while a subscription uses it", async () => {
    const me = await newUser();
    const { vapidPublicKey: before } = await parley.notifications.getPushConfig({}, asUser(me));
    const denied = await failure(parley.notifications.rotateVapidKeys({}));
    expect(denied?.code).toBe(Code.PermissionDenied);
    const admin = { headers: { authorization: `Bearer ${await parley.internalAuth.adminToken(5, "test")}` } };
    const { vapidPublicKey: second } = await parley.notifications.rotateVapidKeys({}, admin);
    expect(second).not.toBe(before);
    expect((await parley.notifications.getPushConfig({}, asUser(me))).vapidPublicKey).toBe(second);
    await parley.notifications.addPushSubscription({ endpoint: `https://push.example.com/${tag()}`, ...deviceKeys(), vapidPublicKey: second }, asUser(me));
    const { vapidPublicKey: third } = await parley.notifications.rotateVapidKeys({}, admin);
    expect(third).not.toBe(second);
    // Retired but still used: a device that subscribed with it may still be recorded with it.
    await parley.notifications.addPushSubscription({ endpoint: `https://push.example.com/${tag()}`, ...deviceKeys(), vapidPublicKey: second }, asUser(me));
    // Once no subscription uses it, it is deleted.
    for (const s of (await parley.notifications.listPushSubscriptions({}, asUser(me))).subscriptions) {
      await parley.notifications.removePushSubscription({ id: s.id }, asUser(me));
    }
    const gone = await failure(parley.notifications.addPushSubscription({ endpoint: `https://push.example.com/${tag()}`, ...deviceKeys(), vapidPublicKey: second }, asUser(me)));
    expect(gone?.code).toBe(Code.FailedPrecondition);
  });

  it("takes Unsubscribe from the edge only, and refuses a bad or forged token", async () => {
    const me = await newUser();
    expect((await failure(parley.notifications.unsubscribe({ token: "x" })))?.code).toBe(Code.PermissionDenied);
    for (const token of ["", "garbage", `${me}.${randomBytes(32).toString("base64url")}`]) {
      const error = await failure(asEdge.unsubscribe({ token }));
      expect(error?.code, token).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(/^token: /);
    }
  });
});
