// `npm run admin-token -- [--minutes N] [--operator NAME]`: prints an admin credential for
// operators' calls (buf curl -H "authorization: Bearer $(npm run -s admin-token)" ...), signed
// with INTERNAL_AUTH_SECRET from the environment: the same secret the services run with.
// Anyone holding that secret can do this; the token only saves passing the secret around.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { InternalAuth, internalSecretProblem, MAX_ADMIN_TOKEN_MINUTES } from "@parley/kit";

export const DEFAULT_MINUTES = 15;

const USAGE = `usage: npm run -s admin-token -- [--minutes N (1-${MAX_ADMIN_TOKEN_MINUTES}, default ${DEFAULT_MINUTES})] [--operator NAME]
reads INTERNAL_AUTH_SECRET; prints a token for: buf curl -H "authorization: Bearer <token>" ...\n`;

/** Prints the token on stdout; exits 64 on bad arguments, 78 when INTERNAL_AUTH_SECRET is missing or too short. */
export async function main(argv: string[]): Promise<void> {
  let minutes: number;
  let operator: string;
  try {
    const { values } = parseArgs({ args: argv, options: { minutes: { type: "string" }, operator: { type: "string" } } });
    minutes = Number(values.minutes ?? DEFAULT_MINUTES);
    operator = values.operator ?? process.env.USER ?? "admin";
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_ADMIN_TOKEN_MINUTES) throw new Error(`--minutes: 1 to ${MAX_ADMIN_TOKEN_MINUTES}`);
    if (!/^[\w.@-]{1,64}$/.test(operator)) throw new Error("--operator: letters, digits, '_', '.', '@' or '-'");
  } catch (error) {
    process.stderr.write(`admin-token: ${(error as Error).message}\n${USAGE}`);
    process.exit(64); // EX_USAGE
  }
  const secret = process.env.INTERNAL_AUTH_SECRET ?? "";
  const problem = secret === "" ? "required: the secret the services run with" : internalSecretProblem(secret);
  if (problem) {
    process.stderr.write(`admin-token: INTERNAL_AUTH_SECRET: ${problem}\n`);
    process.exit(78); // EX_CONFIG, like the services
  }
  const token = await new InternalAuth(secret, "admin-token").adminToken(minutes, operator);
  process.stdout.write(`${token}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
