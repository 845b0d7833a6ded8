// Files (issue 19): signed download URLs, a file's metadata, a room's files, and taking back an
// upload no message took. The message process's FileService owns all of it. The bytes travel
// over plain HTTP routes, not procedures (files-http.ts): POST /api/v1/rooms/{roomId}/files, and
// GET /api/v1/files/{id}/content | thumbnail, which the URLs signed here point at.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import { fields, pageLimit } from "@parley/proto/rules/zod";
import { FileVariant } from "@parley/proto/file/v1/file_pb";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { FileOut, shapeFile } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";
import { signedFileUrl } from "../files-http.js";

const { id, pageToken } = fields;

/** As file.proto says: SignFileUrls and GetFiles take at most 200 ids, ListRoomFiles pages of 1-100 (default 50). */
export const FILE_IDS_MAX = 200;
const FILE_PAGE = { max: 100, default: 50 } as const;

const VariantName = z.enum(["original", "thumbnail"]);
const VARIANT = { original: FileVariant.ORIGINAL, thumbnail: FileVariant.THUMBNAIL } as const;

const fileIds = z
  .array(id)
  .min(1, "give at least one id")
  .max(FILE_IDS_MAX, `at most ${FILE_IDS_MAX} ids`);

export const SignedUrlOut = z.object({
  fileId: z.string(),
  variant: VariantName,
  url: z.string().describe("/api/v1/files/{id}/content (or /thumbnail) with ?token=: usable by a browser as it is (an <img> src, a download link)"),
  expiresAt: z.string().describe("ISO 8601 time; ask again after it (and after a kick the URL stops working at once)"),
});
export const SignedUrlsOut = z.object({
  urls: z.array(SignedUrlOut).describe("one per file you may read, in no particular order; the others are left out"),
});
export const FilePageOut = z.object({
  files: z.array(FileOut).describe("newest first"),
  nextCursor: z.string().nullable().describe("for the next page; null on the last one"),
});

export const filesRouter = router({
  signUrls: authedProcedure
    .meta({
      rest: {
        method: "POST",
        path: "/files/signed-urls",
        summary: "Signed download URLs for files you may read (for <img>, <video> and links, which send no Authorization header); short-lived, checked again at every download",
        output: SignedUrlsOut,
      },
      rateClass: "read",
    })
    .input(z.strictObject({ fileIds, variant: VariantName.optional().describe("original (default) or thumbnail") }))
    // A mutation (a POST, with the ids in the body) that changes nothing, reading on the read budget.
    .mutation(async ({ ctx, input }) => {
      const variant = input.variant ?? "original";
      const { urls } = await call(ctx.caller, (o) => ctx.services.files.signFileUrls({ fileIds: input.fileIds, variant: VARIANT[variant] }, o));
      return {
        urls: urls.map((u) => {
          const expires = u.expireTime ? timestampDate(u.expireTime) : new Date();
          return { fileId: u.fileId, variant, url: signedFileUrl(u.fileId, variant, u.token, expires), expiresAt: expires.toISOString() };
        }),
      };
    }),

  get: authedProcedure
    .meta({ rest: { method: "GET", path: "/files/:fileId", summary: "A file's metadata (a file of a room you are not in is 404, as a random id)", output: FileOut } })
    .input(z.strictObject({ fileId: id }))
    .query(async ({ ctx, input }) => {
      const { files } = await call(ctx.caller, (o) => ctx.services.files.getFiles({ fileIds: [input.fileId] }, o));
      const file = files.find((f) => f.id === input.fileId);
      if (!file) throw new EdgeError("NOT_FOUND", "file not found");
      return shapeFile(file);
    }),

  listRoom: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms/:roomId/files", summary: "The files of a room's messages (not deleted ones), newest first", output: FilePageOut } })
    .input(
      z.strictObject({
        roomId: id,
        limit: pageLimit(FILE_PAGE).optional(),
        cursor: pageToken.optional(),
        imagesOnly: z
          .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
          .optional()
          .describe("only images (a gallery); true or false in a query string"),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, (o) =>
        ctx.services.files.listRoomFiles(
          { roomId: input.roomId, limit: input.limit ?? FILE_PAGE.default, pageToken: input.cursor ?? "", imagesOnly: input.imagesOnly ?? false },
          o,
        ),
      );
      return { files: page.files.map(shapeFile), nextCursor: page.nextPageToken || null };
    }),

  deleteUpload: authedProcedure
    .meta({
      rest: {
        method: "DELETE",
        path: "/files/:fileId",
        status: 204,
        summary: "Remove a file you uploaded that no message took yet (taken out of the composer); attached is 412, another person's 404",
      },
    })
    .input(z.strictObject({ fileId: id }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.files.deleteUpload({ fileId: input.fileId }, o));
    }),
});
