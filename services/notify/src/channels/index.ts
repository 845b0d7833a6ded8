// The notify worker's delivery channels (issue 18): Web Push, email, and what they need.
export * from "./email.js";
export * from "./links.js";
export * from "./push.js";
export * from "./push-endpoint.js";
export * from "./unsubscribe-token.js";
