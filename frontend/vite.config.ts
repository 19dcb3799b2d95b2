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
    // The canvas chunk (CodeMirror, the editor) is ~520 kB minified, ~170 kB gzipped; the entry (React,
    // React Flow, the list and the live view) ~450 kB; ELK (auto-layout, loaded on its first use) 1.4 MB,
    // 430 kB gzipped. All have content-hashed names, served gzipped and cached for a year.
    chunkSizeWarningLimit: 1500,
    rollupOptions: { input: "src/main.tsx" },
  },
});
