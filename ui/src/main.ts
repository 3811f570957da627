import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { AppStore } from './lib/app.svelte';
import { tauriBackend } from './lib/tauri-backend';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
const store = new AppStore(tauriBackend);
mount(App, { target, props: { store } });
