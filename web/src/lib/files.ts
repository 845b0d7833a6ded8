// Files as the app shows them (issue 19): sizes people read, what kind of file a card names, and
// the box an image takes before it has loaded (from the width and height the server measured, so
// nothing below it jumps when the bytes arrive).
import type { FileInfo } from "./types";

const UNITS = ["KB", "MB", "GB", "TB"] as const;

/** A size as people read it: "512 B", "1.5 KB", "12 MB" (binary units, one decimal below 10). */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // 9.96 KB rounds to "10 KB", not "10.0 KB".
  const shown = value < 9.95 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
  return `${shown} ${UNITS[unit]}`;
}

export type FileKind = "image" | "video" | "audio" | "pdf" | "archive" | "text" | "code" | "document" | "spreadsheet" | "slides" | "file";

const BY_EXTENSION: Record<string, FileKind> = {
  zip: "archive", gz: "archive", tgz: "archive", tar: "archive", "7z": "archive", rar: "archive", bz2: "archive", xz: "archive",
  txt: "text", md: "text", log: "text", csv: "spreadsheet", tsv: "spreadsheet",
  json: "code", js: "code", ts: "code", py: "code", go: "code", rs: "code", java: "code", c: "code", cpp: "code", h: "code", sh: "code", yml: "code", yaml: "code", xml: "code", html: "code", css: "code", sql: "code",
  doc: "document", docx: "document", odt: "document", rtf: "document",
  xls: "spreadsheet", xlsx: "spreadsheet", ods: "spreadsheet",
  ppt: "slides", pptx: "slides", odp: "slides", key: "slides",
  pdf: "pdf",
};

/** What kind of file it is, for its icon and label: from the sniffed type, then the name's extension. */
export function fileKind(mediaType: string, name: string): FileKind {
  const type = mediaType.toLowerCase();
  if (type === "application/pdf") return "pdf";
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  if (type.startsWith("audio/")) return "audio";
  if (/zip|gzip|x-tar|x-7z|x-rar|x-bzip2|x-xz/.test(type)) return "archive";
  const extension = /\.([a-z0-9]{1,8})$/i.exec(name)?.[1]?.toLowerCase();
  const known = extension ? BY_EXTENSION[extension] : undefined;
  if (known) return known;
  if (type.startsWith("text/")) return "text";
  return "file";
}

const KIND_LABELS: Record<FileKind, string> = {
  image: "Image",
  video: "Video",
  audio: "Audio",
  pdf: "PDF",
  archive: "Archive",
  text: "Text",
  code: "Code",
  document: "Document",
  spreadsheet: "Spreadsheet",
  slides: "Presentation",
  file: "File",
};

/** The type a card shows: "PDF", "PNG image", "ZIP archive"… */
export function fileTypeLabel(mediaType: string, name: string): string {
  const kind = fileKind(mediaType, name);
  const extension = /\.([a-z0-9]{1,8})$/i.exec(name)?.[1]?.toUpperCase();
  if (kind === "pdf") return "PDF";
  if (kind === "file") return extension ? `${extension} file` : "File";
  return extension ? `${extension} ${KIND_LABELS[kind].toLowerCase()}` : KIND_LABELS[kind];
}

/** The box an inline image is shown in: its own size, scaled down to fit within max x max, never up. */
export function fitWithin(width: number, height: number, maxWidth: number, maxHeight = maxWidth): { width: number; height: number } {
  if (!(width > 0) || !(height > 0)) return { width: maxWidth, height: Math.round(maxHeight * 0.75) };
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The files of a message that open in the lightbox (shown inline as images). */
export function imagesOf(files: readonly FileInfo[] | undefined): FileInfo[] {
  return (files ?? []).filter((f) => f.display === "image");
}

/** A name for a pasted file the browser gave no useful name ("image.png" from a screenshot). */
export function pastedName(file: { name: string; type: string }, at: Date): string {
  if (file.name && file.name !== "image.png" && file.name !== "blob") return file.name;
  const extension = /^image\/(png|jpeg|gif|webp)$/.exec(file.type)?.[1]?.replace("jpeg", "jpg") ?? "png";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `Pasted image ${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}.${pad(at.getMinutes())}.${pad(at.getSeconds())}.${extension}`;
}
