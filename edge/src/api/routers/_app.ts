// The whole API: one router per domain. The web app imports `AppRouter` for end-to-end types.
import { router } from "../trpc.js";
import { authRouter } from "./auth.js";
import { filesRouter } from "./files.js";
import { messagesRouter } from "./messages.js";
import { notificationsRouter } from "./notifications.js";
import { roomsRouter } from "./rooms.js";
import { threadsRouter } from "./threads.js";
import { usersRouter } from "./users.js";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  rooms: roomsRouter,
  messages: messagesRouter,
  threads: threadsRouter,
  notifications: notificationsRouter,
  files: filesRouter,
});

export type AppRouter = typeof appRouter;
