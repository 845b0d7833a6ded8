// Notifications (issue 18): the caller's preferences (channels, default level, do-not-disturb,
// email delay), per-room levels and mutes, thread mutes, and their Web Push subscriptions. The
// notification service owns all of it; the edge validates, names fields as the public API does
// and shapes the answers. The email unsubscribe link (no sign-in) is served by unsubscribe.ts.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { EMAIL_DELAY_SECONDS } from "@parley/proto/rules/notify";
import { TIME_ZONE_REFUSAL, isTimeZone } from "@parley/proto/rules/search";
import { fields, textSchema } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import {
  LevelName,
  NotificationSettingsOut,
  PreferencesOut,
  PushSubscriptionOut,
  RoomLevelName,
  RoomPreferenceOut,
  ThreadPreferenceOut,
  levelFromName,
  shapeNotificationSettings,
  shapePreferences,
  shapePushSubscription,
  shapeRoomPreference,
  shapeThreadPreference,
} from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

// --- the rules of the inputs (as notify.proto states them; the service checks the same) ---
const MINUTES_IN_A_DAY = 1440;
const PUSH_ENDPOINT_MAX = 2048;
const DEVICE_LABEL_MAX = 100;

/** An ISO 8601 time with its offset ("2026-12-04T18:00:00Z"); null: none (unmuted, not paused). */
const isoTime = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 time with a time zone offset, e.g. 2026-12-31T18:00:00Z" })
  .refine((v) => Date.parse(v) >= 0 && Date.parse(v) < Date.UTC(10_000, 0, 1), "must be a time between 1970 and 9999-12-31");
const minute = z
  .number()
  .int("must be a whole number")
  .min(0, `must be 0-${MINUTES_IN_A_DAY - 1} (minutes after midnight)`)
  .max(MINUTES_IN_A_DAY - 1, `must be 0-${MINUTES_IN_A_DAY - 1} (minutes after midnight)`);
const timeZone = z.string().refine(isTimeZone, TIME_ZONE_REFUSAL).meta({ description: "an IANA time zone, e.g. Europe/Berlin" });
const emailDelaySeconds = z
  .number()
  .int("must be a whole number")
  .min(EMAIL_DELAY_SECONDS.min, `must be ${EMAIL_DELAY_SECONDS.min}-${EMAIL_DELAY_SECONDS.max} seconds`)
  .max(EMAIL_DELAY_SECONDS.max, `must be ${EMAIL_DELAY_SECONDS.min}-${EMAIL_DELAY_SECONDS.max} seconds`);

const updatePreferencesInput = z.strictObject({
  defaultLevel: LevelName.optional().describe("the level of rooms without their own"),
  desktop: z.boolean().optional(),
  push: z.boolean().optional(),
  email: z.boolean().optional(),
  emailDelaySeconds: emailDelaySeconds.optional().describe("how long a mention or direct message stays unread, with you active nowhere, before it is emailed"),
  hidePreviews: z.boolean().optional(),
  sound: z.boolean().optional(),
  dnd: z
    .strictObject({ enabled: z.boolean().optional(), startMinute: minute.optional(), endMinute: minute.optional(), timeZone: timeZone.optional() })
    .optional()
    .describe("do-not-disturb hours; the fields left out keep their values"),
  pausedUntil: isoTime.nullable().optional().describe("pause notifications until then; null: resume"),
});
type PreferencesPatch = z.infer<typeof updatePreferencesInput>;

/** The public field and its update_mask path (notify.proto's snake_case). */
const PREFERENCE_PATHS = {
  defaultLevel: "default_level",
  desktop: "desktop",
  push: "push",
  email: "email",
  emailDelaySeconds: "email_delay_seconds",
  hidePreviews: "hide_previews",
  sound: "sound",
  dnd: "dnd",
  pausedUntil: "paused_until",
} as const satisfies Record<keyof PreferencesPatch, string>;
const DND_PATHS = {
  enabled: "dnd.enabled",
  startMinute: "dnd.start_minute",
  endMinute: "dnd.end_minute",
  timeZone: "dnd.time_zone",
} as const satisfies Record<keyof NonNullable<PreferencesPatch["dnd"]>, string>;

const setRoomInput = z.strictObject({
  roomId: fields.id,
  level: RoomLevelName.optional().describe("left out: default (your defaultLevel)"),
  mutedUntil: isoTime.nullable().optional().describe("mute the room until then (9999-12-31T00:00:00Z: until unmuted); null or left out: not muted"),
});

const setThreadInput = z.strictObject({
  rootId: fields.id.describe("the thread's root message"),
  mutedUntil: isoTime.nullable().optional().describe("mute the thread's replies until then; null or left out: unmute"),
});

