import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailer, digestMessageId, escapeHtml, mailOutcomeOf, renderDigest, type DigestInput, type DigestItem } from "../../src/channels/email.js";
import { messageUrl, unsubscribeUrl } from "../../src/channels/links.js";
import { generateUnsubscribeSecret, signUnsubscribeToken, verifyUnsubscribeToken } from "../../src/channels/unsubscribe-token.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";

const PUBLIC_URL = "https://chat.example.com";
const SECRET = generateUnsubscribeSecret();
const USER_ID = "0190f3a2-7b1c-7def-8123-456789abcdef";

function items(): DigestItem[] {
  return [
    {
      roomName: "engineering",
      senderName: "Ada Lovelace",
      text: "@grace can you look at the build?",
      time: "2026-12-04T03:00:00Z",
      url: messageUrl(PUBLIC_URL, "room-1", 41),
      reason: "mention",
    },
    {
      roomName: "",
      senderName: "Alan Turing",
      text: "Lunch tomorrow?\nSay 12:30.",
      time: new Date("2026-12-04T03:05:00Z"),
      url: messageUrl(PUBLIC_URL, "dm-7", 3),
      reason: "direct",
    },
    {
      roomName: "design",
      senderName: "Ada Lovelace",
      text: "Replying here so it stays in the thread",
      time: "2026-12-04T03:10:00Z",
      url: messageUrl(PUBLIC_URL, "room-2", 18, "root-5"),
      reason: "thread_reply",
    },
  ];
}

function digest(overrides: Partial<DigestInput> = {}): DigestInput {
  return {
    to: { name: "Grace Hopper", email: "grace@example.org" },
    items: items(),
    unsubscribeUrl: unsubscribeUrl(PUBLIC_URL, signUnsubscribeToken(USER_ID, SECRET)),
    appName: "Parley",
    publicUrl: PUBLIC_URL,
    batchId: "batch-0190f3a2-0001",
    timeZone: "Europe/Berlin",
    ...overrides,
  };
}

const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!.replaceAll("&amp;", "&"));

