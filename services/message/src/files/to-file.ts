// A files row as the File of the API (attachments, FileService answers): an explicit shaper,
// so that nothing of the row (purge times, thumbnail hashes) leaks.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { toTimestamp } from "@parley/kit";
import type { FileDisplay, FileSchema } from "@parley/proto/file/v1/file_pb";
import type { StoredFile } from "../entities.js";

export type FileInit = MessageInitShape<typeof FileSchema>;

export function toFile(file: StoredFile): FileInit {
  return {
    id: file.id,
    roomId: file.roomId,
    uploaderId: file.uploaderId,
    messageId: file.messageId ?? "",
    name: file.name,
    size: BigInt(file.size),
    mediaType: file.mediaType,
    display: file.display as FileDisplay,
    width: file.width,
    height: file.height,
    animated: file.animated,
    hasThumbnail: file.hasThumbnail,
    thumbnailWidth: file.thumbnailWidth,
    thumbnailHeight: file.thumbnailHeight,
    sha256: file.sha256,
    createTime: toTimestamp(file.createdAt),
  };
}
