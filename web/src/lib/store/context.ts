// The signed-in app's state (lib/chat.ts composes it) handed down to components.
import { createContext, useContext } from "solid-js";
import type { Chat } from "../chat";

const ChatContext = createContext<Chat>();
export const ChatProvider = ChatContext.Provider;

export function useChat(): Chat {
  const chat = useContext(ChatContext);
  if (!chat) throw new Error("useChat outside ChatProvider");
  return chat;
}
