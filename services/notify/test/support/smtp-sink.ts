// An SMTP server played by a test (issue 18): smtp-server on 127.0.0.1, port 0, no TLS, login
// optional (or required with given credentials), every message parsed with mailparser.
//
// Only what it accepted is counted: `received` holds the messages it answered 250 to while the
// sender was still connected. A test can hold the answer to the Nth message (hold(n)), kill the
// sender meanwhile, then release: that message is not counted. It can also answer with an SMTP error
// (reply(...): 550 permanent, 451 temporary), once per message, for everyone or one recipient.
//
//   const smtp = await startSmtpSink();
//   createMailer({ SMTP_URL: smtp.url, MAIL_FROM: "Parley <n@chat.example.com>" })
//   const [mail] = await smtp.waitForReceived(1);   // mail.to, mail.headers, mail.text, mail.html
//   smtp.reply({ code: 550, message: "mailbox unavailable" });
//   await smtp.close();
import type { AddressInfo, Socket } from "node:net";
import { EventEmitter } from "node:events";
import { createHold, waitUntil, type HoldState } from "./sink-events.js";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export interface ReceivedMail {
  /** Which message this was (1-based over the sink's life, counting every DATA). */
  n: number;
  /** The envelope: MAIL FROM and RCPT TO, as the client sent them. */
  from: string;
  to: string[];
  /** The login used, if any. */
  user?: string;
  raw: Buffer;
  parsed: ParsedMail;
  /** Header names in lower case, values as mailparser decoded them (strings for unstructured ones). */
  headers: Map<string, unknown>;
  /** A header exactly as it was in the message, unfolded (e.g. "list-unsubscribe"). */
  rawHeader(name: string): string | undefined;
  subject: string;
  messageId: string;
  text: string;
  html: string;
}

export interface SmtpReply {
  /** 250 accepts; 4xx is temporary, 5xx permanent. */
  code: number;
  message?: string;
}

export interface SmtpSinkHold {
  n: number;
  /** Resolves when the Nth message arrived (parsed; its answer chosen and held). */
  arrived: Promise<ReceivedMail>;
  /** Sends the held answer (or `reply` instead); resolves whether the message was counted as accepted. */
  release(reply?: SmtpReply): Promise<boolean>;
}

export interface SmtpSink {
  /** "smtp://127.0.0.1:<port>" (with the credentials when the sink requires a login): for SMTP_URL. */
  url: string;
  host: string;
  port: number;
  /** Answers the next messages with these replies, one each, then 250 again. */
  reply(...replies: SmtpReply[]): void;
  /** The same, only for messages to this recipient. */
  replyTo(recipient: string, ...replies: SmtpReply[]): void;
  /** Holds the answer to the Nth message (default: the next one). */
  hold(n?: number): SmtpSinkHold;
  /** Every message (DATA) seen, accepted or not. */
  readonly messages: number;
  /** The messages accepted, in order. */
  readonly received: readonly ReceivedMail[];
  /** Messages answered with an error (scripted) and delivered to a connected client. */
  readonly refused: ReadonlyArray<{ n: number; to: string[]; code: number }>;
  waitForReceived(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Require this login (over plain text: a test server). Default: login optional, any accepted. */
  auth?: { user: string; pass: string };
  /** Largest message accepted. Default 10 MB. */
  size?: number;
}

/** Two turns of the event loop: a sender's closed connection is seen before a held answer is counted. */
const settled = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));


