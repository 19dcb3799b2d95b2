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
    // One bundle for one page: React, React Flow and CodeMirror are ~950 kB minified (~300 kB gzipped).
    chunkSizeWarningLimit: 1200,
    rollupOptions: { input: "src/main.tsx" },
  },
});
