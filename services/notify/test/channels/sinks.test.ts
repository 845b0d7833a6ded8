// The test sinks count only what they accepted: a sender killed (SIGKILL) while the sink holds its
// answer is never counted, and the same item sent again afterwards is counted once. This is what the
// worker's exactly-once tests rely on.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageUrl, unsubscribeUrl } from "../../src/channels/links.js";
import { generateVapidKeys, type PushPayload } from "../../src/channels/push.js";
import { startPushSink, type PushSink } from "../support/push-sink.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";

const here = dirname(fileURLToPath(import.meta.url));
const SENDER = join(here, "fixtures/send-once.ts");

/** Starts the sender process; `exited` resolves with its stdout once it is gone. */
function sender(job: unknown) {
  const child = spawn(process.execPath, ["--import", "tsx", SENDER, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited };
}

const PAYLOAD: PushPayload = {
  id: "n-1",
  roomId: "room-1",
  messageId: "m-1",
  seq: 7,
  reason: "mention",
  senderId: "u-2",
  senderName: "Ada",
  roomName: "general",
  preview: "@grace hello",
  createTime: "2026-12-04T03:00:00.000Z",
  sound: false,
  url: messageUrl("https://chat.example.com", "room-1", 7),
};

describe("the sinks do not count an answer the killed sender never got", () => {
  let push: PushSink;
  let smtp: SmtpSink;
  beforeAll(async () => {
    [push, smtp] = await Promise.all([startPushSink(), startSmtpSink()]);
  });
  afterAll(async () => {
    await Promise.all([push.close(), smtp.close()]);
  });

  it("push: held, sender SIGKILLed, released -> not counted; sent again -> counted once", async () => {
    const subscription = push.subscribe();
    const job = {
      channel: "push",
      subscription,
      payload: PAYLOAD,
      vapid: { ...generateVapidKeys(), subject: "mailto:admin@chat.example.com" },
      allowedHosts: push.allowedHosts,
      topic: "n-1",
    };
    const hold = push.hold();
    const first = sender(job);
    const arrived = await hold.arrived;
    expect(arrived.push?.json).toEqual(PAYLOAD);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(await hold.release()).toBe(false);
    expect(push.received).toHaveLength(0);

    const second = sender(job);
    const done = await second.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({ kind: "sent", status: 201 });
    expect(push.received.map((p) => p.topic)).toEqual(["n-1"]);
    expect(push.requests).toBe(2);
  });

  it("email: held, sender SIGKILLed, released -> not counted; sent again -> counted once", async () => {
    const job = {
      channel: "email",
      smtpUrl: smtp.url,
      from: "Parley <notifications@chat.example.com>",
      digest: {
        to: { name: "Grace", email: "grace@example.org" },
        items: [{ roomName: "general", senderName: "Ada", text: "@grace hello", time: "2026-12-04T03:00:00Z", url: PAYLOAD.url, reason: "mention" }],
        unsubscribeUrl: unsubscribeUrl("https://chat.example.com", "t.k"),
        appName: "Parley",
        publicUrl: "https://chat.example.com",
        batchId: "batch-1",
      },
    };
    const hold = smtp.hold();
    const first = sender(job);
    const arrived = await hold.arrived;
    expect(arrived.messageId).toBe("<notify.batch-1@chat.example.com>");
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(await hold.release()).toBe(false);
    expect(smtp.received).toHaveLength(0);

    const second = sender(job);
    const done = await second.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ kind: "sent", messageId: "<notify.batch-1@chat.example.com>" });
    expect(smtp.received.map((m) => m.messageId)).toEqual(["<notify.batch-1@chat.example.com>"]);
    expect(smtp.messages).toBe(2);
  });
});
