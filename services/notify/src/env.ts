// The notify service's settings (issue 18). Every variable is optional: without SMTP_URL no email
// is sent (the other channels work), and the VAPID keys are made on first start and kept in the
// service's database.
import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);

export const notifyEnv = z.object({
  ...serviceEnvShape(3005),
  /** Membership checks (GetMembership as the caller), members of DMs and of @room / @here (ListMembers), room names. */
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
  /** The worker's feed (ListRoomHeads, ListNewMessages, ListThreadFollowers) and thread checks (GetThread). */
  MESSAGE_SERVICE_ADDR: env.address("127.0.0.1:3004"),
  /** Senders' display names and the recipients' email addresses. */
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  /**
   * The SMTP server emails go through (nodemailer URL: smtp://user:pass@host:587, smtps://host:465).
   * Unset: email notifications are off (the email channel is never claimed).
   */
  SMTP_URL: env.optionalUrl(["smtp", "smtps"]),
  /** The From of notification emails, e.g. "Parley <parley@example.com>". */
  MAIL_FROM: z.preprocess(unsetIfEmpty, z.string().min(3).default("Parley <parley@localhost>")),
  /** Where people reach the web app (no trailing slash): the links in emails and the unsubscribe URL. */
  PUBLIC_URL: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .url()
      .refine((value) => /^https?:/.test(value), "expected an http or https URL")
      .transform((value) => value.replace(/\/+$/, ""))
      .default("http://localhost:8080"),
  ),
  /**
   * Push endpoints the SSRF rules would refuse but the operator allows, comma-separated host names
   * or host:port (e.g. a push service on the private network, or the tests' local push service on
   * 127.0.0.1). An allowed host may also be reached over plain http.
   */
  NOTIFY_PUSH_ALLOWED_HOSTS: env.allowedHosts(),
  /** How often the worker's sweep asks the message service which rooms moved (catches lost events). */
  NOTIFY_SWEEP_MS: env.milliseconds(10_000),
  /**
   * The VAPID "sub" claim (RFC 8292): how a push service reaches the operator, a mailto: or https:
   * URL. Unset: mailto: MAIL_FROM's address, else PUBLIC_URL when https. Some push services refuse
   * localhost addresses: set it (or MAIL_FROM) in production.
   */
  VAPID_SUBJECT: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((value) => /^(mailto:\S+@\S+|https:\/\/\S+)$/.test(value), "expected a mailto: or https: URL")
      .optional(),
  ),
}).superRefine((config, ctx) => {
  // RFC 8058: the one-click unsubscribe URL of every email must be https (plain http only locally).
  const local = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(config.PUBLIC_URL);
  if (config.SMTP_URL && !config.PUBLIC_URL.startsWith("https:") && !local) {
    ctx.addIssue({ code: "custom", path: ["PUBLIC_URL"], message: "must be an https URL when SMTP_URL is set (emails carry https unsubscribe links)" });
  }
});
export type NotifyEnv = z.infer<typeof notifyEnv>;
