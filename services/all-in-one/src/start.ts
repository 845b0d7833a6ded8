// Starts every Parley service in this process, each on its own port, talking
// gRPC over loopback: the all-in-one mode of `npm start`, and the harness of tests.
import { createLogger, runStopSteps, type GrpcServer, type Logger, type StopStep } from "@parley/kit";
import * as auth from "@parley/auth";
import * as user from "@parley/user";

export interface StartOptions {
  /** Environment to read settings from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Ports per service; 0 picks a free one. Defaults to the standard ports. */
  ports?: Partial<Record<ServiceName, number>>;
  /** "memory://" keeps the embedded databases in memory (tests). */
  dataDir?: string;
  host?: string;
  log?: Logger;
}

export type ServiceName = "auth" | "user";

export interface RunningParley {
  /** host:port of every service. */
  addresses: Record<ServiceName, string>;
  stop(): Promise<void>;
}

export async function startParley(options: StartOptions = {}): Promise<RunningParley> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? createLogger("parley", env.LOG_LEVEL);
  const steps: StopStep[] = [];
  const servers: StopStep[] = [];
  const dataDirFor = (name: string) => (options.dataDir === "memory://" ? "memory://" : `${options.dataDir ?? env.DATA_DIR ?? "./data"}/${name}`);
  const listen = async (name: ServiceName, server: GrpcServer, port: number, grace: number) => {
    const bound = await server.listen(port, host);
    servers.unshift({ name: `${name} grpc`, stop: () => server.shutdown(grace) });
    log.info({ service: name, port: bound }, "service listening");
    return `${host}:${bound}`;
  };

  try {
    const userConfig = user.userEnv.parse({ ...env, PORT: options.ports?.user ?? env.USER_PORT });
    const userLog = createLogger("user", userConfig.LOG_LEVEL);
    const userDb = await user.initORM({ databaseUrl: userConfig.DATABASE_URL, dataDir: dataDirFor("user"), log: userLog });
    steps.push({ name: "user database", stop: () => userDb.orm.close() });
    const userAddress = await listen("user", user.build({ db: userDb, log: userLog }), userConfig.PORT, userConfig.SHUTDOWN_GRACE_MS);

    const authConfig = auth.authEnv.parse({ ...env, PORT: options.ports?.auth ?? env.AUTH_PORT, USER_SERVICE_ADDR: userAddress });
    const authDeps = await auth.createAuthDeps(authConfig, createLogger("auth", authConfig.LOG_LEVEL), dataDirFor("auth"));
    steps.push({ name: "auth dependencies", stop: () => authDeps.close() });
    const authAddress = await listen("auth", auth.build(authDeps), authConfig.PORT, authConfig.SHUTDOWN_GRACE_MS);

    return {
      addresses: { auth: authAddress, user: userAddress },
      // Servers first (they drain calls), then what they use.
      stop: async () => {
        await runStopSteps(log, [...servers, ...steps.reverse()]);
      },
    };
  } catch (error) {
    await runStopSteps(log, [...servers, ...steps.reverse()]);
    throw error;
  }
}
