// The one logger of every Parley process: pino, JSON lines on stdout.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials must never reach a log line, whatever object is logged.
    redact: {
      paths: ["password", "*.password", "refreshToken", "*.refreshToken", "accessToken", "*.accessToken", "authorization", "*.authorization"],
      censor: "[redacted]",
    },
  });
}
