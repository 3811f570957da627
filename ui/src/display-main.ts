// The waiting-room display window (`display.html`).
import { mount } from 'svelte';
import './app.css';
import Display from './screens/Display.svelte';
import { tauriBackend } from './lib/tauri-backend';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
mount(Display, { target, props: { backend: tauriBackend } });
