/** How numbers, sizes, rates, times and durations read on every page. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function num(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : integer.format(value);
}

/** Axis labels: one decimal below 10 (0.5 records/s is not 1), whole numbers above. */
export function axisNumber(value: number): string {
  return Math.abs(value) < 10 && value !== Math.round(value) ? decimal.format(value) : integer.format(value);
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return (unit === 0 ? integer.format(scaled) : decimal.format(scaled)) + ' ' + units[unit];
}

export function byteRate(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : bytes(value) + '/s';
}

export function rate(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : decimal.format(value) + '/s';
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 0) return 'forever';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return seconds + ' s';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes + ' min';
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours + ' h' + (minutes % 60 === 0 ? '' : ' ' + (minutes % 60) + ' min');
  return decimal.format(hours / 24) + ' d';
}

/** Local time with the date, to the millisecond (messages within a second are told apart). */
export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return '–';
  const date = new Date(ms);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
