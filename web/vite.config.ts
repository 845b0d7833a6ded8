// Vite: the dev server on :3000 proxies the API to a running edge (npm start);
// the build goes to web/dist with hashed files under assets/ (served by the edge).
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

const edge = process.env.PARLEY_EDGE_URL ?? "http://localhost:8080";

export default defineConfig({
  plugins: [solid()],
  server: {
    port: 3000,
    strictPort: true,
    proxy: {
      "/trpc": edge,
      "/api": edge,
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    target: "es2022",
    // The edge's CSP forbids inline scripts: keep every script an external, hashed file.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
