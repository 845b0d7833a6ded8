// tRPC's and REST's errors: the edge's one public-error mapping (../public-error.ts), which the
// socket tier's error frames use too.
export { describeError, EdgeError, fromServiceError, type ErrorDetails, type PublicErrorBody } from "../public-error.js";
