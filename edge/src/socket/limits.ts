// The socket tier's limits and their defaults (the env maps SOCKET_* onto them in launch.ts).
import { DEFAULT_MAX_FRAME_BYTES } from "./protocol.js";

export interface SocketLimits {
  /**
   * Largest client frame: a larger one closes the socket with 1009. uWebSockets.js itself is told
   * four times as much, because above its own limit it drops the connection without a close frame.
   */
  maxFrameBytes: number;
  /** A socket with more unsent bytes than this is closed as a slow consumer. */
  slowConsumerBytes: number;
  /**
   * Client frames per second, sustained (bursts of four seconds' worth pass); beyond it a frame
   * gets RESOURCE_EXHAUSTED, and a client that keeps flooding at ten times the rate is closed.
   */
  framesPerSecond: number;
  /** Rooms one socket may subscribe to. */
  maxRoomsPerSocket: number;
  /** How often every room's newest seq is checked, so an idle room converges after a lost event. */
  headCheckMs: number;
  /**
   * Subscriptions set up at once (each asks the room and message services, and replays). More wait
   * in line: after a node dies, thousands of clients resubscribe within seconds, and without a limit
   * their calls all time out in the services together and are retried together.
   */
  subscribeConcurrency: number;
  /** Inactivity before a user shows as away. */
  awayAfterMs: number;
  /** Typing frames per room per socket at most this often. */
  typingIntervalMs: number;
  idleTimeoutSeconds: number;
  /** Sockets one user may have open, across nodes that share the presence store. */
  maxSocketsPerUser: number;
  /** How often the sessions of open sockets are checked again (in case their end was not heard). */
  sessionSweepMs: number;
  /** The per-user send budget (RATE_SEND_PER_10S_USER), shared with the edge. */
  sendsPer10sPerUser: number;
}

export const DEFAULT_LIMITS: SocketLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  slowConsumerBytes: 1024 * 1024,
  framesPerSecond: 50,
  maxRoomsPerSocket: 1000,
  headCheckMs: 3_000,
  subscribeConcurrency: 32,
  awayAfterMs: 5 * 60_000,
  typingIntervalMs: 2_000,
  idleTimeoutSeconds: 60,
  maxSocketsPerUser: 20,
  sessionSweepMs: 5_000,
  sendsPer10sPerUser: 50,
};