describe("renderDigest", () => {
  it("renders plain text and HTML with a link to each message and the RFC 8058 headers", () => {
    const email = renderDigest(digest());
    expect(email.subject).toBe("3 unread messages in Parley");
    expect(email.to).toEqual({ name: "Grace Hopper", email: "grace@example.org" });
    for (const item of items()) {
      expect(email.text).toContain(item.url);
      expect(hrefs(email.html)).toContain(item.url);
    }
    expect(email.text).toContain("Ada Lovelace mentioned you (#engineering, 4 Dec 2026, 04:00 CET)");
    expect(email.text).toContain("Alan Turing sent you a direct message (a direct message");
    expect(email.text).toContain("> Lunch tomorrow?\n> Say 12:30.");
    expect(email.text).toContain("https://chat.example.com/rooms/room-2?reply=18&thread=root-5");
    expect(email.headers["List-Unsubscribe"]).toBe(`<${digest().unsubscribeUrl}>`);
    expect(email.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    expect(email.headers["Message-ID"]).toBe("<notify.batch-0190f3a2-0001@chat.example.com>");
    expect(email.messageId).toBe(email.headers["Message-ID"]);
    expect(email.headers["Auto-Submitted"]).toBe("auto-generated");
    expect(email.text).toContain(`Unsubscribe from these emails: ${digest().unsubscribeUrl}`);
    expect(hrefs(email.html)).toContain(digest().unsubscribeUrl);
  });

  it("is deterministic: the same batch, the same email and Message-ID", () => {
    expect(renderDigest(digest())).toEqual(renderDigest(digest()));
    expect(renderDigest(digest({ batchId: "another" })).messageId).not.toBe(renderDigest(digest()).messageId);
    const odd = digestMessageId("user:1/batch 7", PUBLIC_URL);
    expect(odd).toMatch(/^<notify\.[0-9a-f]{40}@chat\.example\.com>$/);
    expect(digestMessageId("user:1/batch 7", PUBLIC_URL)).toBe(odd);
  });

  it("names the sender and room in the subject of a single message", () => {
    expect(renderDigest(digest({ items: items().slice(0, 1) })).subject).toBe("Ada Lovelace mentioned you in #engineering");
    expect(renderDigest(digest({ items: items().slice(1, 2) })).subject).toBe("Alan Turing sent you a direct message");
    const two = [items()[0]!, items()[2]!];
    expect(renderDigest(digest({ items: two })).subject).toBe("2 unread messages from Ada Lovelace in Parley");
  });

  it("keeps user text inert: <script>, attributes and javascript: links are escaped, never markup or links", () => {
    const evil: DigestItem = {
      roomName: `<img src=x onerror="alert(1)">`,
      senderName: `Mallory <script>alert("name")</script>`,
      text: `<script>alert(document.cookie)</script> see [here](javascript:alert(1)) or <a href="javascript:alert(2)">this</a> & "quotes" 'too'`,
      time: "2026-12-04T03:00:00Z",
      url: "javascript:alert(3)",
      reason: "mention",
    };
    const email = renderDigest(digest({ items: [evil], to: { name: `<b>Grace</b>`, email: "grace@example.org" } }));
    expect(email.html).not.toMatch(/<script/i);
    expect(email.html).not.toMatch(/<img/i);
    expect(email.html).not.toMatch(/<a href="javascript:/i);
    expect(email.html).not.toMatch(/<b>Grace/);
    expect(email.html).toContain("&lt;script&gt;alert(document.cookie)&lt;/script&gt;");
    expect(email.html).toContain("&lt;a href=&quot;javascript:alert(2)&quot;&gt;this&lt;/a&gt; &amp; &quot;quotes&quot; &#39;too&#39;");
    // the only links are ours: the unsubscribe link and the settings
    expect(hrefs(email.html).every((href) => href.startsWith("https://chat.example.com/"))).toBe(true);
    expect(hrefs(email.html)).not.toContain("javascript:alert(3)");
    // every tag in the HTML is one the template wrote
    const tags = new Set([...email.html.matchAll(/<\/?([a-z0-9]+)/gi)].map((m) => m[1]!.toLowerCase()));
    expect([...tags].every((tag) => ["html", "head", "meta", "title", "body", "div", "p", "strong", "span", "hr", "a", "br"].includes(tag))).toBe(true);
    // the plain text part has no link for it either
    expect(email.text).not.toContain("Open: javascript:");
    // no header injection through names
    const injected = renderDigest(digest({ items: [{ ...evil, senderName: "Eve\r\nBcc: victim@example.org", roomName: "x" }] }));
    expect(injected.subject).not.toMatch(/[\r\n]/);
    expect(escapeHtml(`<>&"'`)).toBe("&lt;&gt;&amp;&quot;&#39;");
  });

  it("shows at most 50 items and counts the rest", () => {
    const many = Array.from({ length: 53 }, (_, i) => ({ ...items()[0]!, text: `message ${i}`, url: messageUrl(PUBLIC_URL, "room-1", i + 1) }));
    const email = renderDigest(digest({ items: many }));
    expect(email.subject).toBe("53 unread messages from Ada Lovelace in Parley");
    expect(email.text).toContain("... and 3 more.");
    expect(email.text).toContain("message 49");
    expect(email.text).not.toContain("message 50");
  });

  it("refuses what no email can be made of", () => {
    expect(() => renderDigest(digest({ items: [] }))).toThrow(/at least one item/);
    expect(() => renderDigest(digest({ to: { name: "x", email: "not an address" } }))).toThrow(/recipient/);
    expect(() => renderDigest(digest({ unsubscribeUrl: "http://chat.example.com/unsub" }))).toThrow(/https/);
    expect(() => renderDigest(digest({ unsubscribeUrl: "javascript:alert(1)" }))).toThrow(/https/);
    expect(() => renderDigest(digest({ batchId: "" }))).toThrow(/batch id/);
  });
});

describe("createMailer", () => {
  it("is off without SMTP_URL, and says what is wrong with its settings", () => {
    expect(createMailer({})).toBeNull();
    expect(createMailer({ SMTP_URL: "  ", MAIL_FROM: "a@b.c" })).toBeNull();
    expect(() => createMailer({ SMTP_URL: "smtp://127.0.0.1:25" })).toThrow(/MAIL_FROM: required/);
    expect(() => createMailer({ SMTP_URL: "http://127.0.0.1:25", MAIL_FROM: "a@b.c" })).toThrow(/smtp: or smtps:/);
    expect(() => createMailer({ SMTP_URL: "nonsense", MAIL_FROM: "a@b.c" })).toThrow(/SMTP_URL: not a URL/);
    expect(() => createMailer({ SMTP_URL: "smtp://127.0.0.1:25", MAIL_FROM: "nobody" })).toThrow(/MAIL_FROM: not an email address/);
  });

  it("classifies SMTP errors: 5xx rejected, 4xx and network retried, a refused login retried", () => {
    expect(mailOutcomeOf({ code: "EENVELOPE", responseCode: 550, response: "550 no such user" })).toMatchObject({ kind: "rejected", responseCode: 550 });
    expect(mailOutcomeOf({ code: "EMESSAGE", responseCode: 452 })).toMatchObject({ kind: "retry", responseCode: 452 });
    expect(mailOutcomeOf({ code: "ECONNECTION", message: "connect ECONNREFUSED" })).toMatchObject({ kind: "retry" });
    expect(mailOutcomeOf({ code: "ETIMEDOUT", message: "Greeting never received" })).toMatchObject({ kind: "retry" });
    expect(mailOutcomeOf({ code: "EAUTH", responseCode: 535 })).toMatchObject({ kind: "retry", responseCode: 535 });
    expect(mailOutcomeOf({ code: "EENVELOPE", message: "No recipients defined" })).toMatchObject({ kind: "rejected" });
  });
});

describe("sending a digest to an SMTP server played by the test", () => {
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    await smtp.close();
  });

  const from = "Parley <notifications@chat.example.com>";

  it("a digest of 3 items arrives as one email: the recipient, 3 links, List-Unsubscribe, text and HTML", async () => {
    const mailer = createMailer({ SMTP_URL: smtp.url, MAIL_FROM: from })!;
    const before = smtp.received.length;
    const email = renderDigest(digest());
    const outcome = await mailer.send(email);
    expect(outcome).toMatchObject({ kind: "sent", messageId: "<notify.batch-0190f3a2-0001@chat.example.com>" });
    const mails = (await smtp.waitForReceived(before + 1)).slice(before);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.to).toEqual(["grace@example.org"]);
    expect(mail.from).toBe("notifications@chat.example.com");
    expect(mail.parsed.to).toMatchObject({ value: [{ name: "Grace Hopper", address: "grace@example.org" }] });
    expect(mail.parsed.from).toMatchObject({ value: [{ name: "Parley", address: "notifications@chat.example.com" }] });
    expect(mail.subject).toBe("3 unread messages in Parley");
    expect(mail.messageId).toBe("<notify.batch-0190f3a2-0001@chat.example.com>");
    const links = items().map((item) => item.url);
    const htmlLinks = hrefs(mail.html);
    for (const link of links) {
      expect(mail.text).toContain(link);
      expect(htmlLinks).toContain(link);
    }
    expect(htmlLinks.filter((href) => href.includes("/rooms/"))).toHaveLength(3);
    const unsubscribe = digest().unsubscribeUrl;
    expect(mail.rawHeader("list-unsubscribe")).toBe(`<${unsubscribe}>`);
    expect(mail.rawHeader("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    expect(mail.rawHeader("auto-submitted")).toBe("auto-generated");
    // the token in the header names the user
    const token = new URL(unsubscribe).searchParams.get("token")!;
    expect(verifyUnsubscribeToken(token, SECRET)).toBe(USER_ID);
    expect(mail.text).toContain("> @grace can you look at the build?");
    expect(mail.html).toContain("<strong>Ada Lovelace</strong>");
    expect(mail.parsed.headers.get("content-type")).toMatchObject({ value: "multipart/alternative" });
    mailer.close();
  });

  it("550 -> rejected; 451 -> retry, then the same email is accepted once", async () => {
    const mailer = createMailer({ SMTP_URL: smtp.url, MAIL_FROM: from })!;
    const before = smtp.received.length;
    smtp.reply({ code: 550, message: "mailbox unavailable" });
    expect(await mailer.send(renderDigest(digest()))).toMatchObject({ kind: "rejected", responseCode: 550 });
    smtp.replyTo("grace@example.org", { code: 451, message: "try again later" });
    expect(await mailer.send(renderDigest(digest()))).toMatchObject({ kind: "retry", responseCode: 451 });
    expect(await mailer.send(renderDigest(digest()))).toMatchObject({ kind: "sent" });
    expect(smtp.received.length).toBe(before + 1);
    expect(smtp.refused.slice(-2).map((r) => r.code)).toEqual([550, 451]);
    mailer.close();
  });

  it("a server that is not there -> retry", async () => {
    const gone = await startSmtpSink();
    const url = gone.url;
    await gone.close();
    const mailer = createMailer({ SMTP_URL: url, MAIL_FROM: from })!;
    expect(await mailer.send(renderDigest(digest()))).toMatchObject({ kind: "retry", detail: expect.stringMatching(/ECONNECTION|ECONNREFUSED/) });
    mailer.close();
  });

  it("logs in when SMTP_URL has credentials; a wrong password -> retry (the operator's to fix)", async () => {
    const authed = await startSmtpSink({ auth: { user: "parley", pass: "s3cret" } });
    try {
      const mailer = createMailer({ SMTP_URL: authed.url, MAIL_FROM: from })!;
      expect(await mailer.send(renderDigest(digest()))).toMatchObject({ kind: "sent" });
      const [mail] = await authed.waitForReceived(1);
      expect(mail!.user).toBe("parley");
      mailer.close();
      const wrong = createMailer({ SMTP_URL: authed.url.replace("s3cret", "wrong"), MAIL_FROM: from })!;
      expect(await wrong.send(renderDigest(digest()))).toMatchObject({ kind: "retry", responseCode: 535 });
      expect(authed.received).toHaveLength(1);
      wrong.close();
    } finally {
      await authed.close();
    }
  });

  it("a held answer: the sender gives up (timeout) -> retry, and the sink does not count it", async () => {
    const mailer = createMailer({ SMTP_URL: smtp.url, MAIL_FROM: from }, { socketTimeoutMs: 300 })!;
    const before = smtp.received.length;
    const hold = smtp.hold();
    const sending = mailer.send(renderDigest(digest({ batchId: "held-1" })));
    const mail = await hold.arrived;
    expect(mail.messageId).toBe("<notify.held-1@chat.example.com>");
    expect(await sending).toMatchObject({ kind: "retry" });
    expect(await hold.release()).toBe(false);
    expect(smtp.received.length).toBe(before);
    // sent again with the same Message-ID, accepted once
    const again = smtp.hold();
    const retried = mailer.send(renderDigest(digest({ batchId: "held-1" })));
    await again.arrived;
    expect(await again.release()).toBe(true);
    expect(await retried).toMatchObject({ kind: "sent" });
    expect(smtp.received.slice(before).map((m) => m.messageId)).toEqual(["<notify.held-1@chat.example.com>"]);
    mailer.close();
  });
});
