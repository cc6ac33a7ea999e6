/** Entry point of the console bundle (scripts/build-console.ts → src/console/static/app.js). */
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { html, render } from 'htm/preact';
import { App } from './app.ts';
import { applyStoredTheme } from './theme.ts';

applyStoredTheme();
const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
