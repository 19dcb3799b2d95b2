import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Unit tests (`npm test`): pure modules and React components in jsdom; the browser tests are in
// tests/frontend/ (real Chromium against a live server).
export default defineConfig({
  plugins: [react()],
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
