// Token and session checks of the socket tier, in one place: at the upgrade, on every frame,
// on Reauth, and by a sweep of open sockets (for session ends this node did not hear of).
import { Code, ConnectError } from "@connectrpc/connect";
import type { AccessTokenVerifier, SessionStates } from "@parley/kit/tokens";
import type { Logger } from "@parley/kit";
import { CLOSE } from "./protocol.js";
import type { Socket } from "./state.js";

export type { AccessTokenVerifier, SessionStates };

export interface SocketClaims {
  userId: string;
  sessionId: string;
  expiresAt: number;
}

/** The upgrade's refusal for a token that does not verify (its reason is safe to show). */
export function refusalReason(error: unknown): string {
  return (error as Error).name === "TokenRejectedError" ? (error as Error).message : "cannot verify the token";
}

export class SocketAuth {
  constructor(
    private readonly verifier: AccessTokenVerifier,
    private readonly sessions: SessionStates,
  ) {}

  /** The claims of a token offered at the upgrade; throws as the verifier does. */
  verify(token: string | undefined): Promise<SocketClaims> {
    return this.verifier.verify(token);
  }

  /** Whether a session has ended (cached about a second); throws when it cannot be checked. */
  isEnded(sessionId: string): Promise<boolean> {
    return this.sessions.isEnded(sessionId);
  }

  /** As isEnded, for a frame: a failed check is a transient error. */
  sessionEnded(sessionId: string): Promise<boolean> {
    return this.sessions.isEnded(sessionId).catch((error: unknown) => {
      throw new ConnectError("cannot check the session right now", Code.Unavailable, undefined, undefined, error);
    });
  }

  /** A Reauth frame's token: valid, the same user's, and of a live session. */
  async reauth(token: string, userId: string): Promise<SocketClaims> {
    const claims = await this.verifier.verify(token).catch((error: Error) => {
      throw new ConnectError(error.message, Code.Unauthenticated);
    });
    if (claims.userId !== userId) throw new ConnectError("the token belongs to another user", Code.PermissionDenied);
    if (await this.sessionEnded(claims.sessionId)) throw new ConnectError("the session has ended; sign in again", Code.Unauthenticated);
    return claims;
  }

  /** Heard that sessions ended: refused on this node from now on, ahead of the next check. */
  markEnded(sessionIds: string[]): void {
    this.sessions.markEnded(sessionIds);
  }

  /** Closes sockets whose session ended without this node hearing of it (a lost event). */
  async sweep(sockets: Iterable<Socket>, log: Logger): Promise<void> {
    const bySession = new Map<string, Socket[]>();
    for (const ws of sockets) {
      const { sessionId } = ws.getUserData();
      bySession.set(sessionId, [...(bySession.get(sessionId) ?? []), ws]);
    }
    await Promise.all(
      [...bySession].map(async ([sessionId, sockets]) => {
        try {
          if (!(await this.sessions.isEnded(sessionId))) return;
        } catch (error) {
          return log.debug({ err: error }, "session sweep: cannot check sessions now");
        }
        for (const ws of sockets) {
          const state = ws.getUserData();
          if (!state.closed && state.sessionId === sessionId) ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
        }
      }),
    );
  }
}
