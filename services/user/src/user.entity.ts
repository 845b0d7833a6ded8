import { defineEntity, type InferEntity } from "@mikro-orm/core";

const p = defineEntity.properties;

export const User = defineEntity({
  name: "User",
  tableName: "users",
  properties: {
    id: p.uuid().primary(),
    // Unique regardless of case through the lower(username) index of the migration.
    username: p.string().length(32),
    displayName: p.string().length(64),
    // Unique regardless of case through the lower(email) index; never shown to others.
    email: p.string().length(254).hidden(),
    avatarUrl: p.string().length(2048).default(""),
    statusText: p.string().length(140).default(""),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type User = InferEntity<typeof User>;
