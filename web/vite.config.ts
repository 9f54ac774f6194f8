import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The build goes into the folder the Rust build script names (--outDir); assets are hashed so
// the server can cache them forever. No inline scripts: the page runs under a strict CSP.
export default defineConfig({
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: "dist",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080", "/healthz": "http://127.0.0.1:8080" },
  },
});