/** A base64url value (padding tolerated) of exactly `bytes` bytes. */
const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url")
    .refine((v) => Buffer.from(v, "base64url").length === bytes, `must be ${bytes} bytes (base64url)`);

const pushEndpoint = z
  .string()
  .max(PUSH_ENDPOINT_MAX, `at most ${PUSH_ENDPOINT_MAX} characters`)
  .refine((v) => URL.canParse(v) && new URL(v).protocol === "https:", "must be an https URL")
  .meta({ description: "PushSubscription.endpoint: the push service's https URL" });

const addPushSubscriptionInput = z.strictObject({
  endpoint: pushEndpoint,
  keys: z.strictObject({
    p256dh: base64url(65)
      .refine((v) => Buffer.from(v, "base64url")[0] === 0x04, "must be an uncompressed P-256 point (its first byte 0x04)")
      .describe("the subscription's P-256 public key (65 bytes, uncompressed)"),
    auth: base64url(16).describe("the subscription's auth secret (16 bytes)"),
  }),
  expirationTime: z.number().nullable().optional().describe("as PushSubscription.toJSON() gives it; not used (push services answer 404/410 for expired subscriptions)"),
  vapidPublicKey: base64url(65).optional().describe("the applicationServerKey the browser subscribed with (GET /notifications/push); left out: the current one"),
  deviceLabel: textSchema({ trim: true, min: 0, max: DEVICE_LABEL_MAX, short: "", long: `at most ${DEVICE_LABEL_MAX} characters` })
    .optional()
    .describe('what the device calls itself, e.g. "Firefox on Linux"'),
});

const removePushSubscriptionInput = z
  .strictObject({
    id: fields.id.optional(),
    endpoint: pushEndpoint.optional().describe("instead of the id (when the browser unsubscribed); tRPC only: the REST path names the id"),
  })
  .superRefine((v, ctx) => {
    if ((v.id === undefined) === (v.endpoint === undefined)) ctx.addIssue({ code: "custom", path: ["id"], message: "give id or endpoint" });
  });

const timestampOf = (iso: string | null | undefined) => (iso ? timestampFromDate(new Date(iso)) : undefined);

