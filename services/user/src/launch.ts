// Starts the user service: database, gRPC server. It calls nobody and publishes nothing.
import { defineService } from "@parley/kit";
import { initORM } from "./db.js";
import { userEnv } from "./env.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "user",
  env: userEnv,
  async open({ config, log, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    return { db, log, close: () => db.orm.close() };
  },
  build,
});
