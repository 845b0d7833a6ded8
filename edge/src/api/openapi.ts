// The OpenAPI 3.1 document of the REST API, generated from the same procedures
// (their input schemas and `rest` meta): GET /api/v1/openapi.json.
import { z } from "zod";
import type { AppRouter } from "./routers/_app.js";
import { REST_PREFIX, restRoutes } from "./rest.js";
import { ONE_CLICK, UNSUBSCRIBE_PATH } from "./unsubscribe.js";
import { FILE_CSP, FILE_SIZE_HEADER, MULTIPART_ALLOWANCE_BYTES } from "./files-http.js";
import { FileOut } from "./shapes.js";

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    retryAfterSeconds: z.number().optional(),
    limit: z.enum(["file-size", "quota"]).optional().describe("with 413 from an upload: the file is over the size limit, or over your storage quota"),
  }),
});

const ERRORS: Record<string, string> = {
  "400": "invalid input (the message names the field), or malformed JSON",
  "401": "missing, invalid or expired access token",
  "403": "not allowed",
  "404": "not found (also for private rooms you are not in)",
  "409": "taken email or username, or a conflicting clientMsgId",
  "412": "a precondition failed: a deleted message, or a VAPID key the server no longer holds (subscribe again)",
  "413": "body too large (413 PAYLOAD_TOO_LARGE: uploads name the limit, file-size or quota)",
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

/** The file routes (files-http.ts): streams, not procedures. */
function filePaths(): Record<string, Record<string, unknown>> {
  const error = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
  const fileHeaders = {
    "Content-Type": { description: "the type sniffed from the bytes when the file was stored", schema: { type: "string" } },
    "Content-Disposition": {
      description: "attachment (with filename*=UTF-8''…) for everything but images, video and audio, which are inline: nothing uploaded is rendered as a page, SVG included",
      schema: { type: "string" },
    },
    "Content-Security-Policy": { description: `on every answer of these routes: ${FILE_CSP}`, schema: { type: "string" } },
    "X-Content-Type-Options": { description: "nosniff", schema: { type: "string" } },
    "Cross-Origin-Resource-Policy": { description: "same-origin", schema: { type: "string" } },
    ETag: { description: "strong: the SHA-256 of the bytes (If-None-Match gives 304)", schema: { type: "string" } },
    "Accept-Ranges": { description: "bytes", schema: { type: "string" } },
    "Cache-Control": { description: "private (no-cache with a bearer token; with ?token= at most the token's life)", schema: { type: "string" } },
  };
  const bytes = (description: string) => ({ description, headers: fileHeaders, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } });
  const download = (variant: "content" | "thumbnail") => {
    const get = {
      operationId: variant === "content" ? "files.download" : "files.downloadThumbnail",
      summary:
        variant === "content"
          ? "A file's bytes, for a member of its room (checked at every request: a kicked member loses access at once). Authorization: Bearer, or ?token= from files.signUrls"
          : "An image's thumbnail (at most 480 x 480, WebP; animated for animated images): 404 for a file without one",
      tags: ["files"],
      security: [{ bearer: [] }, {}],
      parameters: [
        { name: "fileId", in: "path", required: true, schema: { type: "string", format: "uuid" } },
        { name: "token", in: "query", required: false, description: "a signed URL's token (POST /api/v1/files/signed-urls), instead of Authorization", schema: { type: "string" } },
        { name: "Range", in: "header", required: false, description: "one byte range (bytes=0-99, bytes=100-, bytes=-100); several are answered with the whole file", schema: { type: "string" } },
        { name: "If-None-Match", in: "header", required: false, schema: { type: "string" } },
      ],
      responses: {
        "200": bytes("the whole file"),
        "206": { ...bytes("the range asked for"), headers: { ...fileHeaders, "Content-Range": { schema: { type: "string" }, description: "bytes first-last/size" } } },
        "304": { description: "not modified (If-None-Match matched the ETag)" },
        "400": error("not a file id"),
        "401": error("no token, or an invalid or expired access token"),
        "404": error("no such file, or not one you may read (a room you are not in, an expired, altered or other person's signed token): all answered alike"),
        "416": { ...error("the range starts at or after the end"), headers: { "Content-Range": { schema: { type: "string" }, description: "bytes */size" } } },
        "429": error("rate limited (see Retry-After)"),
      },
    };
    return { get, head: { ...get, operationId: `${get.operationId}Head`, summary: `${get.summary} (headers only)` } };
  };
  const linkImageGet = {
    operationId: "files.linkImage",
    summary: "A link preview's image, fetched once and re-hosted by the server (browsers never call the third party). No sign-in: the id is the capability",
    tags: ["files"],
    parameters: [{ name: "imageId", in: "path", required: true, schema: { type: "string" } }],
    responses: { "200": bytes("the image (Cache-Control: public)"), "304": { description: "not modified" }, "404": error("no such image") },
  };
  return {
    [`${REST_PREFIX}/rooms/{roomId}/files`]: {
      post: {
        operationId: "files.upload",
        summary:
          "Upload a file to a room (then send it: messages.send with fileIds). Streamed to storage, never held in memory; the type is sniffed from the bytes; images get their size and a thumbnail, and lose their EXIF data. A file no message takes is removed after a day",
        tags: ["files"],
        security: [{ bearer: [] }],
        parameters: [
          { name: "roomId", in: "path", required: true, schema: { type: "string", format: "uuid" } },
          {
            name: FILE_SIZE_HEADER,
            in: "header",
            required: true,
            description: `the file's size in bytes (the part's size is not known before it ends): a size over the limit or your quota is 413 before any byte is read, a body larger than it plus ${MULTIPART_ALLOWANCE_BYTES} bytes of envelope is 413 unread, a file longer or shorter than it is 400`,
            schema: { type: "integer", minimum: 1 },
          },
        ],
        requestBody: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: {
                type: "object",
                properties: { file: { type: "string", format: "binary", description: "the one part, named file; its filename is the file's name" } },
                required: ["file"],
                additionalProperties: false,
              },
            },
          },
        },
        responses: {
          "201": { description: "stored (unattached until a message takes it)", content: { "application/json": { schema: schemaOf(FileOut, "output") } } },
          "400": error(`no ${FILE_SIZE_HEADER}, a part other than file, or a file longer or shorter than declared`),
          "401": error("missing, invalid or expired access token"),
          "403": error("you may not post in this room (read-only)"),
          "404": error("not found (also for private rooms you are not in)"),
          "412": error("the room is archived"),
          "413": error("over the size limit (limit: file-size) or your storage quota (limit: quota)"),
          "415": error("not multipart/form-data"),
          "429": error("rate limited: uploads count as sends (see Retry-After)"),
        },
      },
    },
    [`${REST_PREFIX}/files/{fileId}/content`]: download("content"),
    [`${REST_PREFIX}/files/{fileId}/thumbnail`]: download("thumbnail"),
    [`${REST_PREFIX}/link-images/{imageId}`]: { get: linkImageGet, head: { ...linkImageGet, operationId: "files.linkImageHead" } },
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
  for (const [path, operations] of Object.entries(filePaths())) paths[path] = { ...paths[path], ...operations };
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
