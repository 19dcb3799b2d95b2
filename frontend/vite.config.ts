import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into Django's static files; the editor page (frontend/views.py) reads the manifest.
export default defineConfig({
  plugins: [react()],
  base: "/static/frontend/dist/",
  build: {
    outDir: "static/frontend/dist",
    emptyOutDir: true,
    manifest: true,
    // The canvas chunk (CodeMirror, dagre, the editor) is ~550 kB minified, ~185 kB gzipped; the entry
    // (React, React Flow, the list and the live view) ~450 kB. Both are loaded once and cached.
    chunkSizeWarningLimit: 1200,
    rollupOptions: { input: "src/main.tsx" },
  },
});
