// Exactly once across a crash (issue 18): the worker runs in a child process that the test kills
// with SIGKILL while the push service (or the SMTP server) holds its answer to a send, so that send
// never counts; a new process on the same database retries the leased delivery once its lease
// expires, with the same idempotency key (push Topic, email Message-ID). The sinks count what
// they accepted: each (user, message, channel) exactly once.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { asUser, createServiceClient } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { NotificationService } from "@parley/proto/notify/v1/notify_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationId } from "../src/worker/dispatch.js";
import { startPushSink, type PushSink } from "./support/push-sink.js";
import { startSmtpSink, type SmtpSink } from "./support/smtp-sink.js";
import { PUBLIC_URL, tag, until } from "./support/world.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/notify-process.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

describe("exactly once across a worker killed mid-send", () => {
  let parley: TestParley<"message">;
  let push: PushSink;
  let smtp: SmtpSink;
  let dataDir: string;
  let clockFile: string;
  let offset = 0;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    [push, smtp] = await Promise.all([startPushSink(), startSmtpSink()]);
    parley = await startTestParley({ services: ["message"] });
    dataDir = mkdtempSync(join(tmpdir(), "parley-notify-crash-"));
    clockFile = join(dataDir, "clock");
    writeFileSync(clockFile, "0");
  }, 120_000);
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await parley?.stop();
    await push?.close();
    await smtp?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const advance = (ms: number) => {
    offset += ms;
    writeFileSync(clockFile, String(offset));
  };

  /** A notify process of its own (embedded: its PGlite under dataDir; else the test's PostgreSQL database). */
  async function startNotify() {
    const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
      cwd: REPO,
      env: {
        ...process.env,
        ...(parley.env as Record<string, string>),
        ROOM_SERVICE_ADDR: parley.addresses.room,
        MESSAGE_SERVICE_ADDR: parley.addresses.message,
        USER_SERVICE_ADDR: parley.addresses.user,
        DATA_DIR: dataDir,
        SMTP_URL: smtp.url,
        MAIL_FROM: "Parley <notifications@chat.example.com>",
        PUBLIC_URL,
        NOTIFY_PUSH_ALLOWED_HOSTS: push.allowedHosts.join(","),
        // Without Redis the child hears no event of this process's broker: the sweep finds the messages.
        NOTIFY_SWEEP_MS: "200",
        FIXTURE_CLOCK_FILE: clockFile,
        FIXTURE_LEASE_MS: "1500",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(child);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const address = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        if (line.startsWith("{")) resolve((JSON.parse(line) as { address: string }).address);
      });
      child.once("exit", (code) => reject(new Error(`notify fixture exited (${code}) before listening`)));
    });
    const client = createServiceClient(NotificationService, address, { internalAuth: parley.internalAuth, defaultTimeoutMs: 30_000 });
    return {
      client,
      async kill() {
        child.kill("SIGKILL");
        await exited;
        children.delete(child);
      },
      async stop() {
        child.kill("SIGTERM");
        await exited;
        children.delete(child);
      },
    };
  }

  async function person() {
    const username = `c${tag()}`;
    const { user } = await parley.users.createUser({ id: uuidv7(), username, email: `${username}@example.com`, displayName: username });
    return { id: user!.id, username, email: `${username}@example.com` };
  }

  it("a push held by the push service while the worker is SIGKILLed is sent again once, with the same Topic", async () => {
    let notify = await startNotify();
    const [alice, bob] = [await person(), await person()];
    const { room } = await parley.rooms.createRoom({ name: `crash ${tag()}`, kind: RoomKind.PRIVATE }, asUser(alice.id));
    await parley.rooms.inviteMember({ roomId: room!.id, userId: bob.id }, asUser(alice.id));
    // Push only here (the next test moves the clock past any email delay).
    await notify.client.updatePreferences({ preferences: { email: false }, updateMask: create(FieldMaskSchema, { paths: ["email"] }) }, asUser(bob.id));
    const { vapidPublicKey } = await notify.client.getPushConfig({}, asUser(bob.id));
    const device = push.subscribe({ vapidPublicKey });
    await notify.client.addPushSubscription({ endpoint: device.endpoint, p256dh: device.p256dh, auth: device.auth, vapidPublicKey }, asUser(bob.id));
    const hold = push.hold(push.requests + 1);
    const { message } = await parley.messages.sendMessage({ roomId: room!.id, body: `@${bob.username} hello` }, asUser(alice.id));
    const held = await hold.arrived;
    expect(held.push?.subscriptionId).toBe(device.id);
    await notify.kill();
    expect(await hold.release()).toBe(false); // the sender was gone: not counted
    expect(push.received.filter((p) => p.subscriptionId === device.id)).toHaveLength(0);

    notify = await startNotify();
    // Past the dead worker's lease (the clock of leases is the worker's: moved, not slept).
    advance(2_000);
    const resent = await until("the push sent again", () => push.received.find((p) => p.subscriptionId === device.id));
    expect(resent.topic).toBe(held.push!.topic);
    expect(resent.topic).toBe(notificationId(bob.id, message!.id).replaceAll("-", ""));
    await notify.stop();
    expect(push.received.filter((p) => p.subscriptionId === device.id)).toHaveLength(1);
  });

  it("an email batch held by the SMTP server while the worker is SIGKILLed is sent again once, with the same Message-ID", async () => {
    let notify = await startNotify();
    const [alice, bob] = [await person(), await person()];
    await notify.client.updatePreferences(
      { preferences: { push: false, emailDelaySeconds: 60 }, updateMask: create(FieldMaskSchema, { paths: ["push", "email_delay_seconds"] }) },
      asUser(bob.id),
    );
    const { room } = await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(alice.id));
    const hold = smtp.hold(smtp.messages + 1);
    for (const body of ["one", "two", "three"]) await parley.messages.sendMessage({ roomId: room!.id, body }, asUser(alice.id));
    // Move the worker's clock (in small steps: the three claims land within the batch window) until
    // the batch is due and the SMTP server holds it.
    let arrived: Awaited<typeof hold.arrived> | undefined;
    void hold.arrived.then((mail) => (arrived = mail));
    await until("the email held", () => {
      advance(5_000);
      return arrived;
    }, 60_000);
    expect(arrived!.to).toContain(bob.email);
    for (const body of ["one", "two", "three"]) expect(arrived!.text).toContain(`> ${body}`);
    await notify.kill();
    expect(await hold.release()).toBe(false);

    notify = await startNotify();
    const mail = await until("the email sent again", () => {
      advance(2_000);
      return smtp.received.find((m) => m.to.includes(bob.email));
    }, 30_000);
    expect(mail.messageId).toBe(arrived!.messageId);
    for (const body of ["one", "two", "three"]) expect(mail.text).toContain(body);
    await notify.stop();
    expect(smtp.received.filter((m) => m.to.includes(bob.email))).toHaveLength(1);
  });
});
