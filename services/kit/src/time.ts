// Conversions between database Dates and protobuf Timestamps.
import { timestampFromDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";

export function toTimestamp(date: Date | number): Timestamp {
  return typeof date === "number" ? timestampFromMs(date) : timestampFromDate(date);
}