export const notificationsRouter = router({
  preferences: authedProcedure
    .meta({
      rest: {
        method: "GET",
        path: "/notifications/preferences",
        summary: "Your notification preferences (defaults until you change them), and every room and thread setting of yours that differs from them",
        output: NotificationSettingsOut,
      },
    })
    .query(async ({ ctx }) => {
      const answer = await call(ctx.caller, (o) => ctx.services.notify.getPreferences({}, o));
      return shapeNotificationSettings(answer);
    }),

  updatePreferences: authedProcedure
    .meta({
      rest: {
        method: "PATCH",
        path: "/notifications/preferences",
        summary: "Change some of your notification preferences: only the fields given change (in dnd too)",
        output: PreferencesOut,
      },
    })
    // Optional so that an empty change gets the message below rather than "input: is required".
    .input(updatePreferencesInput.optional())
    .mutation(async ({ ctx, input = {} }) => {
      const keys = (Object.keys(PREFERENCE_PATHS) as (keyof PreferencesPatch)[]).filter((k) => input[k] !== undefined);
      if (keys.length === 0) throw new EdgeError("BAD_REQUEST", `name at least one of ${Object.keys(PREFERENCE_PATHS).join(", ")}`);
      // dnd's fields by their own paths: those left out keep their values.
      const paths = keys.flatMap((k) =>
        k === "dnd" ? (Object.keys(DND_PATHS) as (keyof typeof DND_PATHS)[]).filter((d) => input.dnd![d] !== undefined).map((d) => DND_PATHS[d]) : [PREFERENCE_PATHS[k]],
      );
      if (paths.length === 0) throw new EdgeError("BAD_REQUEST", `dnd: name at least one of ${Object.keys(DND_PATHS).join(", ")}`, { field: "dnd" });
      const { preferences } = await call(ctx.caller, (o) =>
        ctx.services.notify.updatePreferences(
          {
            preferences: {
              defaultLevel: input.defaultLevel ? levelFromName[input.defaultLevel] : undefined,
              desktop: input.desktop,
              push: input.push,
              email: input.email,
              emailDelaySeconds: input.emailDelaySeconds,
              hidePreviews: input.hidePreviews,
              sound: input.sound,
              dnd: input.dnd,
              pausedUntil: timestampOf(input.pausedUntil),
            },
            updateMask: { paths },
          },
          o,
        ),
      );
      return shapePreferences(preferences);
    }),

  setRoom: authedProcedure
    .meta({
      rest: {
        method: "PUT",
        path: "/rooms/:roomId/notifications",
        summary: "Set how much a room of yours notifies you (level) and mute it until a time; level default and no mutedUntil put it back on your defaults",
        output: RoomPreferenceOut,
      },
    })
    .input(setRoomInput)
    .mutation(async ({ ctx, input }) => {
      const { room } = await call(ctx.caller, (o) =>
        ctx.services.notify.setRoomPreference(
          { roomId: input.roomId, level: levelFromName[input.level ?? "default"], mutedUntil: timestampOf(input.mutedUntil) },
          o,
        ),
      );
      return shapeRoomPreference(room);
    }),

  setThread: authedProcedure
    .meta({
      rest: {
        method: "PUT",
        path: "/threads/:rootId/notifications",
        summary: "Mute a thread's replies until a time, or unmute it (no mutedUntil)",
        output: ThreadPreferenceOut,
      },
    })
    .input(setThreadInput)
    .mutation(async ({ ctx, input }) => {
      // The thread's room, as the caller sees it: a room they are not in is 404, as for a random id.
      const { thread } = await call(ctx.caller, (o) => ctx.services.messages.getThread({ rootId: input.rootId }, o));
      const root = thread?.root;
      if (!root) throw new EdgeError("INTERNAL_SERVER_ERROR", "missing thread root in a service answer");
      const answer = await call(ctx.caller, (o) =>
        ctx.services.notify.setThreadPreference({ roomId: root.roomId, threadRootId: root.id, mutedUntil: timestampOf(input.mutedUntil) }, o),
      );
      return shapeThreadPreference(answer.thread);
    }),

  pushConfig: authedProcedure
    .meta({
      rest: {
        method: "GET",
        path: "/notifications/push",
        summary: "The VAPID public key to subscribe with (PushManager.subscribe's applicationServerKey)",
        output: z.object({ vapidPublicKey: z.string().describe("an uncompressed P-256 point, base64url without padding") }),
      },
    })
    .query(async ({ ctx }) => {
      const { vapidPublicKey } = await call(ctx.caller, (o) => ctx.services.notify.getPushConfig({}, o));
      return { vapidPublicKey };
    }),

  addPushSubscription: authedProcedure
    .meta({
      rest: {
        method: "POST",
        path: "/notifications/push/subscriptions",
        status: 201,
        summary: "Record this device's Web Push subscription (the body of PushSubscription.toJSON(), and a deviceLabel); the same endpoint again replaces its keys",
        output: PushSubscriptionOut,
      },
    })
    .input(addPushSubscriptionInput)
    .mutation(async ({ ctx, input }) => {
      const { subscription } = await call(ctx.caller, (o) =>
        ctx.services.notify.addPushSubscription(
          {
            endpoint: input.endpoint,
            p256dh: input.keys.p256dh,
            auth: input.keys.auth,
            vapidPublicKey: input.vapidPublicKey ?? "",
            deviceLabel: input.deviceLabel ?? "",
          },
          o,
        ),
      ).catch((error: unknown) => {
        // A key the server no longer holds (rotated and retired): the browser must subscribe again.
        if (error instanceof TRPCError && error.code === "PRECONDITION_FAILED") {
          throw new EdgeError("PRECONDITION_FAILED", "vapidPublicKey: the server no longer holds this key; subscribe again with GET /notifications/push's key", { field: "vapidPublicKey" }, error);
        }
        // The service's checks of the keys (a point on the curve) name them as its request does: here they are under keys.
        const field = error instanceof EdgeError ? error.details.field : undefined;
        if (error instanceof EdgeError && (field === "p256dh" || field === "auth") && error.message.startsWith(`${field}: `)) {
          throw new EdgeError(error.code, `keys.${error.message}`, { field: `keys.${field}` }, error);
        }
        throw error;
      });
      return shapePushSubscription(subscription);
    }),

  listPushSubscriptions: authedProcedure
    .meta({
      rest: {
        method: "GET",
        path: "/notifications/push/subscriptions",
        summary: "Your devices subscribed to Web Push, newest first",
        output: z.object({ subscriptions: z.array(PushSubscriptionOut) }),
      },
    })
    .query(async ({ ctx }) => {
      const { subscriptions } = await call(ctx.caller, (o) => ctx.services.notify.listPushSubscriptions({}, o));
      return { subscriptions: subscriptions.map(shapePushSubscription) };
    }),

  removePushSubscription: authedProcedure
    .meta({
      rest: {
        method: "DELETE",
        path: "/notifications/push/subscriptions/:id",
        status: 204,
        summary: "Forget one of your devices (another person's is 404)",
      },
    })
    .input(removePushSubscriptionInput)
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.notify.removePushSubscription({ id: input.id ?? "", endpoint: input.endpoint ?? "" }, o));
    }),
});
