// @vitest-environment happy-dom
// The one submit helper of the forms: busy while the action runs (with the key of what
// is being done), the failure kept as the text of the form's error line, cleared by the next try.
import { TRPCClientError } from "@trpc/client";
import { createRoot } from "solid-js";
import { describe, expect, it } from "vitest";
import { createSubmit } from "../src/lib/form";

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("createSubmit", () => {
  it("is busy while the action runs and idle after it succeeds", async () => {
    const form = createRoot(() => createSubmit());
    const step = deferred();
    const done = form.run(() => step.promise);
    expect(form.busy()).toBe(true);
    expect(form.error()).toBeNull();
    step.resolve();
    await expect(done).resolves.toBe(true);
    expect(form.busy()).toBeNull();
    expect(form.error()).toBeNull();
  });

  it("keeps the failure for the error line, and the next try clears it", async () => {
    const form = createRoot(() => createSubmit());
    await expect(form.run(() => Promise.reject(new Error("Name: at most 80 characters")))).resolves.toBe(false);
    expect(form.busy()).toBeNull();
    expect(form.error()).toEqual({ text: "Name: at most 80 characters", field: undefined });
    const step = deferred();
    const again = form.run(() => step.promise);
    expect(form.error()).toBeNull();
    step.resolve();
    await again;
    expect(form.error()).toBeNull();
  });

  it("says which row is busy when given a key", async () => {
    const form = createRoot(() => createSubmit<string>());
    const step = deferred();
    const done = form.run(() => step.promise, "user-2");
    expect(form.busy()).toBe("user-2");
    step.reject(new Error("already a member"));
    await expect(done).resolves.toBe(false);
    expect(form.busy()).toBeNull();
    expect(form.error()?.text).toBe("already a member");
  });

  it("onSubmit stops the page load and runs the action", async () => {
    const form = createRoot(() => createSubmit());
    let ran = 0;
    const event = new Event("submit", { cancelable: true }) as SubmitEvent;
    form.onSubmit(async () => {
      ran++;
    })(event);
    expect(event.defaultPrevented).toBe(true);
    expect(ran).toBe(1);
  });

  it("marks the field the server named as invalid", async () => {
    const form = createRoot(() => createSubmit());
    expect(form.invalid("username")).toBeUndefined();
    const refusal = new TRPCClientError("username: already taken", {
      result: { error: { code: -32600, message: "username: already taken", data: { code: "CONFLICT", httpStatus: 409, field: "username" } } },
    });
    await form.run(() => Promise.reject(refusal));
    expect(form.error()).toEqual({ text: "Username: already taken", field: "username" });
    expect(form.invalid("username")).toBe("true");
    expect(form.invalid("email")).toBeUndefined();
  });
});
