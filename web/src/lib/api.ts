// The tRPC client for signed-in calls, typed by the edge's AppRouter. Each call
// carries a fresh access token; a 401 renews the token once and retries.
import { createTRPCClient, httpBatchLink, TRPCClientError, type TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import { LiveError } from "@parley/client";
import { accessToken, isRejected, refreshAccessToken, signedInUserId } from "./session";
import type { AppRouter } from "./types";

const renewOnUnauthorized: TRPCLink<AppRouter> = () => {
  return ({ next, op }) =>
    observable((observer) => {
      let subscription = next(op).subscribe({
        next: (value) => observer.next(value),
        complete: () => observer.complete(),
        error: (error) => {
          if (!isRejected(error) || op.context.renewed || !signedInUserId()) return observer.error(error);
          refreshAccessToken().then(
            () => {
              subscription = next({ ...op, context: { ...op.context, renewed: true } }).subscribe(observer);
            },
            () => observer.error(error),
          );
        },
      });
      return () => subscription.unsubscribe();
    });
};

export const api = createTRPCClient<AppRouter>({
  links: [
    renewOnUnauthorized,
    httpBatchLink({
      url: "/trpc",
      maxURLLength: 4000,
      // Below the edge's TRPC_MAX_BATCH_SIZE (25 by default): larger batches are refused whole.
      maxItems: 10,
      headers: async () => {
        const token = await accessToken().catch(() => null);
        return token ? { authorization: `Bearer ${token}` } : {};
      },
    }),
  ],
});

/** A message fit for a person from any error of a call. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string; field?: string; httpStatus?: number } | undefined;
    if (data?.code === "TOO_MANY_REQUESTS") return "Too many attempts. Please wait a moment and try again.";
    if (!data && /fetch|network/i.test(error.message)) return "Cannot reach the server. Check your connection.";
    const message = error.message || "Something went wrong.";
    // Validation errors name the field ("password: at least 8 characters").
    return message.charAt(0).toUpperCase() + message.slice(1);
  }
  if (error instanceof LiveError) {
    // Refusals over the socket (a send, an edit, a deletion) read like the API's.
    if (error.code === "RESOURCE_EXHAUSTED") return "Too many attempts. Please wait a moment and try again.";
    const message = error.message || "Something went wrong.";
    return message.charAt(0).toUpperCase() + message.slice(1);
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}

/** A call answered "no such thing" (404), or that the id given cannot name one (400): shown as not found. */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const code = (error.data as { code?: string } | undefined)?.code;
  return code === "NOT_FOUND" || code === "BAD_REQUEST";
}

/** The field an input error is about, if the server named one. */
export function errorField(error: unknown): string | undefined {
  if (error instanceof TRPCClientError) return (error.data as { field?: string } | undefined)?.field;
  return undefined;
}
