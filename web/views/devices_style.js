// devices_style.js: adds views/devices.css to the page once (the device list
// and the device page share it; the shell's app.css stays the shell's).
export function useStyle() {
  if (document.getElementById('devices-css')) return;
  const link = document.createElement('link');
  link.id = 'devices-css';
  link.rel = 'stylesheet';
  link.href = new URL('./devices.css', import.meta.url).pathname;
  document.head.append(link);
}
