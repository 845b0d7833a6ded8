// The start order comes from the process table's `calls`: a process after what it calls, what a
// set of processes needs is its closure, and a cycle is an error that names it.
import { describe, expect, it } from "vitest";
import { PROCESSES, ProcessCycleError, startOrder } from "../src/processes.js";

const names = (specs: { name: string }[]) => specs.map((s) => s.name);

describe("startOrder", () => {
  const table = [
    { name: "edge", calls: ["auth", "rooms"] },
    { name: "rooms", calls: ["users"] },
    { name: "auth", calls: ["users"] },
    { name: "users", calls: [] },
    { name: "socket", calls: ["rooms"] },
    { name: "web", calls: [], tells: ["socket"] },
  ];

  it("puts every process after what it calls (and tells browsers about); of those ready, the first in the table", () => {
    const order = names(startOrder(table));
    expect(order).toEqual(["users", "rooms", "auth", "edge", "socket", "web"]);
    for (const spec of table) {
      for (const dependency of [...spec.calls, ...(spec.tells ?? [])]) expect(order.indexOf(dependency), `${dependency} before ${spec.name}`).toBeLessThan(order.indexOf(spec.name));
    }
  });

  it("starts what is asked and what it needs, nothing else", () => {
    expect(names(startOrder(table, ["users"]))).toEqual(["users"]);
    expect(names(startOrder(table, ["auth"]))).toEqual(["users", "auth"]);
    expect(names(startOrder(table, ["socket", "auth"]))).toEqual(["users", "rooms", "auth", "socket"]);
    expect(names(startOrder(table, ["web"]))).toEqual(["users", "rooms", "socket", "web"]);
  });

  it("refuses a cycle, naming it", () => {
    const cyclic = [
      { name: "users", calls: [] },
      { name: "rooms", calls: ["users", "messages"] },
      { name: "messages", calls: ["rooms"] },
      { name: "edge", calls: ["messages"] },
    ];
    expect(() => startOrder(cyclic)).toThrow(ProcessCycleError);
    expect(() => startOrder(cyclic)).toThrow("the process table has a cycle: rooms → messages → rooms");
    expect(() => startOrder(cyclic, ["edge"])).toThrow("messages → rooms → messages");
    // What does not reach the cycle still starts.
    expect(names(startOrder(cyclic, ["users"]))).toEqual(["users"]);
    expect(() => startOrder([{ name: "self", calls: ["self"] }])).toThrow("self → self");
  });

  it("refuses a name the table does not have", () => {
    expect(() => startOrder(table, ["nobody" as "users"])).toThrow('no process named "nobody"');
    expect(() => startOrder([{ name: "a", calls: ["ghost"] }])).toThrow('no process named "ghost" (a calls it)');
  });
});

describe("Parley's process table", () => {
  it("has no cycle: every process can start", () => {
    expect(new Set(names(startOrder(PROCESSES)))).toEqual(new Set(PROCESSES.map((p) => p.name)));
  });

  it("starts the user service alone, auth after it, the edge after everything it calls and the socket tier", () => {
    expect(names(startOrder(PROCESSES, ["user"]))).toEqual(["user"]);
    expect(names(startOrder(PROCESSES, ["auth"]))).toEqual(["user", "auth"]);
    const all = names(startOrder(PROCESSES));
    expect(all.at(-1)).toBe("edge");
  });
});