export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const refused: Array<{ n: number; to: string[]; code: number }> = [];
  const replies: SmtpReply[] = [];
  const repliesTo = new Map<string, SmtpReply[]>();
  const holds = new Map<number, HoldState<ReceivedMail, SmtpReply>>();
  const closedSessions = new Set<string>();
  const sockets = new Map<string, Socket>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let messages = 0;

  const socketKey = (address: string, port: number) => `${address.replace(/^::ffff:/, "")}:${port}`;
  const senderGone = (session: SMTPServerSession) => {
    if (closedSessions.has(session.id)) return true;
    const socket = sockets.get(socketKey(session.remoteAddress, session.remotePort));
    return !socket || socket.destroyed || socket.readableEnded;
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: options.auth ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    logger: false,
    size: options.size ?? 10 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      if (options.auth && (auth.username !== options.auth.user || auth.password !== options.auth.pass)) {
        return callback(new Error("invalid login"));
      }
      callback(null, { user: auth.username ?? "" });
    },
    onClose(session) {
      closedSessions.add(session.id);
    },
    onData(stream, session, callback) {
      const n = ++messages;
      events.emit("message");
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        void (async () => {
          const raw = Buffer.concat(chunks);
          if (stream.sizeExceeded) {
            const error = Object.assign(new Error("message too big"), { responseCode: 552 });
            return callback(error);
          }
          const to = session.envelope.rcptTo.map((a) => a.address);
          const parsed = await simpleParser(raw);
          const mail = received_(n, session, raw, parsed);
          const forRecipient = to.map((address) => repliesTo.get(address.toLowerCase())).find((queue) => queue && queue.length > 0);
          let reply: SmtpReply = forRecipient?.shift() ?? replies.shift() ?? { code: 250 };
          const hold = holds.get(n);
          let counted = false;
          try {
            if (hold) {
              hold.arrived(mail);
              reply = (await hold.released) ?? reply;
              await settled();
            }
            if (senderGone(session)) return; // nobody to answer: not accepted
            if (reply.code >= 200 && reply.code < 300) {
              callback(null, reply.message ?? "OK: queued");
              received.push(mail);
              counted = true;
              events.emit("received");
            } else {
              callback(Object.assign(new Error(reply.message ?? "refused"), { responseCode: reply.code }));
              refused.push({ n, to, code: reply.code });
            }
          } finally {
            hold?.setCounted(counted);
          }
        })().catch((error: Error) => callback(Object.assign(error, { responseCode: 451 })));
      });
    },
  });
  server.server.on("connection", (socket: Socket) => {
    if (socket.remoteAddress && socket.remotePort) sockets.set(socketKey(socket.remoteAddress, socket.remotePort), socket);
  });

  function received_(n: number, session: SMTPServerSession, raw: Buffer, parsed: ParsedMail): ReceivedMail {
    const headerBlock = raw.toString("utf8").split(/\r?\n\r?\n/)[0] ?? "";
    const unfolded = headerBlock.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/);
    return {
      n,
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      to: session.envelope.rcptTo.map((a) => a.address),
      ...(session.user ? { user: session.user } : {}),
      raw,
      parsed,
      headers: parsed.headers as Map<string, unknown>,
      rawHeader(name) {
        const prefix = `${name.toLowerCase()}:`;
        const line = unfolded.find((l) => l.toLowerCase().startsWith(prefix));
        return line?.slice(prefix.length).trim();
      },
      subject: parsed.subject ?? "",
      messageId: parsed.messageId ?? "",
      text: parsed.text ?? "",
      html: typeof parsed.html === "string" ? parsed.html : "",
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  server.on("error", () => {
    // a client's broken connection: nothing to do
  });
  const { port } = server.server.address() as AddressInfo;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : "";


  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    reply(...more) {
      replies.push(...more);
    },
    replyTo(recipient, ...more) {
      const key = recipient.toLowerCase();
      repliesTo.set(key, [...(repliesTo.get(key) ?? []), ...more]);
    },
    hold(n = messages + 1) {
      if (holds.has(n)) throw new Error(`smtp sink: message ${n} is already held`);
      const { state, hold } = createHold<ReceivedMail, SmtpReply>(n);
      holds.set(n, state);
      return hold;
    },
    get messages() {
      return messages;
    },
    received,
    refused,
    async waitForReceived(count, timeoutMs = 10_000) {
      await waitUntil(events, "smtp sink", () => received.length >= count, "received", timeoutMs, () => `${received.length} of ${count} messages received`);
      return received.slice();
    },
    waitForMessages(count, timeoutMs = 10_000) {
      return waitUntil(events, "smtp sink", () => messages >= count, "message", timeoutMs, () => `${messages} of ${count} messages`);
    },
    async close() {
      for (const hold of holds.values()) hold.release(undefined);
      for (const socket of sockets.values()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
