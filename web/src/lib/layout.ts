// The narrow-screen layout: the sidebar is a drawer that the room header opens.
import { createContext, useContext, type Accessor } from "solid-js";

export interface Layout {
  sidebarOpen: Accessor<boolean>;
  openSidebar(): void;
  closeSidebar(): void;
}

export const LayoutContext = createContext<Layout>({ sidebarOpen: () => false, openSidebar() {}, closeSidebar() {} });
export const useLayout = () => useContext(LayoutContext);
