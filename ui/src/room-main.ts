// A consultation-room view window (`room.html`): which session it shows is the window's own
// (the app keeps it per window).
import { mount } from 'svelte';
import './app.css';
import RoomView from './screens/RoomView.svelte';
import { AppStore } from './lib/app.svelte';
import { tauriBackend } from './lib/tauri-backend';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
mount(RoomView, { target, props: { store: new AppStore(tauriBackend) } });
