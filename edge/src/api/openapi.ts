// The OpenAPI 3.1 document of the REST API, generated from the same procedures
// (their input schemas and `rest` meta): GET /api/v1/openapi.json.
import { z } from "zod";
import type { AppRouter } from "./routers/_app.js";
import { REST_PREFIX, restRoutes } from "./rest.js";
import { ONE_CLICK, UNSUBSCRIBE_PATH } from "./unsubscribe.js";

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    retryAfterSeconds: z.number().optional(),
  }),
});

const ERRORS: Record<string, string> = {
  "400": "invalid input (the message names the field), or malformed JSON",
  "401": "missing, invalid or expired access token",
  "403": "not allowed",
  "404": "not found (also for private rooms you are not in)",
  "409": "taken email or username, or a conflicting clientMsgId",
  "412": "a precondition failed: a deleted message, or a VAPID key the server no longer holds (subscribe again)",
  "413": "body too large",
  "429": "rate limited (see Retry-After)",
};

function schemaOf(type: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(type, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return schema;
}

/** The email unsubscribe link (unsubscribe.ts): not a procedure, an HTML page and a form POST without sign-in. */
function unsubscribePaths(): Record<string, unknown> {
  const token = {
    name: "token",
    in: "query",
    required: true,
    description: "the token of the email's link (List-Unsubscribe); made and checked by the notification service",
    schema: { type: "string", minLength: 1, maxLength: 1024 },
  };
  const html = (description: string) => ({ description, content: { "text/html": { schema: { type: "string" } } } });
  const failure = (description: string) => ({
    description: `${description} (an HTML page; JSON {error} when Accept asks for application/json only)`,
    content: { "text/html": { schema: { type: "string" } }, "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  const form = {
    type: "object",
    properties: {
      [ONE_CLICK.name]: { type: "string", const: ONE_CLICK.value, description: "RFC 8058's one-click key (optional; any other value is 400)" },
      token: { type: "string", description: "the token, when the URL has none" },
    },
  };
  return {
    get: {
      operationId: "notifications.unsubscribePage",
      summary: "The page an email's unsubscribe link opens: a confirm button that POSTs the same URL. Changes nothing (mail scanners follow links)",
      tags: ["notifications"],
      parameters: [token],
      responses: { "200": html("the confirm page"), "400": failure("no token, or not a token") },
    },
    post: {
      operationId: "notifications.unsubscribe",
      summary:
        "Turn notification emails off for the person the token was made for: the confirm page's button, and RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click; no sign-in, no CSRF token). Again: 200",
      tags: ["notifications"],
      parameters: [{ ...token, description: `${token.description}; may instead be a form field` }],
      requestBody: {
        required: false,
        content: { "multipart/form-data": { schema: form }, "application/x-www-form-urlencoded": { schema: form } },
      },
      responses: {
        "200": {
          description: "unsubscribed (or already): a page, or {unsubscribed: true} when Accept asks for application/json only",
          content: {
            "text/html": { schema: { type: "string" } },
            "application/json": { schema: { type: "object", properties: { unsubscribed: { type: "boolean", const: true } }, required: ["unsubscribed"] } },
          },
        },
        "400": failure("a bad or forged token"),
        "413": failure("body too large"),
        "415": failure("a body that is not a form"),
        "429": failure("too many unsubscribe requests from this address (see Retry-After)"),
      },
    },
  };
}

export function openApiDocument(router: AppRouter, serverUrl = "/") {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of restRoutes(router)) {
    // An input that may be left out entirely (every field optional, e.g. GET /threads) documents its object.
    const declared = route.procedure._def.inputs[0] as z.ZodObject | z.ZodOptional<z.ZodObject> | undefined;
    const input = declared instanceof z.ZodOptional ? declared.unwrap() : declared;
    const shape = (input?.shape ?? {}) as Record<string, z.ZodType>;
    const parameters = [
      ...route.params.map((name) => ({ name, in: "path", required: true, schema: shape[name] ? schemaOf(shape[name], "input") : { type: "string" } })),
      ...(route.method === "GET" || route.method === "DELETE"
        ? Object.entries(shape)
            .filter(([name]) => !route.params.includes(name))
            .map(([name, type]) => ({ name, in: "query", required: !type.safeParse(undefined).success, schema: schemaOf(type, "input") }))
        : []),
    ];
    const bodyShape = Object.fromEntries(Object.entries(shape).filter(([name]) => !route.params.includes(name)));
    const hasBody = (route.method === "POST" || route.method === "PUT" || route.method === "PATCH") && Object.keys(bodyShape).length > 0;
    const authed = !route.path.startsWith("/auth/") || route.path === "/auth/logout-all" || route.path.startsWith("/auth/sessions");
    const openApiPath = `${REST_PREFIX}${route.path.replace(/:([A-Za-z]+)/g, "{$1}")}`;
    const success = String(route.status);
    (paths[openApiPath] ??= {})[route.method.toLowerCase()] = {
      operationId: route.procedurePath,
      summary: route.meta.summary,
      tags: [route.procedurePath.split(".")[0]],
      ...(authed && { security: [{ bearer: [] }] }),
      ...(parameters.length > 0 && { parameters }),
      ...(hasBody && {
        requestBody: { required: true, content: { "application/json": { schema: schemaOf(z.strictObject(bodyShape), "input") } } },
      }),
      responses: {
        [success]:
          success === "204"
            ? { description: "done" }
            : {
                description: "success",
                ...(route.meta.output && { content: { "application/json": { schema: schemaOf(route.meta.output, "output") } } }),
              },
        ...Object.fromEntries(
          Object.entries(ERRORS)
            .filter(([status]) => authed || status !== "401")
            .map(([status, description]) => [
              status,
              { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
            ]),
        ),
      },
    };
  }
  paths[UNSUBSCRIBE_PATH] = unsubscribePaths();
  return {
    openapi: "3.1.0",
    info: { title: "Parley API", version: "1.0.0", description: "The REST API of Parley. The web app uses the same procedures over tRPC at /trpc." },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: schemaOf(ErrorBody, "output") },
    },
  };
}
