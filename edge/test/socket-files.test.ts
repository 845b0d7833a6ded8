// Files on the socket (issue 19): a Send frame with file_ids attaches uploads, and every member's
// frames carry the attachments, in both encodings (a raw JSON socket, a LiveClient on protobuf).
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { FileDisplay, LiveClient, uploadFile, type Message } from "@parley/client";
import { png } from "./files-fixtures.js";
import { ok, roomWithMembers, useEdgeWithSocket } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

const stack = useEdgeWithSocket();

describe("Send with files", () => {
  it("attaches uploaded files in the order given, for the sender's ack (JSON) and another member's LiveClient (protobuf)", async () => {
    const alice = await stack.edge.signUp("wa");
    const bob = await stack.edge.signUp("wb");
    const roomId = await roomWithMembers(stack.edge, alice, [bob]);
    const room = await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }));
    const put = (bytes: Buffer, name: string) => uploadFile({ baseUrl: stack.edge.base, roomId, file: new Blob([bytes]), name, token: alice.accessToken });
    const image = await put(png(20, 10), "wide.png");
    const notes = await put(Buffer.from("some notes\n"), "notes.txt");

    const received: Message[] = [];
    const client = new LiveClient({ url: stack.socket.url, getToken: async () => bob.accessToken, WebSocket: WebSocket as never, encoding: "proto" });
    client.on("message", (m) => received.push(m));
    client.subscribe(roomId, { messages: BigInt(room.lastChange ?? 0), room: BigInt(room.lastChange), lastSeq: 0n });
    const live = new Promise<void>((resolve) => client.on("live", (l) => l.roomId === roomId && resolve()));
    client.connect();
    await live;

    const ws = await RawSocket.open(stack.socket.url, alice.accessToken);
    const answer = await ws.request({ ref: "s1", send: { roomId, clientMsgId: "with-files-1", body: "", fileIds: [notes.id, image.id] } });
    expect(answer.error).toBeUndefined();
    const acked = answer.ack.message;
    expect(acked.attachments.map((a: { id: string }) => a.id)).toEqual([notes.id, image.id]);
    expect(acked.attachments[1]).toMatchObject({ name: "wide.png", mediaType: "image/png", display: "FILE_DISPLAY_IMAGE", width: 20, height: 10, messageId: acked.id });

    await waitFor(() => received.some((m) => m.id === acked.id), 20_000);
    const seen = received.find((m) => m.id === acked.id)!;
    expect(seen.attachments.map((a) => [a.name, a.display, a.messageId])).toEqual([
      ["notes.txt", FileDisplay.DOWNLOAD, acked.id],
      ["wide.png", FileDisplay.IMAGE, acked.id],
    ]);

    // A retry of the same Send returns the original; a file already taken is refused, naming the field.
    const again = await ws.request({ ref: "s2", send: { roomId, clientMsgId: "with-files-1", body: "", fileIds: [notes.id, image.id] } });
    expect(again.ack.message.id).toBe(acked.id);
    const taken = await ws.request({ ref: "s3", send: { roomId, clientMsgId: "with-files-2", body: "again", fileIds: [image.id] } });
    expect(taken.error).toMatchObject({ code: "INVALID_ARGUMENT" });

    // LiveClient's own send with fileIds.
    const third = await uploadFile({ baseUrl: stack.edge.base, roomId, file: new Blob([Buffer.from("third")]), name: "third.txt", token: bob.accessToken });
    const sent = await client.send(roomId, "from bob", { fileIds: [third.id] });
    expect(sent.attachments.map((a) => a.id)).toEqual([third.id]);
    ws.close();
    client.close();
  });
});
