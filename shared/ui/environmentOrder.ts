// Environments in the order people think of them, from the config (watches, then promotions' from -> to).
import type { CoordinationConfig } from '../config/coordination/schema.js';

/** Sorts environment names: those the config names, in its order; any others alphabetically after. */
export function environmentComparator(
  config: CoordinationConfig,
): (a: string, b: string) => number {
  const order: string[] = [];
  const add = (name: string) => {
    if (!order.includes(name.toLowerCase())) order.push(name.toLowerCase());
  };
  for (const promotion of config.promotions) {
    add(promotion.from);
    add(promotion.to);
  }
  for (const watch of config.watches) watch.environments.forEach(add);
  const rank = (name: string) => {
    const i = order.indexOf(name.toLowerCase());
    return i === -1 ? order.length : i;
  };
  return (a, b) => rank(a) - rank(b) || a.localeCompare(b);
}
