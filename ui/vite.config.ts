import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The app is served from the Tauri binary (custom protocol); no CDN, no network fonts.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // Inline nothing as data: URLs of scripts; the CSP allows only 'self'.
    assetsInlineLimit: 0,
    // Three windows, three pages: the desk, the waiting-room display, a consultation room.
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        display: fileURLToPath(new URL('./display.html', import.meta.url)),
        room: fileURLToPath(new URL('./room.html', import.meta.url)),
      },
    },
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});
