// Helpers shared by the room service's tests: people, rooms, failures and events.
import { randomBytes } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser } from "@parley/kit";
import type { TestParley } from "@parley/launch/testing";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";

export const tag = () => randomBytes(4).toString("hex");

/** The error a call failed with, or undefined if it succeeded. */
export const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));

export async function newUser(parley: TestParley<"room">, displayName = "") {
  const username = `r_${tag()}`;
  const { user } = await parley.users.createUser({ id: uuidv7(), username, email: `${username}@example.com`, displayName });
  return user!;
}

export async function newRoom(parley: TestParley<"room">, ownerId: string, kind = RoomKind.PUBLIC, name = `room ${tag()}`) {
  const { room } = await parley.rooms.createRoom({ name, kind }, asUser(ownerId));
  return room!;
}

type Payloads = { [P in Exclude<Event["payload"], { case: undefined }> as P["case"]]: P["value"] };
type PayloadCase = keyof Payloads;
type PayloadValue<K extends PayloadCase> = Payloads[K];

/** Everything published on a topic from now on, and a way to wait for a given event. */
export async function listen(parley: TestParley<"room">, topic: string) {
  const events: Event[] = [];
  const waiters = new Set<() => void>();
  const unsubscribe = await parley.broker.subscribe(topic, (event) => {
    events.push(event);
    for (const wake of waiters) wake();
  });
  return {
    events,
    unsubscribe,
    /** The first event (from the start) of that kind matching `match`; fails after `timeoutMs`. */
    next<K extends PayloadCase>(kind: K, match: (value: PayloadValue<K>) => boolean = () => true, timeoutMs = 5_000): Promise<PayloadValue<K>> {
      const find = (): PayloadValue<K> | undefined => {
        const value: unknown = events.find((e) => e.payload.case === kind && match(e.payload.value as PayloadValue<K>))?.payload.value;
        return value as PayloadValue<K> | undefined;
      };
      return new Promise((resolve, reject) => {
        const check = () => {
          const value = find();
          if (value === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(value);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = events.map((e) => e.payload.case).join(", ") || "nothing";
          reject(new Error(`no ${kind} event on ${topic} within ${timeoutMs} ms (saw ${seen})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
