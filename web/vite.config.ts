import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev -w web` serves the app with hot reload; RPCs go to the server on :8080.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    proxy: { "/peertobeer.signaling.v1.SignalingService": "http://localhost:8080", "/ice-servers": "http://localhost:8080" },
  },
});
